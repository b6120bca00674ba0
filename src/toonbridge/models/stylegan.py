"""The StyleGAN2 family (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), plain PyTorch.

No custom CUDA kernels and no compiled ops, so it trains and runs on a CPU (the reference code's ``upfirdn2d`` and
fused bias-activation are why pSp fails there). What is kept from the paper:

- a mapping network z → w (pixel-normalised z, ``mapping_layers`` fully connected layers at 0.01× learning rate);
- W+: the synthesis network takes one style per layer (``num_ws`` of them), which is what style mixing and an
  encoder into W+ (pSp) need;
- modulated and demodulated 3×3 convolutions, per-pixel noise with a learned strength, a learned 4×4 constant;
- skip to-RGB outputs summed over resolutions;
- a residual discriminator ending in a minibatch-standard-deviation layer;
- equalised learning rate (weights drawn from N(0, 1) and scaled by He's constant at run time).

What is simplified for CPU speed: upsampling is bilinear then a 3×3 convolution (instead of a transposed convolution
with a [1, 3, 3, 1] blur), downsampling is a 2×2 average pool before the convolution, and modulation scales the
activations instead of the weights (the "non-fused" form, the same function; one ordinary convolution per layer
instead of a grouped one per sample).

Channel widths are ``min(channel_base // resolution, channel_max)``. Blocks are keyed by resolution, so a 128-px
network holds every layer of a 64-px one under the same names (growing a run is loading the smaller one first).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from toonbridge.models import register

ACTIVATION_GAIN = math.sqrt(2)  # keeps the signal's magnitude through a leaky ReLU, as in the paper


def _leaky(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * ACTIVATION_GAIN


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    return min(channel_base // resolution, channel_max)


def _check_resolution(resolution: int) -> int:
    log2 = int(math.log2(resolution)) if resolution > 0 else 0
    if resolution < 8 or 2**log2 != resolution:
        raise ValueError(f"resolution must be a power of two of at least 8, not {resolution}")
    return log2


class EqualLinear(nn.Module):
    """A linear layer with equalised learning rate; ``lr_mul`` slows it down (the mapping network uses 0.01)."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mul: float = 1.0, activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight * self.weight_gain, self.bias * self.lr_mul)
        return _leaky(out) if self.activate else out


class EqualConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True, activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel * kernel)
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.weight.shape[-1] // 2)
        return _leaky(out) if self.activate else out


class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float = 0.01):
        super().__init__()
        sizes = [z_dim] + [w_dim] * layers
        self.layers = nn.Sequential(*[EqualLinear(a, b, lr_mul=lr_mul, activate=True) for a, b in zip(sizes, sizes[1:])])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)  # pixel norm: only z's direction matters
        return self.layers(z)


class ModulatedConv2d(nn.Module):
    """Convolution whose input channels are scaled by a style (from w), then demodulated to unit output variance."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, w_dim: int, demodulate: bool = True, upsample: bool = False):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)  # styles start at 1: the layer starts unmodulated
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel * kernel)
        self.demodulate = demodulate
        self.upsample = upsample

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w.float()).float()
        weight = self.weight * self.weight_gain
        x = x * styles.to(x.dtype)[:, :, None, None]
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        out = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
        if self.demodulate:
            # The norm of each sample's effective kernel (weight × style), computed in fp32 even under autocast.
            norm = (weight.float().square().sum(dim=(2, 3)) @ styles.square().t()).t()  # B × out
            out = out * torch.rsqrt(norm + 1e-8).to(out.dtype)[:, :, None, None]
        return out


class StyledLayer(nn.Module):
    """Modulated 3×3 convolution, noise with a learned strength, bias, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, upsample=upsample)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        # Fixed noise for evaluation, so that a seed always draws the same face; training draws fresh noise.
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution, generator=torch.Generator().manual_seed(2 * resolution + upsample)))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        out = self.conv(x, w)
        noise = torch.randn_like(out[:, :1]) if self.training else self.noise_const.to(out.dtype)
        out = out + noise * self.noise_strength.to(out.dtype) + self.bias.to(out.dtype)[:, None, None]
        return _leaky(out)


class ToRGB(nn.Module):
    def __init__(self, in_channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, 3, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias.to(x.dtype)[:, None, None]


class SynthesisBlock(nn.Module):
    """One resolution: upsampling layer, layer, to-RGB; uses three consecutive styles."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int):
        super().__init__()
        self.up = StyledLayer(in_channels, out_channels, w_dim, resolution, upsample=True)
        self.conv = StyledLayer(out_channels, out_channels, w_dim, resolution)
        self.to_rgb = ToRGB(out_channels, w_dim)

    def forward(self, x: torch.Tensor, rgb: torch.Tensor, ws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv(self.up(x, ws[:, 0]), ws[:, 1])
        rgb = F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False)
        return x, rgb + self.to_rgb(x, ws[:, 2])


@register("stylegan2_generator")
class StyleGAN2Generator(nn.Module):
    """z (or W+) → an RGB face in [-1, 1] (roughly; not clamped) at ``resolution`` px.

    ``forward(z, truncation=0.7)`` draws faces; ``mapping(z)`` gives w; ``synthesis(ws)`` draws from W+
    (B × ``num_ws`` × ``w_dim``). ``w_avg`` is the running mean of w that truncation pulls towards.
    """

    def __init__(self, resolution: int = 64, z_dim: int = 256, w_dim: int = 256, mapping_layers: int = 2,
                 channel_base: int = 4096, channel_max: int = 256, mapping_lr_mul: float = 0.01):
        super().__init__()
        log2 = _check_resolution(resolution)
        self.resolution, self.z_dim, self.w_dim = resolution, z_dim, w_dim
        self.num_ws = 2 * log2 - 2  # layer and to-RGB at 4 px, then three per resolution sharing one with the next
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, mapping_lr_mul)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        width = lambda res: channels_at(res, channel_base, channel_max)  # noqa: E731
        self.const = nn.Parameter(torch.randn(1, width(4), 4, 4))
        self.conv4 = StyledLayer(width(4), width(4), w_dim, 4)
        self.to_rgb4 = ToRGB(width(4), w_dim)
        self.blocks = nn.ModuleDict({str(2**i): SynthesisBlock(width(2**(i - 1)), width(2**i), w_dim, 2**i) for i in range(3, log2 + 1)})

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        if ws.ndim != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"synthesis takes B × {self.num_ws} × {self.w_dim} styles, got {tuple(ws.shape)}")
        x = self.conv4(self.const.expand(ws.shape[0], -1, -1, -1), ws[:, 0])
        rgb = self.to_rgb4(x, ws[:, 1])
        for index, block in enumerate(self.blocks.values()):
            x, rgb = block(x, rgb, ws[:, 1 + 2 * index: 4 + 2 * index])
        return rgb

    def truncate(self, w: torch.Tensor, truncation: float) -> torch.Tensor:
        return self.w_avg.to(w.dtype).lerp(w, truncation) if truncation != 1 else w

    def forward(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        w = self.truncate(self.mapping(z), truncation)
        return self.synthesis(w[:, None].expand(-1, self.num_ws, -1))


class DiscriminatorBlock(nn.Module):
    """Residual: 3×3 conv, 2× average pool, 3×3 conv; skip: pool and 1×1 conv; summed with unit variance."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = EqualConv2d(in_channels, in_channels, 3, activate=True)
        self.conv2 = EqualConv2d(in_channels, out_channels, 3, activate=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(F.avg_pool2d(x, 2))
        main = self.conv2(F.avg_pool2d(self.conv1(x), 2))
        return (main + skip) / math.sqrt(2)


def minibatch_stddev(x: torch.Tensor, group_size: int) -> torch.Tensor:
    """Append one channel: the mean standard deviation over groups of samples (tells D about diversity)."""
    batch, channels, height, width = x.shape
    group = min(group_size, batch)
    if batch % group:
        group = 1 if batch % 2 else 2
    y = x.float().reshape(group, -1, channels, height, width)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # one value per group
    y = y.repeat(group).reshape(batch, 1, 1, 1).expand(-1, 1, height, width)
    return torch.cat([x, y.to(x.dtype)], dim=1)


@register("stylegan2_discriminator")
class StyleGAN2Discriminator(nn.Module):
    def __init__(self, resolution: int = 64, channel_base: int = 4096, channel_max: int = 256, mbstd_group: int = 4):
        super().__init__()
        log2 = _check_resolution(resolution)
        width = lambda res: channels_at(res, channel_base, channel_max)  # noqa: E731
        self.mbstd_group = mbstd_group
        self.from_rgb = EqualConv2d(3, width(resolution), 1, activate=True)
        self.blocks = nn.ModuleDict({str(2**i): DiscriminatorBlock(width(2**i), width(2**(i - 1))) for i in range(log2, 2, -1)})
        self.final_conv = EqualConv2d(width(4) + 1, width(4), 3, activate=True)
        self.final_linear = EqualLinear(width(4) * 16, width(4), activate=True)
        self.out = EqualLinear(width(4), 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.from_rgb(image)
        for block in self.blocks.values():
            x = block(x)
        x = self.final_conv(minibatch_stddev(x, self.mbstd_group))
        return self.out(self.final_linear(x.flatten(1))).squeeze(1)
