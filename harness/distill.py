"""Distillation (SimCLR v2 Sec. 3, Eq. 2-3; config.Distill), on the supervised loop (supervised.py).

A student (its own backbone keys, or the pretraining's: self-distillation; a fresh linear
classifier; trained from scratch) learns on the train split's images without their labels from the
fine-tuned teacher's softened predictions; with label_weight > 0 the labeled fraction's images add
the labeled cross-entropy (Eq. 3):

    L = (1 - w) x mean_i [ -sum_y softmax(t_i / T)_y log softmax(s_i / T)_y ]      (Eq. 2)
        + w x mean_j [ -log softmax(s_j)_{y_j} ]                                   (the labeled term)

The paper's text, as far as it could be read here (a summary of Sec. 2.3, not the PDF), says only
that the distillation loss and the labeled loss are combined by a weight; Eq. 3 as recalled (L) is
-(1 - alpha) x the sum over the labeled pairs - alpha x the sum over all images, so its alpha is
1 - w, and w = 1 trains on the labels alone. Each sum is a mean over its batch here. The colab's add_kd_loss
multiplies the distillation term by T^2 (equal at T = 1); Eq. 2 does not, and neither does this.
The teacher (eval mode, no gradients) and the student see the same crop-and-flip view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness.config import Distill, RunConfig
from harness.lars import LARS
from harness.nets import build_encoder
from harness.probe import labeled_subset
from harness.supervised import Supervised, cosine, fit, labeled_epoch, top1

LABELED_STREAM = 1  # labeled_epoch's salt: the labeled term's batches are a stream of their own


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Eq. 2: the cross-entropy between the teacher's softmax(teacher / T) and the student's
    softmax(student / T), averaged over the batch."""
    targets = F.softmax(teacher / temperature, dim=1)
    return -(targets * F.log_softmax(student / temperature, dim=1)).sum(1).mean()


def student_network(config: RunConfig, channels: int, num_classes: int, seed: int) -> nn.Sequential:
    """A fresh student: the `student` backbone (None: the pretraining's) and a linear classifier."""
    probe: Distill = config.probe
    torch.manual_seed(seed)
    encoder, dim = build_encoder(probe.student or config.backbone, channels, config.data.image_size)
    return nn.Sequential(encoder, nn.Linear(dim, num_classes))


def distill(teacher: nn.Module, data, config: RunConfig, seed: int, directory: Path | None = None,
            should_stop: Callable[[], bool] | None = None) -> tuple[float, nn.Module]:
    """Top-1 on the test split of a student distilled from `teacher`, and the student."""
    probe: Distill = config.probe
    device = next(teacher.parameters()).device
    teacher.eval()
    student = student_network(config, data.channels, data.num_classes, seed).to(device)
    everything = torch.arange(data.train_size(), device=data.train_labels().device)
    keep = labeled_subset(data.train_labels(), probe.label_fraction)
    batch, labeled_batch = min(probe.batch_size, len(everything)), min(probe.batch_size, len(keep))
    peak = probe.base_lr * batch / 256
    per_epoch = max(1, len(everything) // batch)
    w = probe.label_weight

    def batches(steps):
        unlabeled = labeled_epoch(data, everything, batch, steps, seed)  # its labels are never read
        if not w:
            return unlabeled
        return zip(unlabeled, labeled_epoch(data, keep, labeled_batch, steps, seed, LABELED_STREAM))

    def loss(pair) -> torch.Tensor:
        (images, _), labeled = pair if w else (pair, None)
        total = 0.0
        if w < 1:
            with torch.no_grad():
                targets = teacher(images)
            total = (1 - w) * distillation_loss(student(images), targets, probe.temperature)
        if w:
            total = total + w * F.cross_entropy(student(labeled[0]), labeled[1])
        return total

    optimizer = LARS(student.parameters(), lr=peak, momentum=0.9, weight_decay=probe.weight_decay,
                     classic_momentum=True)  # SimCLR's TF LARS (tf2/lars_optimizer.py)
    job = Supervised(student, optimizer, cosine(peak, probe.epochs * len(everything) // batch), per_epoch,
                     batches, loss, modes=student.train)
    fit(job, directory, should_stop)
    return top1(student.eval(), data.eval_batches("test")), student
