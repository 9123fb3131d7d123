"""Projector and predictor MLPs, declared as per-layer blocks so BN placement is explicit data.

A block is (in_dim, out_dim, bn, relu, bias); `bn` is None (no BN), "affine" (scale and shift),
"scale" (a scale only: SimCLR v2's final BN, center=False) or "plain" (affine=False). A linear layer
followed by BN has no bias (BN's shift replaces it), as in the official SimSiam code; one without BN
has a bias if `bias` says so (`heads.output_bias` for the output layers).
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
    bias: bool = True


def batch_norm(dim: int, kind: str) -> nn.BatchNorm1d:
    bn = nn.BatchNorm1d(dim, affine=kind != "plain")
    if kind == "scale":  # Keras's center=False: the shift stays at its zero init, never trained
        bn.bias.requires_grad_(False)
    return bn


def mlp(blocks: list[Block]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for b in blocks:
        layers.append(nn.Linear(b.in_dim, b.out_dim, bias=b.bn is None and b.bias))
        if b.bn is not None:
            layers.append(batch_norm(b.out_dim, b.bn))
        if b.relu:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _output_bn(heads: Heads) -> str:
    if not heads.output_bn_affine:
        return "plain"
    return "affine" if heads.output_bn_center else "scale"


def projector_blocks(in_dim: int, layers: int, hidden: int, out: int, heads: Heads) -> list[Block]:
    hidden_bn = None if heads.bn == "none" else "affine"
    out_bn = _output_bn(heads) if heads.bn in ("hidden_and_projector_output", "all") else None
    dims = [in_dim] + [hidden] * (layers - 1) + [out]
    blocks = [Block(dims[i], dims[i + 1], hidden_bn, True) for i in range(layers - 1)]
    return blocks + [Block(dims[-2], out, out_bn, False, heads.output_bias)]


def predictor_blocks(dim: int, hidden: int, heads: Heads, layers: int = 2) -> list[Block]:
    """SimSiam's and BYOL's predictor: dim -> hidden (BN, ReLU) -> ... -> dim, no ReLU on the output.
    One layer is a plain linear map dim -> dim (BYOL Table 14a)."""
    hidden_bn = None if heads.bn == "none" else "affine"
    # With bn "all", an output BN as the projector's (MoCo v3's ViT predictor: affine=False).
    out_bn = _output_bn(heads) if heads.bn == "all" else None
    dims = [dim] + [hidden] * (layers - 1) + [dim]
    blocks = [Block(dims[i], dims[i + 1], hidden_bn, True) for i in range(layers - 1)]
    return blocks + [Block(dims[-2], dim, out_bn, False, heads.output_bias)]


def mlp_prefix(net: nn.Sequential, layers: int) -> nn.Sequential:
    """The first `layers` blocks of an `mlp` (each block starts at a Linear), sharing its modules."""
    starts = [i for i, module in enumerate(net) if isinstance(module, nn.Linear)]
    if not 0 <= layers <= len(starts):
        raise ValueError(f"an MLP of {len(starts)} layers has no prefix of {layers}")
    return net[: starts[layers]] if layers < len(starts) else net
