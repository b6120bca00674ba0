"""The CycleGAN network family: the ResNet encoder/decoder generator and the PatchGAN discriminator.

Zhu et al. 2017 (and the pytorch-CycleGAN-and-pix2pix code): reflect padding, instance norm, residual blocks at
1/4 resolution. Two changes, both switchable, make it suit small CPU-trained models:

- ``upsample="resize"`` decodes with nearest-neighbour upsampling followed by a 3×3 convolution instead of a
  transposed convolution, which removes the checkerboard artefacts thin generators show on eyes and hair
  (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts").
- ``spectral_norm`` on discriminator convolutions keeps the small discriminators from overpowering the generator.

``resnet_generator(ngf=64, n_blocks=9, upsample="transpose")`` is the standard ResNet-9 generator, used as the
speed reference in benchmarks.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from toonbridge.models import register


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(channels), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _upsample(in_channels: int, out_channels: int, mode: str) -> list[nn.Module]:
    if mode == "transpose":
        return [nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1)]
    if mode == "resize":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, 3)]
    raise ValueError(f"upsample must be 'resize' or 'transpose', not {mode!r}")


@register("resnet_generator")
class ResnetGenerator(nn.Module):
    """c7s1-ngf, two stride-2 downsamplings, ``n_blocks`` residual blocks, two upsamplings, c7s1-3, tanh."""

    def __init__(self, ngf: int = 32, n_blocks: int = 6, upsample: str = "resize", in_channels: int = 3, out_channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7), _norm(ngf), nn.ReLU(inplace=True)]
        channels = ngf
        for _ in range(2):
            layers += [nn.Conv2d(channels, channels * 2, 3, stride=2, padding=1), _norm(channels * 2), nn.ReLU(inplace=True)]
            channels *= 2
        layers += [ResidualBlock(channels) for _ in range(n_blocks)]
        for _ in range(2):
            layers += _upsample(channels, channels // 2, upsample) + [_norm(channels // 2), nn.ReLU(inplace=True)]
            channels //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(channels, out_channels, 7), nn.Tanh()]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@register("patch_discriminator")
class PatchDiscriminator(nn.Module):
    """PatchGAN: a map of real/fake scores, each seeing one patch (70×70 px with ``n_layers=3``)."""

    def __init__(self, ndf: int = 64, n_layers: int = 3, in_channels: int = 3, spectral_norm: bool = True, norm: bool = True):
        super().__init__()
        # norm=False: White-box's discriminators, spectral norm only.
        wrap = nn.utils.spectral_norm if spectral_norm else (lambda module: module)
        layers: list[nn.Module] = [wrap(nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
        channels = ndf
        for index in range(1, n_layers + 1):
            out = ndf * min(2 ** index, 8)
            stride = 2 if index < n_layers else 1
            layers += [wrap(nn.Conv2d(channels, out, 4, stride=stride, padding=1))] + ([_norm(out)] if norm else []) + [nn.LeakyReLU(0.2, inplace=True)]
            channels = out
        layers.append(wrap(nn.Conv2d(channels, 1, 4, stride=1, padding=1)))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@register("branched_resnet_generator")
class BranchedResnetGenerator(nn.Module):
    """A ResNet generator with one first encoder block and one last decoder block per group, the rest shared.

    Few-shot group transfer (Zhuang & Yang 2020): a base model is trained on a data-rich group, then each new group
    gets its own copies of the outer blocks, initialised from the base and trained on that group while the shared
    middle stays frozen. The base group keeps its own branch, so it does not forget. ``active`` is the group
    ``forward`` uses; :meth:`select` switches it (and ONNX export takes the selected path).

    The layers are those of :class:`ResnetGenerator` with the same options, so :meth:`load_plain` fills every
    branch and the shared part from a plain generator's weights.
    """

    def __init__(self, groups: list[str], active: str | None = None, ngf: int = 32, n_blocks: int = 6, upsample: str = "resize"):
        super().__init__()
        if not groups or len(set(groups)) != len(groups):
            raise ValueError("groups must be a non-empty list of distinct names")
        layers = list(ResnetGenerator(ngf, n_blocks, upsample).layers)
        self.head_size = 4  # pad, c7s1 conv, norm, ReLU
        self.tail_size = (5 if upsample == "resize" else 3) + 3  # last upsampling block, then pad, c7s1 conv, tanh
        self.body = nn.Sequential(*layers[self.head_size:-self.tail_size])
        self.heads = nn.ModuleDict({group: nn.Sequential(*copy.deepcopy(layers[:self.head_size])) for group in groups})
        self.tails = nn.ModuleDict({group: nn.Sequential(*copy.deepcopy(layers[-self.tail_size:])) for group in groups})
        self.groups = list(groups)
        self.active = active or groups[0]
        self.select(self.active)

    def select(self, group: str) -> "BranchedResnetGenerator":
        if group not in self.heads:
            raise ValueError(f"unknown group {group!r}; this generator has {', '.join(self.groups)}")
        self.active = group
        return self

    def branch(self, group: str) -> nn.Sequential:
        """One group's path as its own module, sharing this generator's weights (for inference and ONNX)."""
        self.select(group)  # validates the name
        return nn.Sequential(self.heads[group], self.body, self.tails[group])

    def branch_parameters(self, group: str) -> list[nn.Parameter]:
        return [*self.heads[group].parameters(), *self.tails[group].parameters()]

    def load_plain(self, state: dict[str, torch.Tensor]) -> None:
        """Fill the shared part and every branch from a :class:`ResnetGenerator` state dict (``layers.N.*``)."""
        total = len(self.body) + self.head_size + self.tail_size
        mapped = {}
        for key, value in state.items():
            index, rest = key.split(".", 2)[1:]
            index = int(index)
            if index < self.head_size:
                mapped.update({f"heads.{group}.{index}.{rest}": value for group in self.groups})
            elif index >= total - self.tail_size:
                mapped.update({f"tails.{group}.{index - total + self.tail_size}.{rest}": value for group in self.groups})
            else:
                mapped[f"body.{index - self.head_size}.{rest}"] = value
        self.load_state_dict(mapped)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tails[self.active](self.body(self.heads[self.active](x)))
