"""The U-GAT-IT network family (Kim et al. 2020) and its photo2cartoon variant (minivision, 2020), one file.

Generator: encoder (c7s1, two stride-2 downsamplings, optional hourglass blocks, residual blocks) → CAM attention
(class activation map: an auxiliary classifier's GAP and GMP weights re-weight the feature channels; its logit
says "is this the source domain?") → an MLP that turns the attended features into AdaLIN's γ, β → decoder
(residual blocks with AdaLIN, optional hourglass blocks, two upsamplings with LIN) → c7s1-3, tanh.

The choices the two papers differ in are options:

- ``n_hourglass``: 0 is U-GAT-IT; 2 is photo2cartoon's hourglass blocks around the residual blocks.
- ``adalin``: ``"plain"`` (U-GAT-IT: γ, β from the attention MLP) or ``"soft"`` (photo2cartoon: each block
  blends those with the encoder's own content statistics, learnt weights starting at the content side).
- ``light``: the MLP reads the globally pooled features (U-GAT-IT light, photo2cartoon) instead of the whole
  flattened map (full U-GAT-IT: huge at 256 px).
- ``upsample``: nearest-neighbour + conv (both papers) or transposed convolution.

Discriminator: spectral-norm PatchGAN with its own CAM logit; ``n_layers`` 7 is U-GAT-IT's global and 5 its local
discriminator at 256 px. ``forward`` of the generator returns the image only, so styles and ONNX export treat it
like any generator; training calls :meth:`UGATITGenerator.forward_with_cam`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from toonbridge.models import register


class AdaLIN(nn.Module):
    """Adaptive layer-instance norm: ρ·IN(x) + (1-ρ)·LN(x), then γ, β from outside. ρ is clipped to [0, 1] by training."""

    def __init__(self, channels: int, rho: float = 0.9, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.rho = nn.Parameter(torch.full((1, channels, 1, 1), rho))

    def scale_shift(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel a, b with ρ·IN(x) + (1-ρ)·LN(x) = a·x + b: one pass for the statistics, one fused op after.

        The layer statistics follow from the instance ones (equal-sized channels), so x is reduced only once.
        """
        mean = x.mean(dim=(2, 3), keepdim=True)
        variance = (x - mean).square().mean(dim=(2, 3), keepdim=True)
        layer_mean = mean.mean(dim=1, keepdim=True)
        layer_variance = (variance + mean.square()).mean(dim=1, keepdim=True) - layer_mean.square()
        instance_scale = self.rho * torch.rsqrt(variance + self.eps)
        layer_scale = (1 - self.rho) * torch.rsqrt(layer_variance.clamp_min(0) + self.eps)
        return instance_scale + layer_scale, -(instance_scale * mean + layer_scale * layer_mean)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        a, b = self.scale_shift(x)
        gamma, beta = gamma[:, :, None, None], beta[:, :, None, None]
        return x * (a * gamma) + (b * gamma + beta)


class LIN(AdaLIN):
    """Layer-instance norm with its own learnt γ, β (the decoder's upsampling layers)."""

    def __init__(self, channels: int):
        super().__init__(channels, rho=0.0)
        self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        a, b = self.scale_shift(x)
        return x * (a * self.gamma) + (b * self.gamma + self.beta)


class SoftGammaBeta(nn.Module):
    """photo2cartoon's soft AdaLIN parameters: blend the style (attention MLP) γ, β with content ones."""

    def __init__(self, channels: int):
        super().__init__()
        self.content_gamma = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(True), nn.Linear(channels, channels))
        self.content_beta = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(True), nn.Linear(channels, channels))
        self.style_gamma = nn.Linear(channels, channels)
        self.style_beta = nn.Linear(channels, channels)
        self.weight_gamma = nn.Parameter(torch.zeros(1, channels))
        self.weight_beta = nn.Parameter(torch.zeros(1, channels))

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gamma = (1 - self.weight_gamma) * self.style_gamma(style) + self.weight_gamma * self.content_gamma(content)
        beta = (1 - self.weight_beta) * self.style_beta(style) + self.weight_beta * self.content_beta(content)
        return gamma, beta


class AdaLINBlock(nn.Module):
    def __init__(self, channels: int, soft: bool):
        super().__init__()
        self.conv1 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False))
        self.conv2 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False))
        self.norm1, self.norm2 = AdaLIN(channels), AdaLIN(channels)
        self.soft = SoftGammaBeta(channels) if soft else None

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, content: torch.Tensor,
                style: torch.Tensor) -> torch.Tensor:
        if self.soft is not None:
            gamma, beta = self.soft(content, style)
        out = F.relu(self.norm1(self.conv1(x), gamma, beta))
        return x + self.norm2(self.conv2(out), gamma, beta)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False), nn.InstanceNorm2d(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False), nn.InstanceNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class HourGlass(nn.Module):
    """A residual hourglass: the input plus a down-up path (two levels) that sees a wider context cheaply."""

    def __init__(self, channels: int, depth: int = 2):
        super().__init__()
        self.skip = ResidualBlock(channels)
        self.down = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, stride=2, bias=False),
                                  nn.InstanceNorm2d(channels), nn.ReLU(True))
        self.inner = HourGlass(channels, depth - 1) if depth > 1 else ResidualBlock(channels)
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
                                nn.Conv2d(channels, channels, 3, bias=False), nn.InstanceNorm2d(channels), nn.ReLU(True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.up(self.inner(self.down(x)))


@register("ugatit_generator")
class UGATITGenerator(nn.Module):
    def __init__(self, ngf: int = 32, n_blocks: int = 4, n_hourglass: int = 2, adalin: str = "soft", light: bool = True,
                 upsample: str = "resize", image_size: int = 256):
        super().__init__()
        if adalin not in ("soft", "plain"):
            raise ValueError(f"adalin must be 'soft' or 'plain', not {adalin!r}")
        if upsample not in ("resize", "transpose"):
            raise ValueError(f"upsample must be 'resize' or 'transpose', not {upsample!r}")
        channels = ngf * 4
        encoder: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, bias=False), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for multiple in (1, 2):
            encoder += [nn.ReflectionPad2d(1), nn.Conv2d(ngf * multiple, ngf * multiple * 2, 3, stride=2, bias=False),
                        nn.InstanceNorm2d(ngf * multiple * 2), nn.ReLU(True)]
        encoder += [HourGlass(channels) for _ in range(n_hourglass)]
        encoder += [ResidualBlock(channels) for _ in range(n_blocks)]
        self.encoder = nn.Sequential(*encoder)
        # CAM: the auxiliary classifier's weights re-weight the channels (GAP and GMP branches).
        self.gap_fc = nn.Linear(channels, 1, bias=False)
        self.gmp_fc = nn.Linear(channels, 1, bias=False)
        self.merge = nn.Sequential(nn.Conv2d(channels * 2, channels, 1), nn.ReLU(True))
        self.light = light
        mlp_in = channels if light else channels * (image_size // 4) ** 2
        self.mlp = nn.Sequential(nn.Linear(mlp_in, channels, bias=False), nn.ReLU(True),
                                 nn.Linear(channels, channels, bias=False), nn.ReLU(True))
        self.soft = adalin == "soft"
        if not self.soft:  # soft blocks make their own γ, β from the same style vector
            self.gamma = nn.Linear(channels, channels, bias=False)
            self.beta = nn.Linear(channels, channels, bias=False)
        self.blocks = nn.ModuleList(AdaLINBlock(channels, soft=adalin == "soft") for _ in range(n_blocks))
        decoder: list[nn.Module] = [HourGlass(channels) for _ in range(n_hourglass)]
        for multiple in (4, 2):
            out = ngf * multiple // 2
            if upsample == "resize":
                decoder += [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1), nn.Conv2d(ngf * multiple, out, 3, bias=False)]
            else:
                decoder += [nn.ConvTranspose2d(ngf * multiple, out, 3, stride=2, padding=1, output_padding=1, bias=False)]
            decoder += [LIN(out), nn.ReLU(True)]
        decoder += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.decoder = nn.Sequential(*decoder)

    def forward_with_cam(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image, CAM logit N×2, attention heatmap N×1×h×w)."""
        features = self.encoder(x)
        content = F.adaptive_avg_pool2d(features, 1).flatten(1)
        gap_logit = self.gap_fc(content)
        gmp_logit = self.gmp_fc(F.adaptive_max_pool2d(features, 1).flatten(1))
        attended = torch.cat([features * self.gap_fc.weight[:, :, None, None], features * self.gmp_fc.weight[:, :, None, None]], dim=1)
        attended = self.merge(attended)
        heatmap = attended.sum(dim=1, keepdim=True)
        pooled = F.adaptive_avg_pool2d(attended, 1).flatten(1) if self.light else attended.flatten(1)
        style = self.mlp(pooled)
        gamma, beta = (None, None) if self.soft else (self.gamma(style), self.beta(style))
        out = attended
        for block in self.blocks:
            out = block(out, gamma, beta, content, style)
        return self.decoder(out), torch.cat([gap_logit, gmp_logit], dim=1), heatmap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_cam(x)[0]

    def clip_rho(self) -> None:
        """Keep every AdaLIN/LIN mixing weight in [0, 1] (U-GAT-IT's RhoClipper, after each optimiser step)."""
        for module in self.modules():
            if isinstance(module, AdaLIN):
                module.rho.data.clamp_(0, 1)


@register("ugatit_discriminator")
class UGATITDiscriminator(nn.Module):
    """Spectral-norm PatchGAN with a CAM logit; returns (patch logits, CAM logit N×2)."""

    def __init__(self, ndf: int = 64, n_layers: int = 5):
        super().__init__()
        sn = nn.utils.spectral_norm
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), sn(nn.Conv2d(3, ndf, 4, stride=2)), nn.LeakyReLU(0.2, True)]
        channels = ndf
        for _ in range(1, n_layers - 2):
            layers += [nn.ReflectionPad2d(1), sn(nn.Conv2d(channels, channels * 2, 4, stride=2)), nn.LeakyReLU(0.2, True)]
            channels *= 2
        layers += [nn.ReflectionPad2d(1), sn(nn.Conv2d(channels, channels * 2, 4, stride=1)), nn.LeakyReLU(0.2, True)]
        channels *= 2
        self.features = nn.Sequential(*layers)
        self.gap_fc = sn(nn.Linear(channels, 1, bias=False))
        self.gmp_fc = sn(nn.Linear(channels, 1, bias=False))
        self.merge = nn.Sequential(nn.Conv2d(channels * 2, channels, 1), nn.LeakyReLU(0.2, True))
        self.out = nn.Sequential(nn.ReflectionPad2d(1), sn(nn.Conv2d(channels, 1, 4, stride=1, bias=False)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(x)
        gap_logit = self.gap_fc(F.adaptive_avg_pool2d(features, 1).flatten(1))
        gmp_logit = self.gmp_fc(F.adaptive_max_pool2d(features, 1).flatten(1))
        attended = torch.cat([features * self.gap_fc.weight[:, :, None, None], features * self.gmp_fc.weight[:, :, None, None]], dim=1)
        return self.out(self.merge(attended)), torch.cat([gap_logit, gmp_logit], dim=1)
