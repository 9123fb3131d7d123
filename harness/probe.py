"""The linear probe at the end of training, so tables can show linear accuracy like the papers.

The network is frozen and in eval mode; its features (the backbone's, or a projector layer's:
`probe.layer`) of the un-augmented train and test splits are computed once, standardized with the
train split's statistics, and a linear classifier is trained on the train split (or a class-balanced
`probe.label_fraction` of it) by SGD with momentum and a cosine lr; the result is top-1 on the test
split. The papers train their probe on augmented crops for 90-100 epochs; precomputed features make
it a matter of seconds, at the cost of holding the features in memory (ImageNet at 2048-d: ~10 GB).

Deterministic: zero-initialized weights and a shuffle drawn from a generator seeded by the run seed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from harness.config import LinearProbe
from harness.supervised import cosine


@torch.no_grad()
def extract(method, batches, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Features of a whole split from `method.features` in eval mode, and the labels."""
    was_training = method.training
    method.eval()
    feats, labels = [], []
    for images, y in batches:
        feats.append(method.features(images, layer).float())
        labels.append(y)
    method.train(was_training)
    return torch.cat(feats), torch.cat(labels)


def labeled_subset(labels: torch.Tensor, fraction: float) -> torch.Tensor:
    """Indices of a class-balanced `fraction` of the samples (at least one per class), the same for
    every run: a fixed generator, not the run seed, so runs differ only in what they vary."""
    if fraction >= 1:
        return torch.arange(len(labels), device=labels.device)
    generator = torch.Generator().manual_seed(0)
    cpu = labels.cpu()
    keep = []
    for c in torch.unique(cpu).tolist():
        members = torch.nonzero(cpu == c).flatten()
        order = members[torch.randperm(len(members), generator=generator)]
        keep.append(order[: max(1, round(fraction * len(members)))])
    return torch.sort(torch.cat(keep)).values.to(labels.device)


def fit_linear(train_x, train_y, test_x, test_y, num_classes: int, probe: LinearProbe, seed: int) -> float:
    """Train a linear classifier on standardized features; return its top-1 on the test features."""
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    weight = torch.zeros(train_x.shape[1], num_classes, device=train_x.device, requires_grad=True)
    bias = torch.zeros(num_classes, device=train_x.device, requires_grad=True)
    optimizer = torch.optim.SGD([weight, bias], lr=probe.lr, momentum=0.9, weight_decay=probe.weight_decay)
    n, batch = len(train_x), min(probe.batch_size, len(train_x))
    steps = math.ceil(n / batch)
    schedule = cosine(probe.lr, probe.epochs * steps)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(probe.epochs):
        order = torch.randperm(n, generator=generator).to(train_x.device)
        for i in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = float(schedule[epoch * steps + i])
            idx = order[i * batch : (i + 1) * batch]
            loss = F.cross_entropy(train_x[idx] @ weight + bias, train_y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return ((test_x @ weight + bias).argmax(1) == test_y).float().mean().item()


def linear_probe(method, data, probe: LinearProbe, seed: int) -> float:
    """Top-1 of a linear classifier on `method`'s frozen features (harness.data.DataPipeline `data`)."""
    train_x, train_y = extract(method, data.eval_batches("train"), probe.layer)
    test_x, test_y = extract(method, data.eval_batches("test"), probe.layer)
    keep = labeled_subset(train_y, probe.label_fraction)
    with torch.enable_grad():
        return fit_linear(train_x[keep], train_y[keep], test_x, test_y, data.num_classes, probe, seed)
