from harness.nets.backbones import build_backbone, build_encoder
from harness.nets.heads import Block, mlp, mlp_prefix, predictor_blocks, projector_blocks

__all__ = ["Block", "build_backbone", "build_encoder", "mlp", "mlp_prefix", "predictor_blocks", "projector_blocks"]
