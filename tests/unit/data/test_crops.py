"""Crop boxes against torchvision's RandomResizedCrop.get_params itself: the same distribution of area
and aspect ratio (two-sample KS), and a check strong enough to reject the clamped sampler it replaced."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import ks_2samp
from torchvision.transforms import RandomResizedCrop

from harness.data.crops import RATIO, TRIES, random_resized_crop_boxes

N = 20000
ALPHA = 0.01


def torchvision_boxes(size: int, min_scale: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(area fraction, log w/h) of N boxes drawn by get_params on a size x size image."""
    image = torch.empty(1, size, size)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        boxes = torch.tensor([RandomResizedCrop.get_params(image, [min_scale, 1.0], list(RATIO))
                              for _ in range(N)], dtype=torch.float64)
    h, w = boxes[:, 2], boxes[:, 3]
    return h * w / size**2, torch.log(w / h)


def harness_boxes(size: int, min_scale: float, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    box = random_resized_crop_boxes(N, size, size, (min_scale, 1.0), torch.Generator().manual_seed(seed))
    return box.height * box.width / size**2, torch.log(box.width / box.height)


def clamped_boxes(min_scale: float, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The sampler before issue 25 (BYOL's official one too): one draw, the box clamped into the image."""
    g = torch.Generator().manual_seed(seed)
    scale = min_scale + (1 - min_scale) * torch.rand(N, generator=g, dtype=torch.float64)
    log_ratio = math.log(RATIO[0]) + math.log(RATIO[1] / RATIO[0]) * torch.rand(N, generator=g, dtype=torch.float64)
    w = torch.sqrt(scale * log_ratio.exp()).clamp(max=1.0)
    h = torch.sqrt(scale / log_ratio.exp()).clamp(max=1.0)
    return w * h, torch.log(w / h)


def same_distribution(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> bool:
    """Neither the areas' nor the log-ratios' two-sample KS test rejects at ALPHA."""
    return all(ks_2samp(x.numpy(), y.numpy()).pvalue > ALPHA for x, y in zip(a, b))


@pytest.mark.parametrize("size", [32, 224])
@pytest.mark.parametrize("min_scale", [0.2, 0.08])
def test_boxes_are_distributed_as_torchvision_draws_them(size, min_scale):
    reference = torchvision_boxes(size, min_scale)
    assert same_distribution(harness_boxes(size, min_scale), reference)
    assert not same_distribution(clamped_boxes(min_scale), reference)  # the check has the power to see it


@pytest.mark.parametrize("size", [32, 224])
def test_boxes_are_whole_pixels_inside_the_image(size):
    box = random_resized_crop_boxes(N, size, size, (0.08, 1.0), torch.Generator().manual_seed(0))
    for t in (box.top, box.left, box.height, box.width):
        assert torch.equal(t, t.round())
    assert (box.height >= 1).all() and (box.width >= 1).all()
    assert (box.top >= 0).all() and (box.left >= 0).all()
    assert (box.top + box.height <= size).all() and (box.left + box.width <= size).all()
    # every pixel position a box fits at is drawn: the top-left corner of a 1-pixel-short box varies
    short = box.height == size - 1
    assert set(box.top[short].tolist()) == {0.0, 1.0}


def test_a_box_that_never_fits_falls_back_to_the_centred_image():
    # At a scale of 1 only the square box fits: a ratio far from 1 rounds to a box larger than the
    # image in one side, so some samples fall back after TRIES draws (the whole square image).
    box = random_resized_crop_boxes(N, 100, 100, (1.0, 1.0), torch.Generator().manual_seed(0))
    assert (box.height == 100).all() and (box.width == 100).all() and (box.top == 0).all()
    # and a wide image falls back to a centred box of the widest ratio allowed
    box = random_resized_crop_boxes(64, 10, 40, (1.0, 1.0), torch.Generator().manual_seed(0))
    assert (box.height == 10).all() and (box.width == round(10 * RATIO[1])).all()
    assert (box.left == (40 - box.width) // 2).all()
    assert TRIES == 10


def test_the_draws_depend_on_the_generator_only():
    a = random_resized_crop_boxes(64, 32, 32, (0.2, 1.0), torch.Generator().manual_seed(3))
    b = random_resized_crop_boxes(64, 32, 32, (0.2, 1.0), torch.Generator().manual_seed(3))
    c = random_resized_crop_boxes(64, 32, 32, (0.2, 1.0), torch.Generator().manual_seed(4))
    assert torch.equal(a.top, b.top) and torch.equal(a.width, b.width)
    assert not torch.equal(a.width, c.width)
