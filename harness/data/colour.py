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
# _hsv_to_rgb's table: for each sextant of the hue, which of (v, p, q, t) each of r, g, b takes.
_SEXTANT_TO_RGB = torch.tensor([[0, 2, 1, 1, 3, 0], [3, 0, 0, 2, 1, 1], [1, 1, 3, 0, 0, 2]])


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
    """Each image's hue shifted by its factor, in turns (-0.5..0.5), in HSV; one channel: unchanged."""
    if x.shape[1] == 1:
        return x
    h, s, v = rgb_to_hsv(x).unbind(dim=1)
    h = (h + _per_image(factor, x)[:, 0]).remainder(1.0)
    return hsv_to_rgb(torch.stack((h, s, v), dim=1))


def rgb_to_hsv(x: Tensor) -> Tensor:
    """[B,3,H,W] RGB in 0..1 -> HSV, hue in turns in [0, 1). Gray pixels get hue 0 and saturation 0."""
    r, g, b = x.unbind(dim=1)
    minc, maxc = torch.aminmax(x, dim=1)
    gray = maxc == minc
    spread = maxc - minc
    s = spread / torch.where(gray, torch.ones_like(maxc), maxc)
    d = torch.where(gray, torch.ones_like(spread), spread)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    # The sextant's base angle plus the offset of the middle channel, in sixths of a turn.
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))  # gray: 0
    return torch.stack(((h / 6.0 + 1.0).remainder(1.0), s, maxc), dim=1)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """[B,3,H,W] HSV (hue in turns) -> RGB in 0..1."""
    h, s, v = hsv.unbind(dim=1)
    h6 = h * 6
    sextant = torch.floor(h6)
    f = h6 - sextant
    p = (v * (1 - s)).clamp(0, 1)
    q = (v * (1 - s * f)).clamp(0, 1)
    t = (v * (1 - s * (1 - f))).clamp(0, 1)
    vpqt = torch.stack((v, p, q, t), dim=1)
    select = _SEXTANT_TO_RGB.to(hsv.device, non_blocking=True)[:, sextant.long().remainder(6)]  # [3,B,H,W]
    return vpqt.gather(1, select.transpose(0, 1))


ADJUST = {"brightness": adjust_brightness, "contrast": adjust_contrast, "saturation": adjust_saturation,
          "hue": adjust_hue}


def jitter_in_order(x: Tensor, factors: dict[str, Tensor], order: Tensor, jittered: Tensor,
                    ops: tuple[str, ...] = JITTER_OPS) -> Tensor:
    """ColorJitter on a batch: image i applies the ops `ops` (a subset of JITTER_OPS) with its factors
    in the order ORDERS[order[i]], where jittered[i] (the others are left as they are).

    `order` and `jittered` are on the CPU (no wait for the device): at each of the 4 positions the
    batch is sorted by the op it applies there, each op runs once on its contiguous run of images, and
    the batch is put back in place; an image applies each op exactly once, as one ColorJitter call.
    `factors` are on x's device."""
    positions = ORDERS[order.long()]  # [B, 4]: the op index at each position
    skipped = len(JITTER_OPS)  # the sort key of an image that applies nothing at a position
    for k in range(len(JITTER_OPS)):
        key = torch.where(jittered, positions[:, k], skipped)
        sort = torch.argsort(key, stable=True)
        counts = torch.bincount(key, minlength=skipped + 1).tolist()
        index = sort.to(x.device, non_blocking=True)
        runs, rows = list(x[index].split(counts)), index.split(counts)
        for j, name in enumerate(JITTER_OPS):
            if name in ops and counts[j]:
                runs[j] = ADJUST[name](runs[j], factors[name][rows[j]])
        x = torch.empty_like(x).index_copy_(0, index, torch.cat(runs))
    return x
