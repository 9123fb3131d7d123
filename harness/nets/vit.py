"""A small Vision Transformer for MoCo v3: torchvision's VisionTransformer without its classifier,
for any image size, channel count and depth (ViT-S/16 by default; `tiny` uses 16 px and 4 px patches).

MoCo v3's one stability fix is a switch here: the patch projection (conv_proj) frozen at its random
init, so it gets no gradient and no optimizer update. Differences from the MoCo v3 code: torchvision
learns its position embedding (MoCo v3 fixes a 2-D sin-cos one) and initializes the patch
projection with a truncated normal (MoCo v3: Xavier uniform).
"""

from __future__ import annotations

import math

import torch.nn as nn
from torchvision.models import VisionTransformer

from harness.config import ViT


def vit(cfg: ViT, in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    net = VisionTransformer(
        image_size=image_size,
        patch_size=cfg.patch_size,
        num_layers=cfg.depth,
        num_heads=cfg.heads,
        hidden_dim=cfg.dim,
        mlp_dim=cfg.mlp_ratio * cfg.dim,
    )
    if in_channels != 3:  # torchvision builds an RGB patch projection; same init, other channel count
        net.conv_proj = nn.Conv2d(in_channels, cfg.dim, cfg.patch_size, stride=cfg.patch_size)
        nn.init.trunc_normal_(net.conv_proj.weight, std=math.sqrt(1 / (in_channels * cfg.patch_size**2)))
        nn.init.zeros_(net.conv_proj.bias)
    net.heads = nn.Identity()  # forward returns the class token after the final LayerNorm
    if cfg.frozen_patch_projection:
        net.conv_proj.requires_grad_(False)
    return net, cfg.dim
