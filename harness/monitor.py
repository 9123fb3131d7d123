"""Monitors: the collapse detectors (std of the l2-normalized output, before and after the projector's
output BN, and its effective rank) and weighted kNN accuracy.

All are cheap by construction: the collapse monitors are taken on the batch the training step already computed,
and a kNN evaluation embeds each split once, in large no-grad batches, then compares the queries
with the bank in chunks of bounded size, every protocol (k, T) sharing one similarity and one top-k.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from harness.config import KnnProtocol

# Similarities held at once by a kNN chunk: 2**25 floats are 128 MB, whatever the bank's size.
KNN_CHUNK_ELEMENTS = 2**25


def knn_chunk(bank_size: int) -> int:
    """Queries per kNN chunk: as many as keep the chunk's similarities within KNN_CHUNK_ELEMENTS."""
    return max(1, KNN_CHUNK_ELEMENTS // bank_size)


def output_std(z: torch.Tensor) -> float:
    """Per-channel std of z/||z|| over the batch, averaged over channels (SimSiam Sec. 4.1).
    About 1/sqrt(d) for a spread-out output, 0 when every sample maps to the same direction."""
    return F.normalize(z.float(), dim=1).std(dim=0).mean().item()


def collapse_monitors(embedding: torch.Tensor, embedding_pre_bn: torch.Tensor) -> dict[str, float]:
    """The per-step collapse monitors of one training batch (harness.methods.base.StepOutput's
    embeddings): the std of z/||z|| (SimSiam's measure) and the same std before the projector's output
    BN. The effective rank (an SVD, a few ms) is taken once per epoch, on its last batch."""
    return {"output_std": output_std(embedding), "output_std_pre_bn": output_std(embedding_pre_bn)}


def effective_rank(z: torch.Tensor) -> float:
    """exp of the entropy of the normalized singular values of the batch's centered z (Roy & Vetterli
    2007; RankMe, Garrido et al. 2023): up to min(batch, d) for a spread-out output, 1 when every
    sample lies on one line. Per-channel scaling (a BN without affine) cannot raise it past the
    rank of what the network computed."""
    s = torch.linalg.svdvals((z - z.mean(dim=0)).float())
    p = s / s.sum().clamp_min(1e-12)
    return math.exp(-(p * p.clamp_min(1e-12).log()).sum().item())


@torch.inference_mode()
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


@torch.inference_mode()
def knn_accuracies(
    bank: torch.Tensor,
    bank_labels: torch.Tensor,
    queries: torch.Tensor,
    query_labels: torch.Tensor,
    protocols: Sequence[KnnProtocol],
    num_classes: int,
    chunk: int | None = None,
) -> dict[str, float]:
    """Weighted kNN top-1 (Wu et al. 2018, InstDisc) for each protocol: each of the k nearest bank
    features votes for its class with weight exp(cos / T). Features must be l2-normalized.

    One pass for all protocols: a chunk of queries is compared with the bank once, and its
    top-k_max neighbours (sorted) serve every k as a prefix. `chunk` queries at a time (default:
    knn_chunk, so memory stays bounded whatever the bank's size)."""
    k_max = min(max(p.k for p in protocols), len(bank))
    chunk = chunk or knn_chunk(len(bank))
    correct = {p.name: torch.zeros((), dtype=torch.long, device=queries.device) for p in protocols}
    for start in range(0, len(queries), chunk):
        sim = queries[start : start + chunk] @ bank.T
        top_sim, top_idx = sim.topk(k_max, dim=1)
        top_labels = bank_labels[top_idx]
        truth = query_labels[start : start + chunk]
        for p in protocols:
            k = min(p.k, k_max)
            votes = torch.zeros(len(sim), num_classes, device=sim.device)
            votes.scatter_add_(1, top_labels[:, :k], (top_sim[:, :k] / p.temperature).exp())
            correct[p.name] += (votes.argmax(dim=1) == truth).sum()
    # One device-to-host copy per protocol, after the whole pass.
    return {name: n.item() / len(queries) for name, n in correct.items()}

