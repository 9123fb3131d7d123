"""MoCo v3's Vision Transformer (its vits.py): timm's VisionTransformer, as the official code and
DINO build on, without its classifier, for any image size, channel count and depth (ViT-S/16 by
default; `tiny` uses 16 px and 4 px patches). Its forward returns the class token after the final
LayerNorm, the input of MoCo v3's projector.

What vits.py changes from timm's ViT, done here the same way: a fixed 2-D sin-cos position
embedding (a zero one for the class token), Xavier-uniform init of every Linear (Q, K and V each as a
square matrix; timm's `moco` init) and of the patch projection, the class token at std 1e-6.
MoCo v3's stability fix is a switch: the patch projection frozen at its random init (`stop_grad_conv1`),
so it gets no gradient and no optimizer update.

Sec. 6.2's design ablations are switches on timm's own options: `pos_embed` learned (timm's trained
embedding, its init) or none (timm's pos_embed="none": no position at all) instead of the sin-cos
one, and `pool` avg (timm's class_token=False, global_pool="avg": the mean of the patch tokens, then
the LayerNorm, timm's fc_norm) instead of the class token.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn as nn
from timm.models.vision_transformer import VisionTransformer

from harness.config import ViT


def sincos_2d(grid_h: int, grid_w: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """MoCo v3's build_2d_sincos_position_embedding: [grid_h * grid_w, dim], a quarter of the
    channels each sin and cos of the two patch coordinates at geometric frequencies."""
    w, h = torch.meshgrid(torch.arange(grid_w, dtype=torch.float32), torch.arange(grid_h, dtype=torch.float32),
                          indexing="ij")  # the official code's meshgrid(grid_w, grid_h), torch's old default
    omega = 1.0 / temperature ** (torch.arange(dim // 4, dtype=torch.float32) / (dim // 4))
    out_w, out_h = torch.outer(w.flatten(), omega), torch.outer(h.flatten(), omega)
    return torch.cat([out_w.sin(), out_w.cos(), out_h.sin(), out_h.cos()], dim=1)


def vit(cfg: ViT, in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    net = VisionTransformer(
        img_size=image_size,
        patch_size=cfg.patch_size,
        in_chans=in_channels,
        num_classes=0,  # no classifier: the pooled class token
        embed_dim=cfg.dim,
        depth=cfg.depth,
        num_heads=cfg.heads,
        mlp_ratio=cfg.mlp_ratio,
        qkv_bias=True,
        norm_layer=partial(nn.LayerNorm, eps=1e-6),
        weight_init="moco",  # vits.py's Linear init; the patch projection and position embedding below
        # The defaults (class token, timm's learned embedding replaced below by the sin-cos one) build
        # the same modules from the same random draws as before these switches existed.
        **({} if cfg.pool == "token" else {"class_token": False, "global_pool": "avg"}),
        **({"pos_embed": "none"} if cfg.pos_embed == "none" else {}),
    )
    if cfg.pos_embed == "sincos":
        # Fixed position embedding; the class token's, where there is one, is zero (no position).
        pos = sincos_2d(*net.patch_embed.grid_size, cfg.dim)
        cls = [torch.zeros(1, cfg.dim)] if net.cls_token is not None else []
        net.pos_embed = nn.Parameter(torch.cat([*cls, pos])[None], requires_grad=False)
    # Xavier uniform for the patch projection as a Linear of in_channels * p * p -> dim. vits.py writes
    # 3 * p * p (RGB); here the real channel count, so 1-channel images get the same rule.
    proj = net.patch_embed.proj
    bound = math.sqrt(6.0 / (in_channels * cfg.patch_size**2 + cfg.dim))
    nn.init.uniform_(proj.weight, -bound, bound)
    nn.init.zeros_(proj.bias)
    if cfg.frozen_patch_projection:
        proj.requires_grad_(False)
    return net, cfg.dim
