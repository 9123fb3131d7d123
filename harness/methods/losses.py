"""The losses of BYOL, SimCLR and MoCo v3, on projected (not yet normalized) batches [N, d]."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def regression_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """BYOL: ||p/|p| - z/|z|||^2 = 2 - 2 cos(p, z), mean over the batch."""
    return (2 - 2 * F.cosine_similarity(p, z, dim=1)).mean()


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent: each of the 2N views picks its other view among the 2N - 1 others
    (cosine / temperature, softmax cross-entropy), mean over all 2N."""
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, positives)


def info_nce(q: torch.Tensor, k: torch.Tensor, temperature: float) -> torch.Tensor:
    """MoCo v3: query i against every key of the batch, its own key the positive, scaled by
    2 * temperature as in the official code (it makes the loss's scale independent of T)."""
    q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    logits = q @ k.T / temperature
    return F.cross_entropy(logits, torch.arange(len(q), device=q.device)) * 2 * temperature


def byol_contrastive_term(q: torch.Tensor, t_same: torch.Tensor, t_other: torch.Tensor, temperature: float) -> torch.Tensor:
    """BYOL Sec. 5 (Table 5b), the negatives of InfoNCE_{alpha,beta}: for each online prediction q_i,
    2 alpha * log( sum_{j != i} exp(cos(q_i, t_same_j) / alpha) + sum_j exp(cos(q_i, t_other_j) / alpha) ),
    mean over i. t_same: targets of q's own view; t_other: of the other view (its positive among them)."""
    q, t_same, t_other = (F.normalize(x, dim=1) for x in (q, t_same, t_other))
    same = (q @ t_same.T / temperature).masked_fill(torch.eye(len(q), dtype=torch.bool, device=q.device), float("-inf"))
    other = q @ t_other.T / temperature
    return 2 * temperature * torch.logsumexp(torch.cat([same, other], dim=1), dim=1).mean()
