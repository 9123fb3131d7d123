from harness.nets.backbones import build_backbone, build_encoder
from harness.nets.heads import mlp_prefix, predictor, projector

__all__ = ["build_backbone", "build_encoder", "mlp_prefix", "predictor", "projector"]
