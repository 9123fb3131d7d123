"""Random resized crop boxes for a whole batch, drawn as torchvision's RandomResizedCrop.get_params
draws one box: the box's area a uniform fraction of the image's in `scale`, its aspect ratio w/h
log-uniform in RATIO, both rounded to whole pixels; a box that does not fit the image is drawn again,
up to TRIES times, then the fallback is the centre crop with the ratio clamped into RATIO (the whole
image for a square one). The box's top-left corner is uniform over the pixel positions where it fits.

Every try of every sample is drawn up front (a fixed number of draws from the generator, whatever is
accepted), and each sample takes its first box that fits: the same distribution as torchvision's
loop, vectorized. SimSiam's, MoCo v3's and SimCLR's PyTorch reimplementations crop so; BYOL's
official code clamps a box that does not fit instead, and SimCLR's TF code has its own sampler
(papers.yaml's protocol notes say so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

RATIO = (3 / 4, 4 / 3)  # RandomResizedCrop's default aspect-ratio range
TRIES = 10  # RandomResizedCrop.get_params: draws before the centre-crop fallback


@dataclass(frozen=True)
class CropBoxes:
    """Per-sample boxes in pixels of a height x width image, float64 tensors [B] of whole numbers."""

    top: Tensor
    left: Tensor
    height: Tensor
    width: Tensor


def random_resized_crop_boxes(batch: int, height: int, width: int, scale: tuple[float, float],
                              generator: torch.Generator) -> CropBoxes:
    """`batch` boxes of a height x width image, as RandomResizedCrop(scale=scale).get_params draws them."""

    def uniform(lo: float, hi: float, *shape: int) -> Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=generator, dtype=torch.float64)

    area = height * width * uniform(*scale, batch, TRIES)
    ratio = torch.exp(uniform(math.log(RATIO[0]), math.log(RATIO[1]), batch, TRIES))
    w, h = torch.round(torch.sqrt(area * ratio)), torch.round(torch.sqrt(area / ratio))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # the first try that fits (0 if none)
    w, h, found = w.gather(1, first)[:, 0], h.gather(1, first)[:, 0], fits.any(dim=1)
    fallback_h, fallback_w = _centre_fallback(height, width)
    w = torch.where(found, w, torch.full_like(w, fallback_w))
    h = torch.where(found, h, torch.full_like(h, fallback_h))
    # torch.randint(0, n - size + 1) of each found box; the fallback is centred.
    top = torch.where(found, torch.floor(uniform(0.0, 1.0, batch) * (height - h + 1)), (height - h) // 2)
    left = torch.where(found, torch.floor(uniform(0.0, 1.0, batch) * (width - w + 1)), (width - w) // 2)
    return CropBoxes(top, left, h, w)


def _centre_fallback(height: int, width: int) -> tuple[int, int]:
    """(h, w) of get_params' fallback: the whole image with its ratio clamped into RATIO."""
    in_ratio = width / height
    if in_ratio < RATIO[0]:
        return round(width / RATIO[0]), width
    if in_ratio > RATIO[1]:
        return height, round(height * RATIO[1])
    return height, width
