"""White-box cartoonization (Wang & Yu, CVPR 2020; the seed's FacialCartoonization adds landmarks), photo -> cartoon.

One generator, two discriminators, trained on unpaired photos (A) and cartoons (B) through three hand-made
representations of what makes a cartoon (:mod:`toonbridge.ops`):

- surface: the guided filter of an image by itself (flat paint, edges kept), judged by a spectral-norm PatchGAN;
- texture: a random colour shift to grey, shared by fake and real in a step, judged by a second PatchGAN;
- structure: the generator's output against its own superpixel painting, compared in face-network features;

plus content (the output's face-network features against the photo's, on the face chip and on the whole frame),
total variation, and landmark consistency
(the frozen photo landmark regressor must find the photo's 5 points on the output: the output stays in the photo's
framing). The face network (:mod:`toonbridge.losses.face_features`, the [face-features] issue) stands in for the
authors' VGG19: its normalised stage features of dlib's chip, LPIPS-style, so the weights are re-tuned (content
0.5 and structure 1 instead of 200 on raw VGG maps, surface 1 instead of 0.1; docs/models.md).

``loss.reconstruction`` > 0 with every other weight 0 is the shared pre-training (L1 of output to photo, the
authors' first phase); each style then starts from it with ``init_from``. The generator steps first, then both
discriminators, once each per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from toonbridge.losses import l1_loss, landmark_consistency_loss, lsgan_discriminator_loss, lsgan_generator_loss
from toonbridge.losses.face_features import (DESCRIPTOR_STAGES, PERCEPTUAL_STAGE_WEIGHTS, descriptor_distance,
                                             descriptor_from_features, face_perceptual_features, perceptual_distance)
from toonbridge.losses.smoothness import total_variation_loss
from toonbridge.models import build, load_network
from toonbridge.ops.colour_shift import random_colour_shift
from toonbridge.ops.guided_filter import guided_filter
from toonbridge.ops.superpixels import superpixel_batch
from toonbridge.train.config import ConfigError, TrainConfig, UnpairedData
from toonbridge.train.method import register_method
from toonbridge.train.unpaired import UnpairedTranslation

ADVERSARIAL_TERMS = ("surface", "texture")


@dataclass
class WhiteboxModel:
    channels: int = 32  # 32 and 4 blocks: the authors' 1.47 M-parameter U-Net
    n_blocks: int = 4
    ndf: int = 32
    disc_layers: int = 3
    # The photo landmark regressor (the bitmoji template's, which every whitebox style is framed by).
    landmark_regressor: str = "src/toonbridge/weights/bitmoji/landmarks_photo.safetensors"


@dataclass
class WhiteboxLoss:
    # The shipped styles' weights (configs/whitebox-bitmoji.yaml; the authors' surface 0.1 and content 1 barely
    # changed a photo in the CPU budget).
    reconstruction: float = 0.0  # L1 to the photo: the pre-training phase (with every other weight 0)
    surface: float = 1.0
    texture: float = 1.0
    structure: float = 1.0
    content: float = 0.5
    tv: float = 0.05
    landmark: float = 10.0  # on points as fractions of the image side
    # 1 - cos between the face network's descriptors of photo and output (pSp's ID loss). Content holds every pixel's
    # colour and edges to the photo's; this holds only who the face is, so a style can go further with less content.
    face_identity: float = 0.0
    surface_radius: int = 5  # the authors' guided filter for the surface representation: r 5, eps 0.2
    surface_eps: float = 0.2
    superpixel_segments: int = 200
    # [x0, y0, x1, y1] at the training size: the discriminators judge only this region of fakes and cartoons. For a
    # set reframed onto the template (anime), the region every cartoon covers: outside it a reframed cartoon is
    # padding, which the generator otherwise learnt to paint onto photos as stripes along the edges.
    judge_region: list[int] | None = None


@dataclass
class WhiteboxOptim:
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.99
    decay_start: float = 1.0  # the authors keep the rate constant


def _frozen(network: nn.Module) -> nn.Module:
    return network.eval().requires_grad_(False)


@register_method("whitebox")
class WhiteboxTraining(UnpairedTranslation):
    generator_name = "whitebox_generator"
    sections = {"data": UnpairedData, "model": WhiteboxModel, "loss": WhiteboxLoss, "optim": WhiteboxOptim}

    @classmethod
    def check_sections(cls, loss: WhiteboxLoss, **_) -> None:
        if all(getattr(loss, name) == 0 for name in ("reconstruction", "surface", "texture", "structure", "content", "tv", "landmark", "face_identity")):
            raise ConfigError("loss: every weight is 0; set reconstruction for the pre-training, or the style terms")

    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        m, o, loss = self.model_config, self.optim_config, self.loss_config
        self.generator_options = {"channels": m.channels, "n_blocks": m.n_blocks}
        self.to_cartoon = build(self.generator_name, **self.generator_options).to(device)
        disc = {"ndf": m.ndf, "n_layers": m.disc_layers, "spectral_norm": True, "norm": False}
        self.discriminators = nn.ModuleDict({"surface": build("patch_discriminator", in_channels=3, **disc),
                                             "texture": build("patch_discriminator", in_channels=1, **disc)}).to(device)
        self.networks = {"to_cartoon": self.to_cartoon, "discriminators": self.discriminators}
        adam = {"lr": o.lr, "betas": (o.beta1, o.beta2)}
        self.optimizers = {"generator": torch.optim.Adam(self.to_cartoon.parameters(), **adam),
                           "discriminators": torch.optim.Adam(self.discriminators.parameters(), **adam)}
        self.regressor = _frozen(load_network(m.landmark_regressor).to(device)) if loss.landmark > 0 else None
        self.colour_generator = torch.Generator().manual_seed(config.seed)

    @property
    def adversarial(self) -> bool:
        return any(getattr(self.loss_config, name) > 0 for name in ADVERSARIAL_TERMS)

    def surface(self, images: torch.Tensor) -> torch.Tensor:
        return guided_filter(images, images, self.loss_config.surface_radius, self.loss_config.surface_eps)

    def judged(self, images: torch.Tensor) -> torch.Tensor:
        if self.loss_config.judge_region is None:
            return images
        x0, y0, x1, y1 = self.loss_config.judge_region
        return images[..., y0:y1, x0:x1]

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        photo, cartoon = batch["a"]["image"], batch["b"]["image"]
        with self.autocast():
            fake = self.to_cartoon(photo).float()
        terms = self._generator_terms(batch, photo, fake)
        self.optimizers["generator"].zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        self.optimizers["generator"].step()
        if self.adversarial:
            terms.update(self._discriminator_step(fake.detach(), cartoon))
        self._last = (photo, fake.detach(), cartoon, None)
        return {name: value.detach() for name, value in terms.items()}

    def _generator_terms(self, batch: dict, photo: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = self.loss_config
        terms: dict[str, torch.Tensor] = {}
        if loss.reconstruction:
            terms["reconstruction"] = loss.reconstruction * l1_loss(fake, photo)
        if self.adversarial:
            self.discriminators.requires_grad_(False)
            self._grey_weights_state = self.colour_generator.get_state()  # the D step converts with the same draw
            (grey_fake,) = random_colour_shift(self.judged(fake), generator=self.colour_generator)
            with self.autocast():
                if loss.surface:
                    terms["surface"] = loss.surface * lsgan_generator_loss(self.discriminators["surface"](self.surface(self.judged(fake))))
                if loss.texture:
                    terms["texture"] = loss.texture * lsgan_generator_loss(self.discriminators["texture"](grey_fake))
            self.discriminators.requires_grad_(True)
        points = self.face_points(batch["a"], photo_side=True)
        if loss.content or loss.structure or loss.face_identity:
            terms.update(self._face_network_terms(photo, fake, points))
        if loss.tv:
            terms["tv"] = loss.tv * total_variation_loss(fake)
        if loss.landmark:
            with torch.no_grad():
                wanted = self.regressor(photo).float()
            terms["landmark"] = loss.landmark * landmark_consistency_loss(self.regressor(fake).float(), wanted)
        return terms

    def _face_network_terms(self, photo: torch.Tensor, fake: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """Content, structure and identity: one pass of the face network over the output's chip serves all three (it
        is most of a step); the identity term only adds the two smallest stages to it."""
        loss, terms = self.loss_config, {}
        stages = DESCRIPTOR_STAGES if loss.face_identity else len(PERCEPTUAL_STAGE_WEIGHTS)
        found = face_perceptual_features(fake, points, stages)
        perceptual = found[:len(PERCEPTUAL_STAGE_WEIGHTS)]
        with torch.no_grad():
            wanted = face_perceptual_features(photo, points, stages) if loss.content or loss.face_identity else None
            if loss.structure:
                wanted_structure = face_perceptual_features(superpixel_batch(fake, loss.superpixel_segments), points)
        if loss.content:
            # The face chip and the whole frame, averaged: the chip alone leaves hair, background and the image
            # border free, and the generator painted lines and stripes there (docs/models.md).
            with torch.no_grad():
                wanted_frame = face_perceptual_features(photo, None)
            frame = perceptual_distance(face_perceptual_features(fake, None), wanted_frame)
            terms["content"] = loss.content * 0.5 * (perceptual_distance(perceptual, wanted[:len(perceptual)]) + frame)
        if loss.structure:
            terms["structure"] = loss.structure * perceptual_distance(perceptual, wanted_structure)
        if loss.face_identity:
            terms["face_identity"] = loss.face_identity * descriptor_distance(descriptor_from_features(found),
                                                                               descriptor_from_features(wanted))
        return terms

    def _discriminator_step(self, fake: torch.Tensor, cartoon: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = self.loss_config
        fake, cartoon = self.judged(fake), self.judged(cartoon)
        shift = torch.Generator().set_state(self._grey_weights_state)
        grey_fake, grey_cartoon = random_colour_shift(fake, cartoon, generator=shift)
        terms = {}
        with self.autocast():
            if loss.surface:
                judge = self.discriminators["surface"]
                terms["d_surface"] = lsgan_discriminator_loss(judge(self.surface(cartoon)), judge(self.surface(fake)))
            if loss.texture:
                judge = self.discriminators["texture"]
                terms["d_texture"] = lsgan_discriminator_loss(judge(grey_cartoon), judge(grey_fake))
        self.optimizers["discriminators"].zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        self.optimizers["discriminators"].step()
        return terms

    def extra_state(self) -> dict[str, torch.Tensor]:
        return {"colour_generator": self.colour_generator.get_state()}

    def load_extra_state(self, tensors: dict[str, torch.Tensor]) -> None:
        if "colour_generator" in tensors:
            self.colour_generator.set_state(tensors["colour_generator"])

    @torch.no_grad()
    def samples(self, batch: dict) -> torch.Tensor:
        """Rows: photo | cartoon (as shipped: eval mode, guided filter) | its superpixel painting; a real cartoon."""
        photo, _, cartoon, _ = (t[:1] if t is not None else None for t in self._last)
        self.to_cartoon.eval()
        with self.autocast():
            fake = self.to_cartoon(photo).float()
        self.to_cartoon.train()
        row = torch.cat([photo, fake, superpixel_batch(fake, self.loss_config.superpixel_segments), cartoon], dim=3)
        return row[0].float().add(1).div(2).clamp(0, 1).cpu()

    def shipped(self) -> dict[str, tuple[nn.Module, str, dict]]:
        return {"to_cartoon": (self.to_cartoon, self.generator_name, self.generator_options)}
