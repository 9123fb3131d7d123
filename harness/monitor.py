"""Monitors: the collapse detector (std of the l2-normalized output) and weighted kNN accuracy."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def output_std(z: torch.Tensor) -> float:
    """Per-channel std of z/||z|| over the batch, averaged over channels (SimSiam Sec. 4.1).
    About 1/sqrt(d) for a spread-out output, 0 when every sample maps to the same direction."""
    return F.normalize(z.float(), dim=1).std(dim=0).mean().item()


@torch.no_grad()
def embed(encoder: torch.nn.Module, batches) -> tuple[torch.Tensor, torch.Tensor]:
    """l2-normalized encoder features and labels of a whole split, in eval mode."""
    was_training = encoder.training
    encoder.eval()
    feats, labels = [], []
    for images, y in batches:
        feats.append(F.normalize(encoder(images).float(), dim=1))
        labels.append(y)
    encoder.train(was_training)
    return torch.cat(feats), torch.cat(labels)


@torch.no_grad()
def knn_top1(
    bank: torch.Tensor,
    bank_labels: torch.Tensor,
    queries: torch.Tensor,
    query_labels: torch.Tensor,
    k: int,
    temperature: float,
    num_classes: int,
    chunk: int = 1024,
) -> float:
    """Weighted kNN (Wu et al. 2018, InstDisc): each of the k nearest bank features votes for its
    class with weight exp(cos / T). Features must be l2-normalized. Chunked to bound memory."""
    k = min(k, len(bank))
    correct = 0
    for start in range(0, len(queries), chunk):
        sim = queries[start : start + chunk] @ bank.T
        top_sim, top_idx = sim.topk(k, dim=1)
        votes = torch.zeros(len(sim), num_classes, device=sim.device)
        votes.scatter_add_(1, bank_labels[top_idx], (top_sim / temperature).exp())
        correct += (votes.argmax(dim=1) == query_labels[start : start + chunk]).sum().item()
    return correct / len(queries)
