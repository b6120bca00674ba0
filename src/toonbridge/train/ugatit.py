"""U-GAT-IT training (Kim et al. 2020), also for the photo2cartoon variant: the choice is in ``model``.

Domain A is the photo side, B the cartoon side. Four discriminators (global and local for each domain), each with
a patch output and a CAM logit; per step, as in the reference code:

- discriminators: LSGAN on patch and CAM logits, real vs the current translations;
- generators: LSGAN on the same eight outputs, cycle L1 and identity L1, and the generator CAM loss: the
  generator's auxiliary classifier must tell a source-domain input (logit → 1) from a target-domain input fed
  through the same generator (the identity pass, logit → 0); then every AdaLIN ρ is clipped to [0, 1].

photo2cartoon's Face-ID loss (``loss.face_identity``) uses our face network, dlib's ResNet in PyTorch
(:mod:`toonbridge.losses.face_features`); photo2cartoon weights it 1. Identity figures of a model trained with it
are judged by the same network, which flatters them; the docs say so next to each.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from toonbridge.losses import l1_loss
from toonbridge.models import build
from toonbridge.train.config import TrainConfig, UnpairedData
from toonbridge.train.method import register_method
from toonbridge.train.unpaired import UnpairedTranslation


@dataclass
class UGATITModel:
    ngf: int = 32
    n_blocks: int = 4
    n_hourglass: int = 1  # 0: U-GAT-IT; photo2cartoon uses 2
    adalin: str = "soft"  # "plain": U-GAT-IT
    light: bool = True
    upsample: str = "resize"
    ndf: int = 32
    global_layers: int = 6  # U-GAT-IT at 256 px: 7 (global) and 5 (local); one fewer each at 128 px
    local_layers: int = 4


@dataclass
class UGATITLoss:
    gan: float = 1.0
    cycle: float = 10.0
    identity: float = 10.0
    cam: float = 1000.0
    face_identity: float = 0.0  # 1 − cosine of face descriptors, source vs translation, both directions
    face_perceptual: float = 0.0


@dataclass
class UGATITOptim:
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 1e-4
    decay_start: float = 0.5


def _lsgan(prediction: torch.Tensor, target: float) -> torch.Tensor:
    return F.mse_loss(prediction.float(), torch.full_like(prediction.float(), target))


def _cam_loss(logit: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logit.float(), torch.full_like(logit.float(), target))


@register_method("ugatit")
class UGATITTraining(UnpairedTranslation):
    generator_name = "ugatit_generator"
    sections = {"data": UnpairedData, "model": UGATITModel, "loss": UGATITLoss, "optim": UGATITOptim}

    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        m, o = self.model_config, self.optim_config
        self.generator_options = {"ngf": m.ngf, "n_blocks": m.n_blocks, "n_hourglass": m.n_hourglass, "adalin": m.adalin,
                                  "light": m.light, "upsample": m.upsample, "image_size": self.data_config.size}
        self.to_cartoon = build(self.generator_name, **self.generator_options).to(device)
        self.to_photo = build(self.generator_name, **self.generator_options).to(device)
        # Discriminators judge one domain each: global (whole face) and local (smaller receptive field).
        self.discriminators = nn.ModuleDict({
            f"{scope}_{side}": build("ugatit_discriminator", ndf=m.ndf, n_layers=layers).to(device)
            for side in ("photo", "cartoon") for scope, layers in (("global", m.global_layers), ("local", m.local_layers))})
        self.networks = {"to_cartoon": self.to_cartoon, "to_photo": self.to_photo, "discriminators": self.discriminators}
        generators = [*self.to_cartoon.parameters(), *self.to_photo.parameters()]
        adam = {"lr": o.lr, "betas": (o.beta1, o.beta2), "weight_decay": o.weight_decay}
        self.optimizers = {"generators": torch.optim.Adam(generators, **adam),
                           "discriminators": torch.optim.Adam(self.discriminators.parameters(), **adam)}

    def _judge(self, side: str, images: torch.Tensor) -> list[torch.Tensor]:
        """Patch and CAM logits of both discriminators of ``side``."""
        return [out for scope in ("global", "local") for out in self.discriminators[f"{scope}_{side}"](images)]

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        real_photo, real_cartoon = batch["a"]["image"], batch["b"]["image"]
        loss = self.loss_config
        log: dict[str, torch.Tensor] = {}

        # Discriminators.
        self.discriminators.requires_grad_(True)
        with self.autocast():
            with torch.no_grad():
                fake_cartoon, fake_photo = self.to_cartoon(real_photo), self.to_photo(real_cartoon)
            d_terms = {}
            for side, real, fake in (("photo", real_photo, fake_photo), ("cartoon", real_cartoon, fake_cartoon)):
                d_terms[f"d_{side}"] = loss.gan * sum(_lsgan(r, 1.0) + _lsgan(f, 0.0)
                                                      for r, f in zip(self._judge(side, real), self._judge(side, fake.detach())))
        self.optimizers["discriminators"].zero_grad(set_to_none=True)
        sum(d_terms.values()).backward()
        self.optimizers["discriminators"].step()
        log.update({name: value.detach() for name, value in d_terms.items()})

        # Generators.
        self.discriminators.requires_grad_(False)
        with self.autocast():
            fake_cartoon, cam_to_cartoon, _ = self.to_cartoon.forward_with_cam(real_photo)
            fake_photo, cam_to_photo, _ = self.to_photo.forward_with_cam(real_cartoon)
            same_cartoon, cam_same_cartoon, _ = self.to_cartoon.forward_with_cam(real_cartoon)
            same_photo, cam_same_photo, _ = self.to_photo.forward_with_cam(real_photo)
            terms = {
                "g_gan": loss.gan * sum(_lsgan(out, 1.0) for out in self._judge("cartoon", fake_cartoon) + self._judge("photo", fake_photo)),
                "cycle": loss.cycle * (l1_loss(self.to_photo(fake_cartoon), real_photo) + l1_loss(self.to_cartoon(fake_photo), real_cartoon)),
                "identity": loss.identity * (l1_loss(same_cartoon, real_cartoon) + l1_loss(same_photo, real_photo)),
                "cam": loss.cam * (_cam_loss(cam_to_cartoon, 1.0) + _cam_loss(cam_same_cartoon, 0.0)
                                   + _cam_loss(cam_to_photo, 1.0) + _cam_loss(cam_same_photo, 0.0)),
            }
            if loss.face_identity > 0 or loss.face_perceptual > 0:
                points_photo = self.face_points(batch["a"], photo_side=True)
                points_cartoon = self.face_points(batch["b"], photo_side=False)
                terms.update(self.face_feature_terms(loss, [(real_photo, fake_cartoon, points_photo, points_photo),
                                                            (real_cartoon, fake_photo, points_cartoon, points_cartoon)]))
        self.optimizers["generators"].zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        self.optimizers["generators"].step()
        self.to_cartoon.clip_rho()
        self.to_photo.clip_rho()
        log.update({name: value.detach() for name, value in terms.items()})
        self._last = (real_photo, fake_cartoon.detach(), real_cartoon, fake_photo.detach())
        return log
