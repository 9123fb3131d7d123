"""BatchAugment: shapes, determinism, per-sample parameters, and each op against its definition."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from harness.config import Augment
from harness.data.augment import BatchAugment, blur_kernel_size, eval_transform
from harness.data.colour import JITTER_OPS, ORDERS

ZERO, ONE = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)  # normalization that leaves images in 0..1


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(b: int = 8, c: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (b, c, size, size), generator=gen(seed), dtype=torch.uint8)


RECIPES = {
    "simsiam": Augment(),  # the config's default: SimSiam's (MoCo v2's) augmentation
    "cifar": Augment(blur_p=(0.0, 0.0)),  # SimSiam App. D: no blur on small images
    "digits": Augment(flip=False, crop_min_scale=0.5, blur_p=(0.0, 0.0)),  # the tiny preset's
    "byol": Augment(crop_min_scale=0.08, saturation=0.2, blur_p=(1.0, 0.1), solarize_p=(0.0, 0.2)),
}


class Augmenter(BatchAugment):
    """A BatchAugment that augments a batch when called, drawing its parameters as the pipeline does."""

    def __call__(self, images: torch.Tensor, generator: torch.Generator, view: int = 0) -> torch.Tensor:
        return self.apply(images, self.sample_params(images.shape[0], generator, view))


def augment(recipe: str = "simsiam", size: int = 32, channels: int = 3, min_scale: float = 0.2):
    r = RECIPES[recipe]
    r = r if recipe == "digits" else r.model_copy(update={"crop_min_scale": min_scale})
    return Augmenter(r, size, channels, ZERO[:channels], ONE[:channels])


def identity_params(aug: BatchAugment, b: int):
    """Parameters under which every op is the identity: full crop, no flip/jitter/gray/blur."""
    p = aug.sample_params(b, gen())
    ones, zeros = torch.ones(b, dtype=torch.float64), torch.zeros(b, dtype=torch.float64)
    no = torch.zeros(b, dtype=torch.bool)
    return replace(
        p, crop_w=ones, crop_h=ones, center_x=ones / 2, center_y=ones / 2, flip=no,
        jitter=no, brightness=ones, contrast=ones, saturation=ones, hue=zeros, gray=no, blur=no, solarize=no,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("recipe", "channels", "size"), [("simsiam", 3, 32), ("cifar", 3, 24), ("digits", 1, 16)]
)
def test_shapes_and_dtype(recipe, channels, size):
    x = images(c=channels, size=16)
    out = augment(recipe, size, channels)(x, gen())
    assert out.shape == (8, channels, size, size) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    # float input in 0..1 is the same image as uint8 input
    torch.testing.assert_close(augment(recipe, size, channels)(x.float() / 255, gen()), out)


def test_deterministic_given_generator_seed():
    aug, x = augment(), images()
    torch.testing.assert_close(aug(x, gen(3)), aug(x, gen(3)), rtol=0, atol=0)
    assert not torch.allclose(aug(x, gen(3)), aug(x, gen(4)))


def test_no_global_rng_use():
    state = torch.get_rng_state()
    augment()(images(), gen())
    assert torch.equal(state, torch.get_rng_state())


def test_samples_are_augmented_independently():
    x = images(b=1).expand(16, -1, -1, -1)  # one image, 16 times
    out = augment("cifar")(x, gen()).flatten(1)
    distinct = torch.cdist(out, out) > 1e-3
    assert distinct.sum() == 16 * 15  # every pair differs


def test_parameter_ranges_and_rates():
    n, min_scale = 20000, 0.2
    p = augment("simsiam", min_scale=min_scale).sample_params(n, gen())
    # whole-pixel boxes of the 32 px image (harness.data.crops; their distribution: test_crops.py)
    w, h = p.crop_w * 32, p.crop_h * 32
    torch.testing.assert_close(w, w.round(), rtol=0, atol=1e-9)
    torch.testing.assert_close(h, h.round(), rtol=0, atol=1e-9)
    # the sides before rounding (within half a pixel) had an area in (min_scale, 1) and a ratio in RATIO
    assert ((w + 0.5) * (h + 0.5) >= min_scale * 32**2).all() and ((w - 0.5) * (h - 0.5) <= 32**2).all()
    assert ((w + 0.5) / (h - 0.5) >= 3 / 4).all() and ((w - 0.5) / (h + 0.5) <= 4 / 3).all()
    ratio = (w / h).log()
    assert abs(ratio.mean()) < 0.01 and ratio.std() > 0.1
    # the box lies inside the image
    for c, w in ((p.center_x, p.crop_w), (p.center_y, p.crop_h)):
        assert ((c - w / 2 >= -1e-9) & (c + w / 2 <= 1 + 1e-9)).all()
    assert ((p.sigma >= 0.1) & (p.sigma <= 2.0)).all()
    for rate, expected in ((p.flip, 0.5), (p.jitter, 0.8), (p.gray, 0.2), (p.blur, 0.5)):
        assert abs(rate.double().mean().item() - expected) < 0.02
    j = p.jitter
    factors = ((p.brightness, 0.6, 1.4), (p.contrast, 0.6, 1.4), (p.saturation, 0.6, 1.4), (p.hue, -0.1, 0.1))
    for factor, lo, hi in factors:
        assert ((factor[j] >= lo) & (factor[j] <= hi)).all() and factor[j].std() > 0.05
    assert (p.brightness[~j] == 1).all() and (p.hue[~j] == 0).all()


def test_digits_recipe_never_flips_and_has_no_color():
    aug = augment("digits", 16, 1)
    p = aug.sample_params(5000, gen())
    assert not p.flip.any() and not p.gray.any()
    assert (p.saturation == 1).all() and (p.hue == 0).all()
    # the output is the crop of the image itself, never of its mirror: with a full centered crop
    # and no jitter, what comes out is exactly the input.
    x = images(c=1, size=16)
    q = identity_params(aug, 8)
    torch.testing.assert_close(aug.apply(x, replace(q, flip=p.flip[:8])), x.float() / 255)


@pytest.mark.parametrize("recipe", ["simsiam", "cifar"])
def test_identity_parameters_return_the_input(recipe):
    aug, x = augment(recipe), images()
    torch.testing.assert_close(aug.apply(x, identity_params(aug, 8)), x.float() / 255, atol=1e-5, rtol=0)


def test_flip_is_a_horizontal_mirror():
    aug, x = augment(), images()
    p = replace(identity_params(aug, 8), flip=torch.ones(8, dtype=torch.bool))
    torch.testing.assert_close(aug.apply(x, p), x.flip(-1).float() / 255, atol=1e-5, rtol=0)


@pytest.mark.parametrize("size", [16, 32])
def test_crop_selects_the_box(size):
    # The top-left quarter of a 32 px image: at 16 px output its pixels exactly, at 32 px the same
    # box upsampled as a bilinear resize would. (Except the last row and column: sampling within
    # the whole image, they blend in the pixels just past the box, where crop-then-resize clamps.)
    aug, x = augment("cifar", size=size), images()
    half = torch.full((8,), 0.5, dtype=torch.float64)
    p = replace(identity_params(aug, 8), crop_w=half, crop_h=half, center_x=half / 2, center_y=half / 2)
    box = x[..., :16, :16].float() / 255
    expected = torch.nn.functional.interpolate(box, size=size, mode="bilinear", align_corners=False)
    torch.testing.assert_close(aug.apply(x, p)[..., :-1, :-1], expected[..., :-1, :-1], atol=1e-5, rtol=0)


def test_color_ops_match_torchvision():
    aug, x = augment("cifar"), images()
    xf = x.float() / 255
    base = replace(identity_params(aug, 8), jitter=torch.ones(8, dtype=torch.bool))
    f = torch.linspace(0.6, 1.4, 8, dtype=torch.float64)
    for field, reference in (
        ("brightness", TF.adjust_brightness),
        ("contrast", TF.adjust_contrast),
        ("saturation", TF.adjust_saturation),
    ):
        out = aug.apply(x, replace(base, **{field: f}))
        expected = torch.stack([reference(xf[i], f[i].item()) for i in range(8)])
        torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)
    gray = aug.apply(x, replace(identity_params(aug, 8), gray=torch.ones(8, dtype=torch.bool)))
    # 2e-4: torchvision weighs red 0.2989, PIL and we 0.299
    torch.testing.assert_close(gray, TF.rgb_to_grayscale(xf, num_output_channels=3), atol=2e-4, rtol=0)


def test_hue_and_jitter_order_match_torchvision():
    aug, x = augment("cifar"), images()
    xf = x.float() / 255
    shift = torch.linspace(-0.1, 0.1, 8, dtype=torch.float64)
    p = replace(identity_params(aug, 8), jitter=torch.ones(8, dtype=torch.bool), hue=shift)
    expected = torch.stack([TF.adjust_hue(xf[i], shift[i].item()) for i in range(8)])
    torch.testing.assert_close(aug.apply(x, p), expected, atol=1e-5, rtol=0)
    # all four ops, each image in its own drawn order (ColorJitter's fn_idx)
    p = aug.sample_params(8, gen(5))
    p = replace(identity_params(aug, 8), jitter=torch.ones(8, dtype=torch.bool), brightness=p.brightness,
                contrast=p.contrast, saturation=p.saturation, hue=p.hue, jitter_order=p.jitter_order)
    assert len(set(p.jitter_order.tolist())) > 1
    out = aug.apply(x, p)
    for i in range(8):
        expected = xf[i]
        for op in ORDERS[p.jitter_order[i]].tolist():
            name = JITTER_OPS[op]
            expected = getattr(TF, f"adjust_{name}")(expected, getattr(p, name)[i].item())
        torch.testing.assert_close(out[i], expected, atol=2e-4, rtol=0)


def test_jitter_order_is_drawn_per_image_uniformly():
    order = augment().sample_params(24000, gen()).jitter_order
    counts = torch.bincount(order, minlength=len(ORDERS))
    assert len(counts) == len(ORDERS) and (counts - 1000).abs().max() < 150


def test_blur_matches_torchvision_per_sample():
    aug = augment("simsiam")
    x = images()
    sigma = torch.linspace(0.1, 2.0, 8, dtype=torch.float64)
    blur = torch.tensor([True, False] * 4)
    out = aug.apply(x, replace(identity_params(aug, 8), blur=blur, sigma=sigma))
    k = blur_kernel_size(32)
    xf = x.float() / 255
    for i in range(8):
        expected = TF.gaussian_blur(xf[i], [k, k], [sigma[i].item()] * 2) if blur[i] else xf[i]
        torch.testing.assert_close(out[i], expected, atol=1e-5, rtol=0)


def test_blur_kernel_size():
    assert blur_kernel_size(224) == 23 and blur_kernel_size(32) == 3 and blur_kernel_size(16) == 3
    assert all(blur_kernel_size(s) % 2 == 1 for s in range(8, 300))


def test_normalization_and_eval_transform():
    x = images()
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    out = eval_transform(x, 32, mean, std)
    expected = (x.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected)
    assert eval_transform(x, 24, mean, std).shape == (8, 3, 24, 24)
    aug = BatchAugment(RECIPES["cifar"], 32, 3, mean, std)
    torch.testing.assert_close(aug.apply(x, identity_params(aug, 8)), expected, atol=1e-4, rtol=0)


def test_params_move_to_the_device_with_their_types():
    from dataclasses import fields

    p = augment().sample_params(8, gen())
    moved = p.to(torch.device("cpu"))  # on a GPU: one packed, non-blocking copy
    for f in fields(p):
        before, after = getattr(p, f.name), getattr(moved, f.name)
        expected = before if before.dtype == torch.bool else before.float()
        assert after.dtype == expected.dtype and torch.equal(after, expected), f.name


def test_cpu_augmentation_runs_on_one_thread_and_restores_the_count():
    from harness.data.augment import one_thread_on_cpu

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with one_thread_on_cpu(torch.device("cpu")):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), one_thread_on_cpu(torch.device("cpu")):
            raise RuntimeError  # restored on errors too
        assert torch.get_num_threads() == 2
        out = augment()(images(), gen())
        assert torch.get_num_threads() == 2 and out.shape == (8, 3, 32, 32)
    finally:
        torch.set_num_threads(threads)


def test_blur_and_solarize_are_drawn_per_view():
    # BYOL / MoCo v3: blur always on the first view and 10% on the second, solarize 0% / 20%.
    aug = augment("byol")
    first, second = aug.sample_params(20000, gen(), view=0), aug.sample_params(20000, gen(), view=1)
    assert first.blur.all() and not first.solarize.any()
    assert abs(second.blur.double().mean() - 0.1) < 0.01 and abs(second.solarize.double().mean() - 0.2) < 0.01
    third = aug.sample_params(20000, gen(), view=2)  # a third view repeats the first's recipe
    assert third.blur.all() and not third.solarize.any()


def test_solarize_matches_torchvision():
    aug, x = augment("byol"), images()
    p = replace(identity_params(aug, 8), solarize=torch.arange(8) % 2 == 0)
    expected = x.float() / 255
    expected[::2] = TF.solarize(expected[::2], 0.5)
    torch.testing.assert_close(aug.apply(x, p), expected, atol=1e-6, rtol=0)
    # on uint8, as the per-image path applies it to PIL images: threshold 128 of 255
    torch.testing.assert_close(TF.solarize(x, 128).float() / 255, TF.solarize(x.float() / 255, 128 / 255))


def test_pipeline_views_follow_the_per_view_recipe():
    from harness.config import RunConfig
    from harness.data import build_data

    def views(solarize):
        config = RunConfig.model_validate({
            "data": {"dataset": "digits", "image_size": 16, "augment": {"solarize_p": solarize}},
            "optim": {"batch_size": 64},
        })  # fmt: skip
        return next(iter(build_data(config, 2, torch.device("cpu")).train_batches(1)))

    plain, second_solarized = views([0.0, 0.0]), views([0.0, 1.0])
    assert torch.equal(plain[0], second_solarized[0])  # the same draws; view 1 is not solarized
    assert not torch.allclose(plain[1], second_solarized[1])  # view 2 is
