"""Fine-tuning, as SimCLR v2 evaluates (Sec. 2, Fig. 5, Table 1), on the supervised loop (supervised.py).

A deep copy of the encoder and of the projector's first `probe.layer` layers (0: none, v1's practice
of discarding the head; 1: v2's, its first layer kept), topped by a new linear classifier, is trained
end to end on the class-balanced `probe.label_fraction` of the train split (probe.py's
labeled_subset: the same images the linear probe reads), with crop-and-flip views and BatchNorm in
training mode; the result is top-1 on the un-augmented test split, in eval mode. The pretrained
network is untouched: only the copy learns, and it is what a distillation reads as its teacher.

The optimizer is the tf2 README's 1%-label command (config.FinetuneProbe): LARS with classic momentum (the lr inside the momentum buffer, as tf2/lars_optimizer.py), momentum 0.9, no
weight decay, lr 0.005 x sqrt(batch) decayed by a cosine, no warm-up; the zero-initialized classifier
is neither LARS-adapted nor decayed (tf2/model.py). It runs the official step count, N x epochs // B
+ 1 (tf2/model.py get_train_steps; finetune_steps), on batches that run on across passes as tf.data's
repeat does (supervised.stream), a checkpoint every round(N / B) steps (tf2/run.py's
epoch_steps). On one process (rank 0), with the batch's BN statistics where the paper's are global
over its TPU cores.

Deterministic: the classifier starts at zero and the batches and views come from the seed.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness.config import FinetuneProbe
from harness.lars import LARS
from harness.nets import mlp_prefix
from harness.probe import labeled_subset
from harness.supervised import Supervised, cosine, fit, labeled_epoch, top1


def finetune_steps(n: int, epochs: int, batch: int) -> int:
    """SimCLR's step count (google-research/simclr tf2/model.py get_train_steps): N x epochs // B + 1."""
    return n * epochs // batch + 1


def finetune_network(method, layer: int, num_classes: int, sample: torch.Tensor) -> nn.Sequential:
    """Copies of `method`'s encoder and first `layer` projector layers, and a classifier at zero on
    their output (its width read from `sample`, a few images)."""
    body = copy.deepcopy(nn.Sequential(method.encoder, mlp_prefix(method.projector, layer))).eval()
    with torch.no_grad():
        classifier = nn.Linear(body(sample).shape[1], num_classes, device=sample.device)
    nn.init.zeros_(classifier.weight)
    nn.init.zeros_(classifier.bias)
    return nn.Sequential(body, classifier)


def finetuned(method, data, probe: FinetuneProbe, seed: int, directory: Path | None = None,
              should_stop: Callable[[], bool] | None = None) -> tuple[float, nn.Module]:
    """Top-1 on the test split of a copy of `method` fine-tuned on the labeled subset, and that copy."""
    keep = labeled_subset(data.train_labels(), probe.label_fraction)
    batch = min(probe.batch_size, len(keep))
    test_images, _ = next(iter(data.eval_batches("test")))
    network = finetune_network(method, probe.layer, data.num_classes, test_images[:2])
    body, classifier = network
    lr = probe.base_lr * math.sqrt(batch)
    optimizer = LARS([{"params": list(body.parameters())}, {"params": list(classifier.parameters()), "adapt": False}],
                     lr=lr, momentum=0.9, weight_decay=0.0,
                     classic_momentum=True)  # SimCLR's TF LARS (tf2/lars_optimizer.py)

    def loss(labeled) -> torch.Tensor:
        images, labels = labeled
        return F.cross_entropy(network(images), labels)

    job = Supervised(network, optimizer, cosine(lr, finetune_steps(len(keep), probe.epochs, batch)),
                     max(1, round(len(keep) / batch)), lambda steps: labeled_epoch(data, keep, batch, steps, seed),
                     loss, modes=network.train)
    fit(job, directory, should_stop)
    return top1(network.eval(), data.eval_batches("test")), network


def finetune(method, data, probe: FinetuneProbe, seed: int) -> float:
    """Top-1 on the test split of a copy of `method` fine-tuned on the labeled subset (no checkpoint)."""
    return finetuned(method, data, probe, seed)[0]
