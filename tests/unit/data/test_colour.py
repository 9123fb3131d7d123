"""The batched colour ops against torchvision.transforms.v2.functional itself, and ColorJitter's order."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from harness.data.colour import (
    JITTER_OPS, ORDERS, adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation, jitter_in_order,
)  # fmt: skip

TORCHVISION = {"brightness": TF.adjust_brightness, "contrast": TF.adjust_contrast,
               "saturation": TF.adjust_saturation, "hue": TF.adjust_hue}
FACTORS = {"brightness": 1.3, "contrast": 0.7, "saturation": 1.4, "hue": 0.15}


def images(b: int = 24, size: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, 3, size, size, generator=g)
    # with pure colours, grays and the extremes, where the hue's sextant and the clamps change
    x[0, :, :4, :4] = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)
    x[1, :, :4, :4] = 0.5
    x[2, :, :4, :4] = torch.tensor([0.0, 1.0, 1.0]).view(3, 1, 1)
    return x


def test_adjust_hue_equals_torchvision():
    x = images()
    factors = torch.linspace(-0.5, 0.5, len(x))
    out = adjust_hue(x, factors)
    expected = torch.stack([TF.adjust_hue(x[i], factors[i].item()) for i in range(len(x))])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_hue_at_zero_and_on_one_channel_is_the_image():
    x = images()
    torch.testing.assert_close(adjust_hue(x, torch.zeros(len(x))), x, atol=1e-6, rtol=0)
    gray = images()[:, :1]
    assert torch.equal(adjust_hue(gray, torch.full((len(gray),), 0.3)), gray)


@pytest.mark.parametrize("name", ["brightness", "contrast", "saturation"])
def test_other_ops_equal_torchvision(name):
    x = images()
    factors = torch.linspace(0.2, 1.8, len(x))
    ours = {"brightness": adjust_brightness, "contrast": adjust_contrast, "saturation": adjust_saturation}[name]
    expected = torch.stack([TORCHVISION[name](x[i], factors[i].item()) for i in range(len(x))])
    # 2e-4: torchvision's gray weighs red 0.2989, PIL's and ours 0.299
    torch.testing.assert_close(ours(x, factors), expected, atol=2e-4, rtol=0)


def test_each_order_equals_torchvisions_ops_in_that_order():
    x = images(len(ORDERS))
    order = torch.arange(len(ORDERS))  # image i in the i-th of the 24 orders
    factors = {name: torch.full((len(x),), value) for name, value in FACTORS.items()}
    out = jitter_in_order(x, factors, order, torch.ones(len(x), dtype=torch.bool))
    for i, positions in enumerate(ORDERS.tolist()):
        expected = x[i]
        for op in positions:
            name = JITTER_OPS[op]
            expected = TORCHVISION[name](expected, FACTORS[name])
        torch.testing.assert_close(out[i], expected, atol=2e-4, rtol=0)
    # the order matters: image 0 in the 6th order is not image 0 in the 1st
    one = {name: f[:1] for name, f in factors.items()}
    other_order = jitter_in_order(x[:1], one, torch.tensor([5]), torch.ones(1, dtype=torch.bool))
    assert not torch.allclose(out[0], other_order[0], atol=1e-3)


def test_images_without_jitter_and_ops_left_out_are_untouched():
    x = images()
    factors = {name: torch.full((len(x),), value) for name, value in FACTORS.items()}
    order = torch.randint(len(ORDERS), (len(x),), generator=torch.Generator().manual_seed(0))
    jittered = torch.arange(len(x)) % 2 == 0
    out = jitter_in_order(x, factors, order, jittered)
    assert torch.equal(out[~jittered], x[~jittered])
    assert not torch.allclose(out[jittered], x[jittered])
    only_brightness = jitter_in_order(x, factors, order, jittered, ops=("brightness",))
    assert torch.equal(only_brightness[jittered], TF.adjust_brightness(x[jittered], FACTORS["brightness"]))
