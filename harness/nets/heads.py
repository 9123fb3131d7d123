"""The projector and predictor MLPs, one builder for both, with BN placement as explicit data.

A head is (layers - 1) hidden blocks Linear -> BN -> ReLU, then the output Linear, followed by a BN
where the config's `heads.bn` puts one (SimSiam Table 3). `heads.bn` is decoded in one place,
`head_blocks`. A Linear followed by BN has no bias (BN's shift replaces it), as in the official
SimSiam code; an output Linear without BN has one if `heads.output_bias` says so.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch.nn as nn

from harness.config import Heads, Predictor, Projector


class Norm(NamedTuple):
    """A BatchNorm after a Linear: with a learned scale (`affine`), and a learned shift (`center`;
    center=False is Keras's, SimCLR v2's final BN: the shift stays at its zero init)."""

    affine: bool = True
    center: bool = True


class Block(NamedTuple):
    in_dim: int
    out_dim: int
    norm: Norm | None  # None: no BN
    relu: bool
    bias: bool = True  # without BN only


# Which heads end in a BN, for each `heads.bn`: hidden BNs are in both heads unless "none".
OUTPUT_BN = {"none": (), "hidden": (), "hidden_and_projector_output": ("projector",), "all": ("projector", "predictor")}


def head_blocks(head: Literal["projector", "predictor"], in_dim: int, hidden: int, out: int, layers: int,
                heads: Heads) -> list[Block]:
    hidden_norm = None if heads.bn == "none" else Norm()
    # The output BN is the official codes' plain one (affine=False) unless heads.output_bn_affine.
    out_norm = Norm(heads.output_bn_affine, heads.output_bn_center) if head in OUTPUT_BN[heads.bn] else None
    dims = [in_dim] + [hidden] * (layers - 1) + [out]
    blocks = [Block(dims[i], dims[i + 1], hidden_norm, True) for i in range(layers - 1)]
    return blocks + [Block(dims[-2], out, out_norm, False, heads.output_bias)]


def mlp(blocks: list[Block]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for b in blocks:
        layers.append(nn.Linear(b.in_dim, b.out_dim, bias=b.norm is None and b.bias))
        if b.norm is not None:
            layers.append(batch_norm(b.out_dim, b.norm))
        if b.relu:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def batch_norm(dim: int, norm: Norm) -> nn.BatchNorm1d:
    bn = nn.BatchNorm1d(dim, affine=norm.affine)
    if norm.affine and not norm.center:  # the shift stays at its zero init, never trained
        bn.bias.requires_grad_(False)
    return bn


def projector(in_dim: int, p: Projector, heads: Heads) -> nn.Sequential:
    """in_dim -> hidden (BN, ReLU) -> ... -> out_dim (+ output BN)."""
    return mlp(head_blocks("projector", in_dim, p.hidden_dim, p.out_dim, p.layers, heads))


def predictor(dim: int, q: Predictor, heads: Heads) -> nn.Sequential:
    """SimSiam's and BYOL's predictor: dim -> hidden (BN, ReLU) -> ... -> dim, no ReLU on the output.
    One layer is a plain linear map dim -> dim (BYOL Table 14a)."""
    return mlp(head_blocks("predictor", dim, q.hidden_dim, dim, q.layers, heads))


def mlp_prefix(net: nn.Sequential, layers: int) -> nn.Sequential:
    """The first `layers` blocks of an `mlp` (each block starts at a Linear), sharing its modules."""
    starts = [i for i, module in enumerate(net) if isinstance(module, nn.Linear)]
    if not 0 <= layers <= len(starts):
        raise ValueError(f"an MLP of {len(starts)} layers has no prefix of {layers}")
    return net[: starts[layers]] if layers < len(starts) else net
