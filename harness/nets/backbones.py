"""Encoders. Each returns (module, feature_dim); the module maps images to flat features. The built-in
names are here; a registry's models (torchvision:<name>, timm:<name>) are registry.py's."""

from __future__ import annotations

import torch.nn as nn
import torchvision

from harness.config import Backbone
from harness.nets.registry import registry_backbone
from harness.nets.simclr_resnet import simclr_resnet, sk_conv
from harness.nets.vit import vit


def small_cnn(in_channels: int, width: int, selective_kernels: bool = False) -> tuple[nn.Module, int]:
    """Three 3x3 conv-BN-ReLU blocks (two of them strided) and global average pooling: for `tiny`.
    selective_kernels: the two strided blocks are SimCLR v2's SK convs (the first, the stem, stays)."""
    layers, channels = [], in_channels
    for i, out in enumerate((width, 2 * width, 4 * width)):
        stride = 1 if i == 0 else 2
        if selective_kernels and i > 0:
            layers.append(sk_conv(channels, out, stride))
        else:
            layers += [
                nn.Conv2d(channels, out, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
        channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), channels


def resnet(name: str, in_channels: int, cifar_stem: bool, zero_init_residual: bool) -> tuple[nn.Module, int]:
    """torchvision's ResNet without its classifier. The CIFAR stem (SimSiam App. D) is a 3x3 conv
    with stride 1 and no max-pool, so 32 px images are not downsampled 4x before the first block.
    zero_init_residual: each block's last BN starts with a zero scale (the official SimSiam, MoCo v3,
    SimCLR and BYOL ResNets do)."""
    net = getattr(torchvision.models, name)(weights=None, zero_init_residual=zero_init_residual)
    if cifar_stem:
        net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
    dim = net.fc.in_features
    net.fc = nn.Identity()
    return net, dim


def build_backbone(name: str, in_channels: int, width: int, zero_init_residual: bool) -> tuple[nn.Module, int]:
    if name == "small_cnn":
        return small_cnn(in_channels, width)
    if name == "resnet18_cifar":
        return resnet("resnet18", in_channels, cifar_stem=True, zero_init_residual=zero_init_residual)
    return resnet(name, in_channels, cifar_stem=False, zero_init_residual=zero_init_residual)


def build_encoder(backbone: Backbone, in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    """The encoder a run's config names, with its feature dimension."""
    if backbone.name == "vit":
        return vit(backbone.vit, in_channels, image_size)
    if backbone.name == "small_cnn":
        return small_cnn(in_channels, backbone.width * backbone.width_multiplier, backbone.selective_kernels)
    if backbone.width_multiplier > 1 or backbone.selective_kernels:  # SimCLR v2's ResNets, on timm
        return simclr_resnet(backbone.name, in_channels, backbone.width_multiplier, backbone.selective_kernels,
                             backbone.cifar_stem, backbone.zero_init_residual)
    if ":" in backbone.name:  # torchvision:<model>, timm:<model>
        return registry_backbone(backbone.name, in_channels, image_size, backbone.cifar_stem,
                                 backbone.zero_init_residual)
    return build_backbone(backbone.name, in_channels, backbone.width, backbone.zero_init_residual)
