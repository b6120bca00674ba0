"""TwinGAN (Jerry Li, 2018): one encoder and one generator for every face domain; only the normalisation differs.

Every convolution is shared. Each normalisation layer is a conditional instance norm (Dumoulin et al., "A Learned
Representation for Artistic Style"): one (γ, β) per domain, the source domain's in the encoder and the target's in
the generator, so the network learns that a photo and a cartoon show the same kind of face, and the 8×8 code of
both lives in one space (``toonbridge lookalike`` searches it). Instance statistics, so no running statistics in
the norms; the one running statistic kept per domain is the mean code (``code_means``), because the domain norms
shift each domain's codes as a whole, and a search compares codes with their domain's mean taken off. The
generator's norms also add a (γ, β) offset per requested hair colour (:data:`toonbridge.faces.hair.HAIR_COLOURS`;
none when no colour is asked for), the seed's conditional batch norm.

Shape at 128 px, ``channels`` c: encoder 3 → c (128) → 2c (64) → 4c (32) → 8c (16) → 8c (8, the code); residual
blocks on the code; the generator upsamples (nearest + 3×3 conv, no checkerboard) and concatenates the encoder's
map of the same size at the levels in ``skips`` (the author's U-Net skips; not at full size by default, where they
copied the photo's skin texture into cartoons).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from toonbridge.models import register


class ConditionalInstanceNorm(nn.Module):
    """Instance norm whose scale and shift are picked per domain, plus an optional per-hair-colour offset."""

    def __init__(self, channels: int, n_domains: int, n_hair: int = 0):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n_domains, channels))
        self.beta = nn.Parameter(torch.zeros(n_domains, channels))
        # Offsets start at 0: an unrequested colour (index -1) and a fresh request both leave the domain's own norm.
        self.hair_gamma = nn.Parameter(torch.zeros(n_hair, channels)) if n_hair else None
        self.hair_beta = nn.Parameter(torch.zeros(n_hair, channels)) if n_hair else None

    def forward(self, x: torch.Tensor, domain: torch.Tensor, hair: torch.Tensor | None = None) -> torch.Tensor:
        """``domain``: N indices; ``hair``: N indices into the colours, -1 for none."""
        gamma, beta = self.gamma[domain], self.beta[domain]
        if hair is not None and self.hair_gamma is not None:
            asked = (hair >= 0).unsqueeze(1).to(gamma.dtype)
            index = hair.clamp(min=0)
            gamma = gamma + asked * self.hair_gamma[index]
            beta = beta + asked * self.hair_beta[index]
        x = F.instance_norm(x)
        return x * gamma[:, :, None, None].to(x.dtype) + beta[:, :, None, None].to(x.dtype)


class _Stage(nn.Module):
    """conv → conditional norm → activation."""

    def __init__(self, conv: nn.Conv2d, n_domains: int, n_hair: int = 0, slope: float = 0.2):
        super().__init__()
        self.conv = conv
        self.norm = ConditionalInstanceNorm(conv.out_channels, n_domains, n_hair)
        self.slope = slope

    def forward(self, x, domain, hair=None):
        return F.leaky_relu(self.norm(self.conv(x), domain, hair), self.slope)


class _Residual(nn.Module):
    def __init__(self, channels: int, n_domains: int, n_hair: int):
        super().__init__()
        self.first = _Stage(nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect"), n_domains, n_hair, 0.0)
        self.second_conv = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect")
        self.second_norm = ConditionalInstanceNorm(channels, n_domains, n_hair)

    def forward(self, x, domain, hair=None):
        return x + self.second_norm(self.second_conv(self.first(x, domain, hair)), domain, hair)


@register("twingan")
class TwinGAN(nn.Module):
    def __init__(self, domains: list[str], channels: int = 32, n_blocks: int = 2, skips: list[int] | None = None,
                 hair_colours: list[str] | None = None, image_size: int = 128):
        super().__init__()
        self.domains = list(domains)
        self.hair_colours = list(hair_colours or [])
        self.image_size = image_size
        self.skips = sorted(skips if skips is not None else [16, 32, 64])
        n, h, c = len(self.domains), len(self.hair_colours), channels
        widths = [c, 2 * c, 4 * c, 8 * c, 8 * c]  # at image_size / 1, 2, 4, 8, 16
        self.stem = nn.Conv2d(3, c, 3, padding=1, padding_mode="reflect")
        self.down = nn.ModuleList(_Stage(nn.Conv2d(a, b, 4, stride=2, padding=1), n) for a, b in zip(widths, widths[1:]))
        self.blocks = nn.ModuleList(_Residual(widths[-1], n, h) for _ in range(n_blocks))
        self.up = nn.ModuleList()
        for level in range(len(widths) - 1, 0, -1):  # from the code's width back to c
            size = image_size >> (level - 1)
            extra = widths[level - 1] if size in self.skips else 0
            self.up.append(_Stage(nn.Conv2d(widths[level] + extra, widths[level - 1], 3, padding=1, padding_mode="reflect"), n, h, 0.0))
        self.to_rgb = nn.Conv2d(c, 3, 3, padding=1, padding_mode="reflect")
        # Each domain's mean code, a running average kept by training (train/twingan.py). Zeros (a file from before
        # it existed, or never fitted) leave the codes as they are.
        self.register_buffer("code_means", torch.zeros(n, widths[-1], image_size // 16, image_size // 16))
        # The lookalike search's metric: unit directions of the centred, unit-length code (gender, then one per hair
        # colour), fitted afterwards on labelled training images of every domain (scripts/fit_twingan_search.py),
        # and how much the search stretches distances along each. Zero axes leave the search plain cosine.
        self.register_buffer("search_axes", torch.zeros(1 + h, widths[-1] * (image_size // 16) ** 2))
        self.register_buffer("search_stretch", torch.ones(1 + h))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("code_means", "search_axes", "search_stretch"):  # files from before they existed
            state_dict.setdefault(prefix + name, getattr(self, name).clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def track_code_means(self, code: torch.Tensor, source: torch.Tensor, momentum: float = 0.01) -> None:
        """Move each domain's running mean code towards the mean of this batch's codes of that domain."""
        for k in source.unique().tolist():
            self.code_means[k].lerp_(code[source == k].float().mean(0), momentum)

    def search_embedding(self, codes: torch.Tensor) -> torch.Tensor:
        """Centred codes (N×…) as the lookalike search compares them: flattened to unit length, each fitted axis's
        component multiplied by its stretch, unit length again. Cosine distance of these ranks a gallery."""
        unit = F.normalize(codes.float().flatten(1), dim=1)
        axes = self.search_axes.float()
        return F.normalize(unit + (unit @ axes.T * (self.search_stretch.float() - 1)) @ axes, dim=1)

    def conditional_parameters(self) -> list[nn.Parameter]:
        """The per-domain and per-colour (γ, β): what tells domains and colours apart (the rest is shared)."""
        return [p for module in self.modules() if isinstance(module, ConditionalInstanceNorm) for p in module.parameters()]

    def domain_index(self, name: str) -> int:
        if name not in self.domains:
            raise ValueError(f"unknown domain {name!r}; this network knows {', '.join(self.domains)}")
        return self.domains.index(name)

    def hair_index(self, name: str | None) -> int:
        if name is None:
            return -1
        if name not in self.hair_colours:
            known = ", ".join(self.hair_colours) or "none (this network was trained without hair colours)"
            raise ValueError(f"unknown hair colour {name!r}; known: {known}")
        return self.hair_colours.index(name)

    def encode(self, x: torch.Tensor, source: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The code (N×8c×s/16×s/16) and the encoder's maps from full size down (for the skips)."""
        features = [F.leaky_relu(self.stem(x), 0.2)]
        for stage in self.down:
            features.append(stage(features[-1], source))
        return features[-1], features[:-1]

    def decode(self, code: torch.Tensor, features: list[torch.Tensor], target: torch.Tensor,
               hair: torch.Tensor | None = None) -> torch.Tensor:
        x = code
        for block in self.blocks:
            x = block(x, target, hair)
        for stage, skip in zip(self.up, reversed(features)):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            if skip.shape[-1] in self.skips:
                x = torch.cat([x, skip], dim=1)
            x = stage(x, target, hair)
        return torch.tanh(self.to_rgb(x))

    def forward(self, x: torch.Tensor, source: torch.Tensor, target: torch.Tensor, hair: torch.Tensor | None = None) -> torch.Tensor:
        code, features = self.encode(x, source)
        return self.decode(code, features, target, hair)

    def view(self, source: str, target: str, hair: str | None = None) -> "DomainTranslator":
        """A one-direction network (``x -> image``), as a style's ``to_cartoon``/``to_photo`` is used."""
        return DomainTranslator(self, self.domain_index(source), self.domain_index(target), self.hair_index(hair))


class DomainTranslator(nn.Module):
    """TwinGAN with its source, target and hair colour fixed (shares the weights). Without a requested colour, a
    network trained with colours is given each input's own (read by :mod:`toonbridge.faces.hair`), as training
    decodes every unrequested translation: with no colour at all its outputs drift from what it learnt."""

    def __init__(self, network: TwinGAN, source: int, target: int, hair: int = -1):
        super().__init__()
        self.network = network
        self.source, self.target, self.hair = source, target, hair

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        indices = torch.zeros(n, dtype=torch.long, device=x.device)
        if self.hair >= 0:
            hair = indices + self.hair
        elif self.network.hair_colours:
            from toonbridge.faces.hair import hair_colour_indices

            hair = hair_colour_indices(x)
        else:
            hair = None
        return self.network(x, indices + self.source, indices + self.target, hair)

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """The shared code of ``x`` read as the source domain, less that domain's mean code (what
        :mod:`toonbridge.lookalike` compares). Centring lines the domains up: on the celeba2bitmoji validation
        split it took the top-5 Bitmoji neighbours sharing the photo's gender from 68 % to 78 % (docs/models.md)."""
        code = self.network.encode(x, torch.full((x.shape[0],), self.source, dtype=torch.long, device=x.device))[0]
        return code - self.network.code_means[self.source].to(code.dtype)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """What :mod:`toonbridge.lookalike` compares: :meth:`code` through the network's search metric (N×D, unit
        rows)."""
        return self.network.search_embedding(self.code(x))
