"""harness: re-run the ablations of SimSiam, BYOL, SimCLR v2 and MoCo v3 from declarative studies."""

__version__ = "0.1.0"
