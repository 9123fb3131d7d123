"""An outside package with a method of its own: SimSiam with a VICReg-style variance term."""
