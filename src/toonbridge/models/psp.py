"""The pSp encoder (Richardson et al. 2021, "Encoding in Style"): an aligned face → W+ of our face generator.

pSp's GradualStyleEncoder, scaled to our face network and generator:

- **Backbone**: the stem and first three residual stages of our face network (dlib's ResNet,
  :mod:`toonbridge.models.face_resnet`), started from its pretrained weights and fine-tuned. pSp starts from ArcFace
  IR-SE50; from random weights it does not train (pSp issue #76). The two deepest stages (4 and 2 px, 4.3 M of the
  network's 5.6 M parameters) are left out: the 8-px stage already carries identity, and the file stays small.
- **Feature pyramid**: the 8-px map projected to ``width`` channels, upsampled and added to 1×1 projections of the
  17- and 35-px maps (pSp's FPN over its 16/32/64-px maps).
- **map2style**: per pyramid level, strided 3×3 convolutions (leaky ReLU) down to 1×1, then one linear layer per
  style; the coarse third of the styles reads the 8-px level, the middle third the 17-px level, the fine third the
  35-px level. Unlike pSp, a level's strided convolutions are shared by its styles (one trunk per level, not one per
  style), which is 3 trunks instead of 12 and keeps CPU training affordable.
- The styles are offsets from the generator's average w (``w_avg``, pSp's ``start_from_latent_avg``), stored with
  the encoder so that a file is complete.

Input: aligned crops in [-1, 1] at any size, resized inside to the face network's 150-px chip size.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from toonbridge.models import register
from toonbridge.models.face_resnet import CHANNEL_MEAN, CHIP_SIZE, STAGES, Affine, ResidualBlock

BACKBONE_STAGES = 3  # the 35-, 17- and 8-px stages of the face network


def _level_sizes(input_size: int) -> list[int]:
    """Spatial sizes of the three backbone stages for a square input (35, 17, 8 at 150 px)."""
    size = (input_size - 7) // 2 + 1  # 7×7 stride-2 stem, no padding
    size = (size - 3) // 2 + 1  # 3×3 stride-2 max-pool
    sizes = [size]
    for _ in range(BACKBONE_STAGES - 1):
        size = (size - 3) // 2 + 1  # the down-sampling block's unpadded stride-2 convolution
        sizes.append(size)
    return sizes


def _trunk(width: int, size: int) -> nn.Sequential:
    """Strided 3×3 convolutions from ``size`` px down to 1×1 (pSp's GradualStyleBlock without its linear layer)."""
    layers: list[nn.Module] = []
    for _ in range(max(1, math.ceil(math.log2(size)))):
        layers += [nn.Conv2d(width, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers)


@register("psp_encoder")
class PSPEncoder(nn.Module):
    """B×3×H×W aligned faces in [-1, 1] → B × ``num_ws`` × ``w_dim`` styles for the generator's ``synthesis``."""

    def __init__(self, num_ws: int = 12, w_dim: int = 256, width: int = 128, input_size: int = CHIP_SIZE,
                 generator: str = "faces"):
        super().__init__()
        self.num_ws, self.w_dim, self.input_size = num_ws, w_dim, input_size
        self.generator_name = generator  # the generator these styles are for ("faces": the shipped one), kept in the file
        self.stem = nn.Conv2d(3, 32, 7, stride=2)
        self.stem_affine = Affine(32)
        blocks, channels, self.stage_ends = [], 32, []
        for stage_width, count, down in STAGES[:BACKBONE_STAGES]:
            for index in range(count):
                blocks.append(ResidualBlock(channels, stage_width, down and index == 0))
                channels = stage_width
            self.stage_ends.append(len(blocks) - 1)
        self.blocks = nn.ModuleList(blocks)
        stage_channels = [stage[0] for stage in STAGES[:BACKBONE_STAGES]]
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in stage_channels)
        self.trunks = nn.ModuleList(_trunk(width, size) for size in _level_sizes(input_size))
        self.heads = nn.ModuleList(nn.Linear(width, w_dim) for _ in range(num_ws))
        # Style i reads level 2 (8 px) for the coarse third, 1 for the middle third, 0 (35 px) for the fine rest.
        self.level_of_style = [2 if i < num_ws // 3 else 1 if i < 2 * num_ws // 3 else 0 for i in range(num_ws)]
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.register_buffer("mean", torch.tensor(CHANNEL_MEAN)[:, None, None], persistent=False)

    def backbone_state_from(self, face_network: nn.Module) -> None:
        """Start the backbone from the pretrained face network (its stem and first three stages)."""
        wanted = {key: value for key, value in face_network.state_dict().items()
                  if key.startswith(("stem.", "stem_affine.")) or (key.startswith("blocks.") and int(key.split(".")[1]) < len(self.blocks))}
        missing = [key for key in wanted if key not in self.state_dict()]
        if missing:
            raise ValueError(f"the face network does not fit the encoder's backbone ({missing[0]})")
        self.load_state_dict(wanted, strict=False)

    def stages(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The backbone's three stage outputs (35, 17, 8 px): the face network's own at the start of training."""
        # The face network reads dlib's 0..255 pixels; resizing runs in fp32 (antialiasing has no bf16 kernel on the
        # CPU) and antialiases only when it shrinks (enlarging is the same either way, and ONNX has no such operator).
        chips = F.interpolate(images.float(), size=(self.input_size, self.input_size), mode="bilinear",
                              align_corners=False, antialias=images.shape[-1] > self.input_size)
        x = (chips.add(1).mul(127.5) - self.mean) / 256
        x = F.max_pool2d(F.relu(self.stem_affine(self.stem(x.to(images.dtype)))), 3, stride=2)
        found = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.stage_ends:
                found.append(x)
        return found

    def pyramid(self, images: torch.Tensor) -> list[torch.Tensor]:
        stages = self.stages(images)
        levels = [self.lateral[2](stages[2])]
        for index in (1, 0):
            upsampled = F.interpolate(levels[0], size=stages[index].shape[-2:], mode="bilinear", align_corners=False)
            levels.insert(0, upsampled + self.lateral[index](stages[index]))
        return levels  # 35, 17, 8 px

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        codes = [trunk(level).flatten(1) for trunk, level in zip(self.trunks, self.pyramid(images))]
        styles = torch.stack([head(codes[level]) for head, level in zip(self.heads, self.level_of_style)], dim=1)
        return styles + self.w_avg.to(styles.dtype)

    def for_inference(self, device: torch.device | str = "cpu") -> "PSPInverter":
        """What a style runs: this encoder with the generator its styles are for (a style ships only the encoder)."""
        return PSPInverter(self, load_generator(self.generator_name, device)).to(device).eval()


def load_generator(name: str, device: torch.device | str = "cpu") -> nn.Module:
    """The frozen face generator an encoder belongs to: ``"faces"`` is the shipped one, else a file or a run."""
    from toonbridge.api import face_generator

    return face_generator(None if name == "faces" else name, device).requires_grad_(False)


class PSPInverter(nn.Module):
    """Aligned faces (any kind: photos, cartoons) in, realistic faces out, both in [-1, 1] at the generator's size.

    :meth:`variants` draws several faces per input by style mixing: the fine styles (colour, texture, lighting)
    are taken from random latents, the coarse and middle ones (pose, shape, features) kept (pSp's ``latent_mask``).

    ``refine_steps`` > 0 finishes the encoder's styles by optimisation (:func:`refine_styles`): slower by the steps,
    closer to the input.
    """

    def __init__(self, encoder: PSPEncoder, generator: nn.Module, refine_steps: int = 0):
        super().__init__()
        self.encoder, self.generator = encoder, generator
        self.refine_steps = refine_steps

    def styles(self, images: torch.Tensor) -> torch.Tensor:
        """W+ of each image: the encoder's, refined by ``refine_steps`` of optimisation if asked."""
        styles = self.encoder(images)
        if self.refine_steps:
            styles = refine_styles(self.generator, styles, images, self.refine_steps)
        return styles

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.generator.synthesis(self.styles(images))

    def variants(self, images: torch.Tensor, count: int, seed: int = 0, mix_from: int | None = None,
                 alpha: float = 0.5, truncation: float = 0.7) -> torch.Tensor:
        """B × ``count`` × 3 × H × W: styles from layer ``mix_from`` on (default: the fine third) moved by ``alpha``
        towards those of random faces drawn from ``seed`` (the same seed gives the same variants). The random faces
        are truncated and only half-way mixed in: fully mixed, untruncated ones bring yellow or red skin along."""
        styles = self.styles(images)
        first = 2 * self.encoder.num_ws // 3 if mix_from is None else mix_from
        z = torch.randn(count, self.generator.z_dim, generator=torch.Generator().manual_seed(seed)).to(styles.device)
        random_w = self.generator.truncate(self.generator.mapping(z), truncation).to(styles.dtype)  # count × w_dim
        mixed = styles[:, None].repeat(1, count, 1, 1)  # B × count × num_ws × w_dim
        mixed[:, :, first:] = mixed[:, :, first:].lerp(random_w[None, :, None].expand_as(mixed[:, :, first:]), alpha)
        return self.generator.synthesis(mixed.flatten(0, 1)).unflatten(0, (images.shape[0], count))


REFINE_LEARNING_RATE = 0.03  # Adam on W+; with 0.01, 25 steps did what 15 do at 0.03 (docs/models.md)


def refine_styles(generator: nn.Module, styles: torch.Tensor, images: torch.Tensor, steps: int,
                  lr: float = REFINE_LEARNING_RATE,
                  observe: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """The hybrid inversion (an encoder's start, optimisation to finish, as in-domain GAN inversion and e4e do):
    ``steps`` of Adam on the styles so that the frozen generator redraws ``images``, by pSp's two image terms, L2
    and our face network's perceptual distance (0.8). No identity term: the perceptual one reads the face
    network's 35-, 17- and 8-px stages, the same-person judge its final descriptor. ``observe`` degrades each
    drawing as the input was degraded before it is compared (super-resolution: :func:`as_if_shrunk`, so that only
    what the small input shows constrains the face, as PULSE does). Runs under the caller's autocast."""
    from toonbridge.losses.face_features import face_perceptual_loss

    observe = observe or (lambda drawn: drawn)
    target = images.detach().float()
    styles = styles.detach().float().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([styles], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            seen = observe(generator.synthesis(styles).float())
            loss = F.mse_loss(seen, target) + 0.8 * face_perceptual_loss(seen, target)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    return styles.detach()


def as_if_shrunk(small_size: tuple[int, int]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Images as a ``small_size`` (H, W) copy enlarged back to their size shows them: area-averaged down, bicubic
    up, as the super-resolution encoder's inputs are made."""
    def observe(images: torch.Tensor) -> torch.Tensor:
        small = F.interpolate(images, size=small_size, mode="area")
        return F.interpolate(small, size=images.shape[-2:], mode="bicubic", align_corners=False)
    return observe
