"""The paper's linear evaluation (config.PaperLinear): each method's main_lincls.py (or its equivalent)
as its official code runs it, on the supervised loop (supervised.py).

The pretrained encoder (and the projector's first `probe.layer` layers) is frozen and stays in eval
mode, BatchNorm's statistics included (main_lincls.py: "it is not legitimate to change any part of
the pre-trained model"); a fresh linear classifier on its features is trained on augmented crops
(RandomResizedCrop scale (crop_min_scale, 1) + flip, no colour) of the train split (or its labeled
fraction); the result is top-1 on the un-augmented test split. The step count is epochs x N // B
(BYOL's max_steps; main_lincls.py's DataLoader keeps a last partial batch each epoch, a step more
an epoch on smaller batches: stated, not modelled).

Against the official code: SimSiam's apex LARC adapts the classifier's bias too, harness/lars.py
leaves 1-d tensors to plain momentum; torchvision's crops at the preset's image size, where BYOL
and SimCLR crop with TF's sampler and resize bicubically (FIDELITY 5).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness.config import PaperLinear, RunConfig
from harness.data import build_data
from harness.lars import LARS
from harness.nets import mlp_prefix
from harness.probe import labeled_subset
from harness.supervised import Supervised, cosine, fit, labeled_epoch, top1


def classifier(in_dim: int, num_classes: int, init: str, seed: int, device) -> nn.Linear:
    """The fresh linear classifier, its bias at 0 and its weight as `init` says (config.PaperLinear)."""
    layer = nn.Linear(in_dim, num_classes, device=device)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.bias.zero_()
        if init == "zeros":
            layer.weight.zero_()
        elif init == "normal":  # main_lincls.py: normal_(mean=0.0, std=0.01)
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * 0.01)
        else:  # haiku's Linear: truncated normal, std 1 / sqrt(fan_in), cut at 2 std
            w = torch.empty(layer.weight.shape)
            nn.init.trunc_normal_(w, std=1 / math.sqrt(in_dim), a=-2 / math.sqrt(in_dim), b=2 / math.sqrt(in_dim),
                                  generator=generator)
            layer.weight.copy_(w)
    return layer


def optimizer(params, probe: PaperLinear, lr: float) -> torch.optim.Optimizer:
    if probe.optimizer == "lars":  # SimSiam: LARC(SGD(lr, momentum, wd), trust 0.001, clip False)
        return LARS(params, lr=lr, momentum=probe.momentum, weight_decay=probe.weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=probe.momentum, weight_decay=probe.weight_decay,
                           nesterov=probe.nesterov)


def crops(config: RunConfig, probe: PaperLinear, device):
    """The data with the protocol's crop and flip as its labeled views (only they are read)."""
    augment = config.data.augment.model_copy(update={"crop_min_scale": probe.crop_min_scale, "flip": probe.flip})
    return build_data(config.model_copy(update={"data": config.data.model_copy(update={"augment": augment})}), 1, device)


def paper_linear(method, config: RunConfig, seed: int, directory: Path | None = None,
                 should_stop: Callable[[], bool] | None = None) -> tuple[float, nn.Module]:
    """Top-1 of the protocol's linear classifier on `method`'s frozen features, and the frozen body
    with that classifier."""
    probe: PaperLinear = config.probe
    device = next(method.parameters()).device
    data = crops(config, probe, device)
    body = nn.Sequential(method.encoder, mlp_prefix(method.projector, probe.layer))
    was_training, trainable = method.training, [p.requires_grad for p in body.parameters()]
    for p in body.parameters():
        p.requires_grad_(False)
    try:
        return _fit(body, data, probe, seed, directory, should_stop)
    finally:  # the pretrained method as it was: its modes and which of its weights train
        method.train(was_training)
        for p, flag in zip(body.parameters(), trainable):
            p.requires_grad_(flag)


def _fit(body: nn.Module, data, probe: PaperLinear, seed: int, directory: Path | None,
         should_stop: Callable[[], bool] | None) -> tuple[float, nn.Module]:
    keep = labeled_subset(data.train_labels(), probe.label_fraction)
    batch = min(probe.batch_size, len(keep))
    with torch.no_grad():
        dim = body.eval()(next(iter(data.eval_batches("test")))[0][:2]).shape[1]
    head = classifier(dim, data.num_classes, probe.classifier_init, seed, next(body.parameters()).device)
    network = nn.Sequential(body, head)
    peak = probe.base_lr * batch / 256
    per_epoch = max(1, len(keep) // batch)
    schedule = cosine(peak, probe.epochs * len(keep) // batch, per_epoch if probe.decay == "epoch" else 1)

    def loss(labeled) -> torch.Tensor:
        images, labels = labeled
        with torch.no_grad():
            features = body(images)
        return F.cross_entropy(head(features), labels)

    job = Supervised(head, optimizer(head.parameters(), probe, peak), schedule, per_epoch,
                     lambda steps: labeled_epoch(data, keep, batch, steps, seed), loss, modes=network.eval)
    fit(job, directory, should_stop)
    return top1(network.eval(), data.eval_batches("test")), network
