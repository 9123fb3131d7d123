"""Colour ops on a batch [B,C,H,W] in 0..1, one factor per image, as torchvision.transforms.v2.functional
applies them to one image; and ColorJitter's four ops in an order drawn per image.

The hue is shifted in HSV, as torchvision's adjust_hue (and the TF and JAX codes) do: to HSV, hue + h
turns (mod 1), back to RGB. Grayscale weighs red 0.299 (PIL's convert("L"), which the per-image path
uses) where torchvision's tensor kernel has 0.2989: 1e-4 apart.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601-2 luma, as PIL's convert("L")
# ColorJitter's ops by index (its fn_idx): every image applies them in one of these 24 orders.
JITTER_OPS = ("brightness", "contrast", "saturation", "hue")
ORDERS = torch.tensor(list(itertools.permutations(range(len(JITTER_OPS)))))  # [24, 4]
GRAY_OPS = ("brightness", "contrast")  # saturation and hue leave a one-channel image as it is
# Where r, g and b fall on the hue circle in adjust_hue's k, in sixths of a turn.
_HUE_OFFSETS = torch.tensor([5.0, 3.0, 1.0])


def _per_image(factor: Tensor, x: Tensor) -> Tensor:
    return factor.to(x.dtype).view(-1, 1, 1, 1)


def grayscale(x: Tensor) -> Tensor:
    """[B,C,H,W] -> [B,1,H,W] luma (the image itself when it has one channel)."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor(GRAY_WEIGHTS, dtype=x.dtype).view(1, 3, 1, 1).to(x.device, non_blocking=True)
    return (x * w).sum(dim=1, keepdim=True)


def _blend(x: Tensor, other: Tensor, factor: Tensor) -> Tensor:
    # torchvision's _blend: factor * x + (1 - factor) * other, clamped to the valid range.
    f = _per_image(factor, x)
    return (f * x + (1 - f) * other).clamp(0, 1)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    return (x * _per_image(factor, x)).clamp(0, 1)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    return _blend(x, grayscale(x).mean(dim=(1, 2, 3), keepdim=True), factor)


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    return x if x.shape[1] == 1 else _blend(x, grayscale(x), factor)


def adjust_hue(x: Tensor, factor: Tensor) -> Tensor:
    """Each image's hue shifted by its factor, in turns (-0.5..0.5), in HSV; one channel: unchanged.

    HSV's value (the max channel) and the spread max - min stay; the hue h, in sixths of a turn, is
    read from the max channel and the other two, shifted, and each channel is put back where the hue
    circle has it: max - spread * clamp(min(k, 4 - k), 0, 1), k = (offset + h) mod 6. torchvision's
    _rgb_to_hsv and _hsv_to_rgb in a few ops on the whole batch (its table of sextants is this).
    """
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(dim=1)
    minc, maxc = torch.aminmax(x, dim=1)
    spread = maxc - minc
    d = torch.where(spread > 0, spread, torch.ones_like(spread))  # gray: any hue, the spread is 0
    hue = torch.where(maxc == r, (g - b) / d, torch.where(maxc == g, 2.0 + (b - r) / d, 4.0 + (r - g) / d))
    hue = hue + 6 * _per_image(factor, x)[:, 0]
    offsets = _HUE_OFFSETS.to(x.device, non_blocking=True).view(1, 3, 1, 1)
    k = (offsets + hue.unsqueeze(1)).remainder(6.0)
    return maxc.unsqueeze(1) - spread.unsqueeze(1) * torch.minimum(k, 4.0 - k).clamp(0, 1)


ADJUST = {"brightness": adjust_brightness, "contrast": adjust_contrast, "saturation": adjust_saturation,
          "hue": adjust_hue}


def jitter_in_order(x: Tensor, factors: dict[str, Tensor], order: Tensor, jittered: Tensor,
                    ops: tuple[str, ...] = JITTER_OPS) -> Tensor:
    """ColorJitter on a batch: image i applies the ops `ops` (a subset of JITTER_OPS) with its factors
    in the order ORDERS[order[i]], where jittered[i] (the others are left as they are).

    `order` and `jittered` are on the CPU (no wait for the device): at each position the
    batch is gathered in the order of the op each image applies there, each op runs once on its
    contiguous run of images, and at the end the batch is put back in place; an image applies each
    op exactly once, as one ColorJitter call. `factors` are on x's device."""
    # Only the order of the ops that change an image matters: each image's order of those.
    ops = tuple(name for name in ops if x.shape[1] == 3 or name in GRAY_OPS)
    positions = ORDERS[order.long()]  # [B, 4]: the op index at each position
    acting = torch.isin(positions, torch.tensor([JITTER_OPS.index(name) for name in ops], dtype=torch.long))
    positions = positions[acting].view(len(x), len(ops))
    skipped = len(JITTER_OPS)  # the sort key of an image that applies nothing at a position
    held = torch.arange(len(x))  # x[i] is the input's image held[i]
    for k in range(len(ops)):
        key = torch.where(jittered, positions[:, k], skipped)
        wanted = torch.argsort(key, stable=True)  # the input's images, grouped by their op at k
        counts = torch.bincount(key, minlength=skipped + 1).tolist()
        x = x[_to(torch.argsort(held)[wanted], x)]
        held = wanted
        runs, rows = list(x.split(counts)), _to(wanted, x).split(counts)
        for j, name in enumerate(JITTER_OPS):
            if counts[j]:
                runs[j] = ADJUST[name](runs[j], factors[name][rows[j]])
        x = torch.cat(runs)
    return x[_to(torch.argsort(held), x)]


def _to(index: Tensor, x: Tensor) -> Tensor:
    return index.to(x.device, non_blocking=True)
