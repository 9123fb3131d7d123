"""Fine-tuning at the end of training, as SimCLR v2 evaluates (Sec. 2, Fig. 5, Table 1).

A deep copy of the encoder and of the projector's first `probe.layer` layers (0: none, v1's practice
of discarding the head; 1: v2's, its first layer kept), topped by a new linear classifier, is trained
end to end on the class-balanced `probe.label_fraction` of the train split (probe.py's
labeled_subset: the same images the linear probe reads), with crop-and-flip views and BatchNorm in
training mode; the result is top-1 on the un-augmented test split, in eval mode. The trained network
and the rest of the run are untouched: only the copy learns.

The optimizer is the tf2 README's 1%-label command (config.FinetuneProbe): LARS, momentum 0.9, no
weight decay, lr 0.005 x sqrt(batch) decayed by a cosine, no warm-up; the zero-initialized classifier
is neither LARS-adapted nor decayed (tf2/model.py). On one process (rank 0), with the batch's BN
statistics where the paper's are global over its TPU cores.

Deterministic: the classifier starts at zero and the order and views come from a generator seeded
by the run seed.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness.config import FinetuneProbe
from harness.lars import LARS
from harness.nets import mlp_prefix
from harness.probe import labeled_subset


def finetune_network(method, layer: int, num_classes: int, sample: torch.Tensor) -> nn.Sequential:
    """Copies of `method`'s encoder and first `layer` projector layers, and a classifier at zero on
    their output (its width read from `sample`, a few images)."""
    body = copy.deepcopy(nn.Sequential(method.encoder, mlp_prefix(method.projector, layer))).eval()
    with torch.no_grad():
        classifier = nn.Linear(body(sample).shape[1], num_classes, device=sample.device)
    nn.init.zeros_(classifier.weight)
    nn.init.zeros_(classifier.bias)
    return nn.Sequential(body, classifier)


def finetune(method, data, probe: FinetuneProbe, seed: int) -> float:
    """Top-1 on the test split of a copy of `method` fine-tuned on the labeled subset."""
    keep = labeled_subset(data.train_labels(), probe.label_fraction)
    batch = min(probe.batch_size, len(keep))
    test_images, _ = next(iter(data.eval_batches("test")))
    network = finetune_network(method, probe.layer, data.num_classes, test_images[:2])
    body, classifier = network
    lr = probe.base_lr * math.sqrt(batch)
    optimizer = LARS([{"params": list(body.parameters())}, {"params": list(classifier.parameters()), "adapt": False}],
                     lr=lr, momentum=0.9, weight_decay=0.0)
    total = probe.epochs * (len(keep) // batch)
    generator = torch.Generator().manual_seed(seed)
    network.train()
    step = 0
    with torch.enable_grad():
        for _ in range(probe.epochs):
            for images, labels in data.labeled_batches(keep, batch, generator):
                for group in optimizer.param_groups:
                    group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total))
                loss = F.cross_entropy(network(images), labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
    return top1(network.eval(), data.eval_batches("test"))


@torch.no_grad()
def top1(network: nn.Module, batches) -> float:
    correct = total = 0
    for images, labels in batches:
        correct += (network(images).argmax(1) == labels).sum().item()
        total += len(labels)
    return correct / total
