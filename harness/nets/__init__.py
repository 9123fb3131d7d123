from harness.nets.backbones import build_backbone
from harness.nets.heads import Block, mlp, predictor_blocks, projector_blocks

__all__ = ["Block", "build_backbone", "mlp", "predictor_blocks", "projector_blocks"]
