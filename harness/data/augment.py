"""Batched augmentation on image tensors: the fast path for in-memory datasets (digits, CIFAR).

A whole batch is augmented with a few tensor ops instead of one PIL pipeline per image, so it runs
as well on the GPU as on the CPU. Every random parameter is drawn per sample, on the CPU, from the
caller's generator and only then moved to the device: the same generator state gives the same
augmentations on every device, and nothing touches the global RNG. The host-to-device copies are
non-blocking (one for all the parameters of a batch), so on a GPU the augmentation of the next
batch is queued behind the current step instead of waiting for it.

Each parameter is drawn as torchvision's transforms draw it: the crop boxes as RandomResizedCrop's
(harness/data/crops.py), the colour ops and ColorJitter's order per image as its (harness/data/colour.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from harness.config import Augment
from harness.data.colour import JITTER_OPS, ORDERS, grayscale, jitter_in_order
from harness.data.crops import random_resized_crop_boxes

BLUR_SIGMA = (0.1, 2.0)  # SimSiam / MoCo v2, BYOL
SOLARIZE_THRESHOLD = 0.5  # BYOL App. B: x -> 1 - x where x >= 0.5 (128 of 255 on uint8 / PIL)


def blur_kernel_size(image_size: int) -> int:
    """About 10% of the image side, odd (23 at 224 px as in BYOL), at least 3."""
    return max(3, round(0.1 * image_size) | 1)


@dataclass(frozen=True)
class AugmentParams:
    """Per-sample parameters of one batch, each a tensor of shape [B]."""

    crop_w: Tensor  # crop box width as a fraction of the image width (whole pixels: harness.data.crops)
    crop_h: Tensor
    center_x: Tensor  # crop box center, in [0, 1] image coordinates
    center_y: Tensor
    flip: Tensor  # bool
    jitter: Tensor  # bool; where False the factors below are the identity
    brightness: Tensor
    contrast: Tensor
    saturation: Tensor
    hue: Tensor  # fraction of a full turn, in [-hue, hue]
    jitter_order: Tensor  # the order of the four jitter ops: an index into colour.ORDERS
    gray: Tensor  # bool
    blur: Tensor  # bool
    sigma: Tensor  # blur sigma in pixels (drawn for every sample, used where blur is True)
    solarize: Tensor  # bool

    def __getitem__(self, index: slice) -> AugmentParams:
        """The parameters of some of the samples, e.g. one rank's share of a global batch."""
        return AugmentParams(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def to(self, device: torch.device) -> AugmentParams:
        """float32 (flags stay bool) on `device`, in one non-blocking copy of all the fields."""
        names = [f.name for f in fields(self)]
        packed = torch.stack([getattr(self, name).to(torch.float32) for name in names])
        rows = _to_device(packed, device)
        return AugmentParams(**{
            name: row.bool() if getattr(self, name).dtype == torch.bool else row for name, row in zip(names, rows)
        })  # fmt: skip


def _to_device(x: Tensor, device: torch.device) -> Tensor:
    # Non-blocking: a copy from pageable host memory is staged at once, without waiting for the
    # device to finish its queued work (a blocking copy would synchronize with it).
    return x.to(device, non_blocking=True)


@contextmanager
def one_thread_on_cpu(device: torch.device) -> Iterator[None]:
    """On the CPU, run the enclosed (small) ops on one thread, then restore torch's thread count.

    Each parallel op ends in a barrier between torch's threads; an augmentation is a few dozen ops
    of a few milliseconds each, and when other jobs hold the cores a barrier waits for a thread
    that is not running. On 2 busy cores a CIFAR batch took 110-450 ms on 2 threads against 18-24 ms
    on one (harness bench's "harness data only"), and one thread is 0.2% of a training step.
    """
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def to_float(images: Tensor) -> Tensor:
    """uint8 0..255 -> float 0..1; float input is taken to be in 0..1 already."""
    return images.float().div(255) if images.dtype == torch.uint8 else images.float()


def normalize(x: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    mean_t = _to_device(torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1), x.device)
    std_t = _to_device(torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1), x.device)
    return (x - mean_t) / std_t


def crop_and_flip(recipe: Augment) -> Augment:
    """The recipe's random resized crop and flip alone: supervised fine-tuning's augmentation (SimCLR
    v2, tf2/data.py: the fine-tuning preprocess crops and flips, with no colour distortion or blur)."""
    return recipe.model_copy(update={"jitter_p": 0.0, "gray_p": 0.0, "blur_p": (0.0, 0.0), "solarize_p": (0.0, 0.0)})


def eval_transform(images: Tensor, size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """No augmentation: to float, resized to size x size if needed, normalized."""
    with one_thread_on_cpu(images.device):
        x = to_float(images)
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return normalize(x, mean, std)


class BatchAugment:
    """Random resized crop + flip, color jitter, grayscale, blur and solarize on a batch [B,C,H,W], as
    the config's `data.augment` says; blur and solarize by view (`view` 0, 1, then 0, 1 again)."""

    def __init__(
        self,
        recipe: Augment,
        image_size: int,
        channels: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
    ):
        self.recipe = recipe
        self.image_size = image_size
        self.channels = channels
        self.mean, self.std = tuple(mean), tuple(std)
        self.kernel_size = blur_kernel_size(image_size)

    def sample_params(self, batch: int, generator: torch.Generator, view: int = 0) -> AugmentParams:
        """Draws every parameter of a batch, in a fixed order, from a CPU generator."""
        r = self.recipe

        def uniform(lo: float, hi: float) -> Tensor:
            return lo + (hi - lo) * torch.rand(batch, generator=generator, dtype=torch.float64)

        def coin(p: float) -> Tensor:
            return torch.rand(batch, generator=generator, dtype=torch.float64) < p

        # In-memory images are stored at image_size (square): the boxes are drawn on its pixels.
        size = self.image_size
        box = random_resized_crop_boxes(batch, size, size, (r.crop_min_scale, 1.0), generator)
        crop_w, crop_h = box.width / size, box.height / size
        center_x, center_y = (box.left + box.width / 2) / size, (box.top + box.height / 2) / size
        flip = coin(0.5) & r.flip

        jitter = coin(r.jitter_p)
        color = self.channels == 3  # saturation, hue and grayscale only mean something for RGB

        def factor(strength: float, identity: float, lo: float, hi: float, enabled: bool = True) -> Tensor:
            drawn = uniform(lo, hi)  # always drawn, so the stream does not depend on the recipe
            return torch.where(jitter & enabled & (strength > 0), drawn, torch.full_like(drawn, identity))

        brightness = factor(r.brightness, 1.0, max(0.0, 1 - r.brightness), 1 + r.brightness)
        contrast = factor(r.contrast, 1.0, max(0.0, 1 - r.contrast), 1 + r.contrast)
        saturation = factor(r.saturation, 1.0, max(0.0, 1 - r.saturation), 1 + r.saturation, color)
        hue = factor(r.hue, 0.0, -r.hue, r.hue, color)
        jitter_order = torch.randint(len(ORDERS), (batch,), generator=generator)
        gray = coin(r.gray_p) & color
        blur = coin(r.blur_p[view % 2])
        sigma = uniform(*BLUR_SIGMA)
        solarize = coin(r.solarize_p[view % 2])
        return AugmentParams(
            crop_w, crop_h, center_x, center_y, flip,
            jitter, brightness, contrast, saturation, hue, jitter_order, gray, blur, sigma, solarize,
        )  # fmt: skip

    def apply(self, images: Tensor, params: AugmentParams) -> Tensor:
        """Augments images [B,C,H,W] (uint8, or float in 0..1) with the given parameters."""
        with one_thread_on_cpu(images.device):
            return self._apply(images, params)

    def _apply(self, images: Tensor, params: AugmentParams) -> Tensor:
        p = params.to(images.device)
        x = self._crop_flip(to_float(images), p)
        if self.recipe.jitter_p > 0:
            x = self._jitter(x, p, params)
        if self.recipe.gray_p > 0 and x.shape[1] == 3:
            x = torch.where(p.gray.view(-1, 1, 1, 1), grayscale(x).expand_as(x), x)
        if params.blur.any():  # the flags are on the CPU: no wait for the device
            x = self._blur(x, p)
        if params.solarize.any():
            x = torch.where(p.solarize.view(-1, 1, 1, 1), TF.solarize(x, SOLARIZE_THRESHOLD), x)
        return normalize(x, self.mean, self.std)

    def _crop_flip(self, x: Tensor, p: AugmentParams) -> Tensor:
        # One affine map per sample from output coordinates to input coordinates, both in [-1, 1]:
        # x_in = crop_w * (+-1) * x_out + (2 * center_x - 1). The flip is the sign of the x scale.
        b, c = x.shape[:2]
        theta = torch.zeros(b, 2, 3, device=x.device)
        theta[:, 0, 0] = p.crop_w * torch.where(p.flip, -1.0, 1.0)
        theta[:, 0, 2] = 2 * p.center_x - 1
        theta[:, 1, 1] = p.crop_h
        theta[:, 1, 2] = 2 * p.center_y - 1
        size = self.image_size
        grid = F.affine_grid(theta, [b, c, size, size], align_corners=False)
        # "border": output pixels sampled between the outermost input pixel centers and the image
        # edge take the edge value, as a resize does, instead of fading into zeros.
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def _jitter(self, x: Tensor, p: AugmentParams, params: AugmentParams) -> Tensor:
        # ColorJitter: the ops of a positive strength, in each image's own order (on the CPU copy of
        # the parameters, `params`); samples without jitter are left as they are.
        ops = tuple(name for name in JITTER_OPS if getattr(self.recipe, name) > 0)
        factors = {name: getattr(p, name) for name in ops}
        return jitter_in_order(x, factors, params.jitter_order, params.jitter, ops)

    def _blur(self, x: Tensor, p: AugmentParams) -> Tensor:
        # Separable Gaussian, one kernel per sample: the batch is folded into the channels of a
        # single image so that one grouped (depthwise) conv applies every sample's own kernel.
        # Samples without blur get a unit impulse, which leaves them unchanged.
        b, c, h, w = x.shape
        half = self.kernel_size // 2
        t = torch.arange(-half, half + 1, device=x.device, dtype=x.dtype)
        kernel = torch.exp(-0.5 * (t / p.sigma.view(-1, 1)) ** 2)
        kernel = kernel / kernel.sum(dim=1, keepdim=True)
        impulse = (t == 0).to(x.dtype).expand_as(kernel)
        kernel = torch.where(p.blur.view(-1, 1), kernel, impulse).repeat_interleave(c, dim=0)  # [B*C, k]
        y = F.pad(x.reshape(1, b * c, h, w), (half, half, half, half), mode="reflect")  # as torchvision
        y = F.conv2d(y, kernel.view(b * c, 1, -1, 1), groups=b * c)
        y = F.conv2d(y, kernel.view(b * c, 1, 1, -1), groups=b * c)
        return y.view(b, c, h, w)
