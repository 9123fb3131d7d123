"""The losses of BYOL, SimCLR and MoCo v3, on projected (not yet normalized) batches [N, d].

With several ranks, the contrastive losses compare this rank's anchors with the whole global batch
(harness.distributed.gather), as the official code does; each returns the mean over this rank's
anchors, and the ranks' means average to the global batch's loss. In a single process the gather is
the identity and the losses are the plain in-batch ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.distributed import gather


def regression_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """BYOL: ||p/|p| - z/|z|||^2 = 2 - 2 cos(p, z), mean over the batch."""
    return (2 - 2 * F.cosine_similarity(p, z, dim=1)).mean()


def _mask(rows: torch.Tensor, columns: torch.Tensor, width: int) -> torch.Tensor:
    """A [len(rows), width] boolean mask, true at (i, columns[i]): the anchors' own entries."""
    mask = torch.zeros(len(rows), width, dtype=torch.bool, device=rows.device)
    mask[rows, columns] = True
    return mask


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent: each of the 2N views picks its other view among the 2N - 1 others of the
    global batch (cosine / temperature, softmax cross-entropy), mean over the 2N. The paper's 1/2N
    average, as lightly's NTXentLoss; the official tf2 code sums the two directions' means (2x this).
    The gathered views keep their gradient (SimCLR's cross-replica concat does too)."""
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # this rank's 2n anchors
    (k1, offset), (k2, _) = gather(z[:n]), gather(z[n:])
    big_n = len(k1)
    own = torch.arange(n, device=z.device) + offset  # the anchors' rows in the global batch
    rows = torch.arange(2 * n, device=z.device)
    logits = (z @ torch.cat([k1, k2]).T / temperature).masked_fill(
        _mask(rows, torch.cat([own, own + big_n]), 2 * big_n), float("-inf"))
    return F.cross_entropy(logits, torch.cat([own + big_n, own]))


def with_gradient_scale(loss: torch.Tensor, scale: float) -> torch.Tensor:
    """`loss` itself, whose gradient is `scale` times its own: what an objective `scale` x the loss
    trains, while the loss's value (the curves' and the report's) keeps its meaning."""
    return loss + (scale - 1) * (loss - loss.detach())


def info_nce(q: torch.Tensor, k: torch.Tensor, temperature: float) -> torch.Tensor:
    """MoCo v3: query i against every key of the global batch, its own key the positive, scaled by
    2 * temperature as in the official code (it makes the loss's scale independent of T). The keys
    come from the momentum encoder, without gradient, as through concat_all_gather."""
    q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    k, offset = gather(k)
    logits = q @ k.T / temperature
    return F.cross_entropy(logits, torch.arange(len(q), device=q.device) + offset) * 2 * temperature


def byol_contrastive_term(q: torch.Tensor, t_same: torch.Tensor, t_other: torch.Tensor, temperature: float) -> torch.Tensor:
    """BYOL Sec. 5 (Table 5b), the negatives of InfoNCE_{alpha,beta}: for each online prediction q_i,
    2 alpha * log( sum_{j != i} exp(cos(q_i, t_same_j) / alpha) + sum_j exp(cos(q_i, t_other_j) / alpha) ),
    mean over i, j over the global batch. t_same: targets of q's own view; t_other: of the other view
    (its positive among them). The targets carry a gradient only where the caller's do (BYOL's
    method.stop_gradient false: Table 5b's rows without a target network)."""
    q, t_same, t_other = (F.normalize(x, dim=1) for x in (q, t_same, t_other))
    (t_same, offset), (t_other, _) = gather(t_same), gather(t_other)
    rows = torch.arange(len(q), device=q.device)
    same = (q @ t_same.T / temperature).masked_fill(_mask(rows, rows + offset, len(t_same)), float("-inf"))
    other = q @ t_other.T / temperature
    return 2 * temperature * torch.logsumexp(torch.cat([same, other], dim=1), dim=1).mean()
