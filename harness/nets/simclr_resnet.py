"""SimCLR v2's ResNets (its Table 1): a width multiplier and selective kernels (SK), built on timm's ResNet
as google-research/simclr `tf2/resnet.py` builds them (`backbone.width_multiplier`, `backbone.selective_kernels`).

The width multiplier w multiplies every channel: the stem 64w, the stages 64, 128, 256, 512 x w (x4 at
a bottleneck's output: R50-2x has 4096-d features). torchvision's wide_resnet50_2 is another network:
it widens only the bottleneck's inner 3x3 and stays 2048-d. With SK (tf2's sk_ratio 0.0625), each
bottleneck's 3x3 conv becomes an SK conv (two 3x3 streams over the whole input, each with its BN and
ReLU, mixed by a softmax attention from their sum's global average through 1x1 conv, BN, ReLU, 1x1
conv), and the network becomes a ResNet-D: a deep stem (3x3 convs of 32w, 32w, 64w, the first of
stride 2) and shortcuts that average-pool before their 1x1 conv.

Where this build differs from tf2/resnet.py (none changes a parameter count, except the last two):
- initialization: convs kaiming-normal (fan_out, ReLU gain), timm's and torchvision's; tf2 uses
  Keras's VarianceScaling() (truncated normal, fan_in, scale 1). A replaced first conv (the CIFAR
  stem) has PyTorch's default init, as the torchvision ResNets here.
- padding of strided layers: PyTorch pads both sides; tf2 pads a strided conv symmetrically too (the
  same), but its 3x3 max-pool is SAME (one pixel after, none before): the stem's pooling grid is
  shifted by one pixel.
- ResNet-D shortcut of the first stage (stride 1): timm has no pooling there; tf2 averages 2x2
  windows with stride 1 (SAME) before the 1x1 conv. Other stages: the same 2x2 stride-2 average.
- SK attention width: tf2 takes max(c / 16, 32) channels for c filters; timm rounds c / 16 to a
  multiple of 32 (at least 32). The same at 1x and 2x; at 3x the third stage has 64 for tf2's 48.
- basic blocks (ResNet-18/34): tf2 projects every stage's first shortcut (a 1x1 conv + BN even where
  the shapes match, stage 1) and with SK keeps its plain 3x3 convs (only the ResNet-D stem and
  shortcuts change); here stage 1 has the identity shortcut (torchvision's and timm's ResNet), and
  SK replaces each basic block's first 3x3 conv (timm's SelectiveKernelBasic, the SK paper's place).
"""

from __future__ import annotations

import torch.nn as nn
from timm.layers import SelectiveKernel
from timm.models.resnet import BasicBlock, Bottleneck, ResNet
from timm.models.sknet import SelectiveKernelBasic, SelectiveKernelBottleneck

from harness.config import resnet_depth

STAGE_CHANNELS = (64, 128, 256, 512)  # x width_multiplier; a bottleneck's output is 4x these
SK_RATIO = 0.0625  # tf2's sk_ratio: the SK attention's width, a 16th of its convs'
SK_MIN_DIM = 32  # tf2's SK_Conv2D min_dim (timm: the multiple the attention width rounds to)
# Two 3x3 streams (no dilation: tf2's "both are 3x3"), each over the whole input (no input split).
SK_CONV = dict(kernel_size=[3, 3], split_input=False, rd_ratio=SK_RATIO, rd_divisor=SK_MIN_DIM)
RESNET_LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def sk_conv(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """tf2's SK_Conv2D: two 3x3 conv-BN-ReLU streams mixed by their softmax attention."""
    return SelectiveKernel(in_channels, out_channels, stride=stride, **SK_CONV)


def simclr_resnet(name: str, in_channels: int, width_multiplier: int, selective_kernels: bool,
                  cifar_stem: bool, zero_init_residual: bool) -> tuple[nn.Module, int]:
    """(encoder, feature dim) of the ResNet `name` (resnet50, torchvision:resnet152, resnet18_cifar...)
    at SimCLR's width and with or without SK. cifar_stem: SimSiam's and tf2's CIFAR stem (one 3x3
    conv of 64w, stride 1, no max-pool), in place of either ImageNet stem."""
    depth = resnet_depth(name)
    layers, bottleneck = RESNET_LAYERS[depth], depth >= 50
    if selective_kernels:
        block, block_args = (SelectiveKernelBottleneck if bottleneck else SelectiveKernelBasic), {"sk_kwargs": SK_CONV}
    else:
        block, block_args = (Bottleneck if bottleneck else BasicBlock), {}
    stem = 64 * width_multiplier
    # timm's 7x7 stem is 64 wide whatever stem_width; its deep stem is 2 x stem_width: built deep, the
    # stages take 64w channels, and the stem is replaced below where it is not SK's.
    net = ResNet(block, list(layers), num_classes=0, in_chans=in_channels, stem_type="deep",
                 stem_width=stem // 2, avg_down=selective_kernels, zero_init_last=zero_init_residual,
                 channels=tuple(c * width_multiplier for c in STAGE_CHANNELS), block_args=block_args)
    if cifar_stem or name == "resnet18_cifar":
        net.conv1 = nn.Conv2d(in_channels, stem, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif not selective_kernels:  # the plain ResNet's 7x7 stem, with timm's init
        net.conv1 = nn.Conv2d(in_channels, stem, 7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    return net, net.num_features
