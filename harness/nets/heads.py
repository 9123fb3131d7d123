"""Projector and predictor MLPs, declared as per-layer blocks so BN placement is explicit data.

A block is (in_dim, out_dim, bn, relu); `bn` is None (no BN), "affine" or "plain" (affine=False).
A linear layer followed by BN has no bias (BN's shift replaces it), as in the official SimSiam code.
"""

from __future__ import annotations

from typing import NamedTuple

import torch.nn as nn

from harness.config import Heads


class Block(NamedTuple):
    in_dim: int
    out_dim: int
    bn: str | None
    relu: bool


def mlp(blocks: list[Block]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for b in blocks:
        layers.append(nn.Linear(b.in_dim, b.out_dim, bias=b.bn is None))
        if b.bn is not None:
            layers.append(nn.BatchNorm1d(b.out_dim, affine=b.bn == "affine"))
        if b.relu:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def projector_blocks(in_dim: int, layers: int, hidden: int, out: int, heads: Heads) -> list[Block]:
    hidden_bn = None if heads.bn == "none" else "affine"
    out_bn = None
    if heads.bn in ("hidden_and_projector_output", "all"):
        out_bn = "affine" if heads.output_bn_affine else "plain"
    dims = [in_dim] + [hidden] * (layers - 1) + [out]
    blocks = [Block(dims[i], dims[i + 1], hidden_bn, True) for i in range(layers - 1)]
    return blocks + [Block(dims[-2], out, out_bn, False)]


def predictor_blocks(dim: int, hidden: int, heads: Heads, layers: int = 2) -> list[Block]:
    """SimSiam's and BYOL's predictor: dim -> hidden (BN, ReLU) -> ... -> dim, no ReLU on the output.
    One layer is a plain linear map dim -> dim (BYOL Table 14a)."""
    hidden_bn = None if heads.bn == "none" else "affine"
    out_bn = None
    if heads.bn == "all":  # as the projector's output BN (MoCo v3's predictor: affine=False)
        out_bn = "affine" if heads.output_bn_affine else "plain"
    dims = [dim] + [hidden] * (layers - 1) + [dim]
    blocks = [Block(dims[i], dims[i + 1], hidden_bn, True) for i in range(layers - 1)]
    return blocks + [Block(dims[-2], dim, out_bn, False)]


def mlp_prefix(net: nn.Sequential, layers: int) -> nn.Sequential:
    """The first `layers` blocks of an `mlp` (each block starts at a Linear), sharing its modules."""
    starts = [i for i, module in enumerate(net) if isinstance(module, nn.Linear)]
    if not 0 <= layers <= len(starts):
        raise ValueError(f"an MLP of {len(starts)} layers has no prefix of {layers}")
    return net[: starts[layers]] if layers < len(starts) else net
