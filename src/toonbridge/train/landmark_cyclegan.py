"""Landmark-assisted CycleGAN (Wu et al. 2019): CycleGAN plus landmark consistency and local part discriminators.

Domain A is the photo side, B the cartoon side. Per step:

- generators: LSGAN against the global PatchGAN discriminators, cycle and identity L1 (CycleGAN);
- landmark consistency: the frozen landmark regressor of the target domain must find the source face's landmarks
  (ground truth from the manifest) on the translated face;
- local discriminators on eyes, nose and mouth crops, from ``local_start_step`` on (the paper's second phase):
  real crops are cut at ground-truth landmarks, generated ones at the target regressor's predictions.

With ``loss.landmark: 0`` and ``loss.local_gan: 0`` this is a plain CycleGAN, which is how the ablation runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn

from toonbridge.faces.align import similarity_transform
from toonbridge.losses import l1_loss, landmark_consistency_loss, lsgan_discriminator_loss, lsgan_generator_loss
from toonbridge.models import build, load_network
from toonbridge.models.face_parts import PARTS, crop_parts
from toonbridge.models.landmark_regressor import to_fractions, to_pixels
from toonbridge.train.config import TrainConfig, UnpairedData
from toonbridge.train.distributed import all_gather_batch, local_part
from toonbridge.train.method import register_method
from toonbridge.train.unpaired import UnpairedTranslation


@dataclass
class CycleModel:
    ngf: int = 32
    n_blocks: int = 6
    upsample: str = "resize"
    ndf: int = 64
    d_layers: int = 3
    local_ndf: int = 32
    local_patch: int = 32
    spectral_norm: bool = True
    regressor_a: str | None = None  # landmark regressor weights (safetensors) for each domain
    regressor_b: str | None = None


@dataclass
class CycleLoss:
    gan: float = 1.0
    cycle: float = 10.0
    identity: float = 5.0
    landmark: float = 10.0  # landmark consistency, on landmarks as fractions of the image side
    landmark_start_step: int = 0
    # "domain_mean": the translated face must show the source landmarks carried into the target domain's frame
    # (the similarity between the two domains' mean shapes; Bitmoji eyes sit ~6 px lower than CelebA's), so the
    # landmark loss does not fight the discriminator over framing. "same": the source landmarks as they are.
    landmark_frame: str = "domain_mean"
    local_gan: float = 0.5  # per part
    local_start_step: int = 0
    pool_size: int = 50  # CycleGAN's history of generated images shown to the global discriminators
    # Our face network (dlib's ResNet), source vs translation in both directions: 1 − cosine of the descriptors
    # (photo2cartoon's Face-ID loss) and the perceptual distance (a content loss). 0 turns a term off.
    face_identity: float = 0.0
    face_perceptual: float = 0.0


@dataclass
class CycleOptim:
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    decay_start: float = 0.5  # linear decay to 0 from this fraction of the steps on


class ImagePool:
    """Shrivastava et al. 2017: show the discriminator a mix of new and up to ``size`` earlier fakes.

    Distributed, every rank queries with the whole global batch and a generator all ranks share, so every rank
    holds the same pool and makes the draws one process would make; each returns its own slice."""

    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images.detach()
        out = []
        for image in all_gather_batch(images.detach()):
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator) < 0.5:
                index = int(torch.randint(self.size, (), generator=self.generator))
                out.append(self.images[index].clone())
                self.images[index] = image.clone()
            else:
                out.append(image)
        return local_part(torch.stack(out))

    def state(self) -> dict[str, torch.Tensor]:
        return {"images": torch.stack(self.images) if self.images else torch.zeros(0), "generator": self.generator.get_state()}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        images = state.get("images", torch.zeros(0))
        self.images = list(images.unbind(0)) if images.numel() else []
        if "generator" in state:
            self.generator.set_state(state["generator"])


@register_method("landmark_cyclegan")
class LandmarkCycleGANTraining(UnpairedTranslation):
    generator_name = "resnet_generator"
    sections = {"data": UnpairedData, "model": CycleModel, "loss": CycleLoss, "optim": CycleOptim}  # subclasses extend the model options

    @staticmethod
    def generator_options_for(m: CycleModel) -> dict:
        return {"ngf": m.ngf, "n_blocks": m.n_blocks, "upsample": m.upsample}

    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        m = self.model_config
        self.generator_options = self.generator_options_for(m)
        self.to_cartoon = build(self.generator_name, **self.generator_options).to(device)
        self.to_photo = build(self.generator_name, **self.generator_options).to(device)
        d_options = {"ndf": m.ndf, "n_layers": m.d_layers, "spectral_norm": m.spectral_norm}
        self.d_photo = build("patch_discriminator", **d_options).to(device)
        self.d_cartoon = build("patch_discriminator", **d_options).to(device)
        self.networks = {"to_cartoon": self.to_cartoon, "to_photo": self.to_photo, "d_photo": self.d_photo, "d_cartoon": self.d_cartoon}
        self.uses_local = self.loss_config.local_gan > 0
        if self.uses_local:
            local = {"ndf": m.local_ndf, "n_layers": 2, "spectral_norm": m.spectral_norm}
            self.local_photo = nn.ModuleDict({part: build("patch_discriminator", **local) for part in PARTS}).to(device)
            self.local_cartoon = nn.ModuleDict({part: build("patch_discriminator", **local) for part in PARTS}).to(device)
            self.networks.update(local_photo=self.local_photo, local_cartoon=self.local_cartoon)
        self.regressor_photo = self.regressor_cartoon = None
        if self.loss_config.landmark > 0 or self.uses_local:
            if not (m.regressor_a and m.regressor_b):
                raise ValueError("model.regressor_a and model.regressor_b (landmark regressor weights) are needed for "
                                 "the landmark and local losses; set both, or set loss.landmark and loss.local_gan to 0")
            self.regressor_photo = _frozen(load_network(m.regressor_a).to(device))
            self.regressor_cartoon = _frozen(load_network(m.regressor_b).to(device))
        betas = (self.optim_config.beta1, self.optim_config.beta2)
        generators = [*self.to_cartoon.parameters(), *self.to_photo.parameters()]
        discriminators = [p for name, net in self.networks.items() if not name.startswith("to_") for p in net.parameters()]
        self.optimizers = {"generators": torch.optim.Adam(generators, lr=self.optim_config.lr, betas=betas),
                           "discriminators": torch.optim.Adam(discriminators, lr=self.optim_config.lr, betas=betas)}
        if self.loss_config.landmark_frame not in ("domain_mean", "same"):
            raise ValueError(f"loss.landmark_frame must be 'domain_mean' or 'same', not {self.loss_config.landmark_frame!r}")
        self.pool_photo = ImagePool(self.loss_config.pool_size, config.seed)
        self.pool_cartoon = ImagePool(self.loss_config.pool_size, config.seed + 1)

    @functools.cached_property
    def landmark_frames(self) -> tuple[torch.Tensor, torch.Tensor]:
        """2×3 similarity transforms carrying landmarks photo -> cartoon frame and back.

        Measured on first use (it reads both training manifests), so exporting a run needs no data.
        """
        identity = torch.eye(2, 3, device=self.device)
        if self.loss_config.landmark_frame == "same" or self.regressor_photo is None:
            return identity, identity
        mean_photo, mean_cartoon = (side.mean_landmarks() for side in self.data_config.domains())
        if mean_photo is None or mean_cartoon is None:
            return identity, identity  # no manifest landmarks to measure the frames on
        forward = torch.tensor(similarity_transform(mean_photo, mean_cartoon), dtype=torch.float32)
        backward = torch.tensor(similarity_transform(mean_cartoon, mean_photo), dtype=torch.float32)
        return forward.to(self.device), backward.to(self.device)

    def _points(self, images: torch.Tensor, side: dict, regressor, photo_side: bool) -> torch.Tensor | None:
        """Ground-truth landmarks (pixels) where the manifest has them, else the regressor's (without a regressor:
        the side's template points, or None)."""
        known = side["has_landmarks"].view(-1, 1, 1)
        if bool(known.all()):
            return side["landmarks"]
        if regressor is None:
            return self.face_points(side, photo_side)
        with torch.no_grad():
            predicted = regressor.points(images).float()
        return torch.where(known, side["landmarks"], predicted)

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        real_photo, real_cartoon = batch["a"]["image"], batch["b"]["image"]
        loss = self.loss_config
        with_landmarks = loss.landmark > 0 and step >= loss.landmark_start_step
        with_local = self.uses_local and step >= loss.local_start_step
        points_photo = self._points(real_photo, batch["a"], self.regressor_photo, photo_side=True)
        points_cartoon = self._points(real_cartoon, batch["b"], self.regressor_cartoon, photo_side=False)
        size = real_photo.shape[-1]
        log: dict[str, torch.Tensor] = {}

        # Generators.
        self._discriminators_trainable(False)
        with self.autocast():
            fake_cartoon = self.to_cartoon(real_photo)
            fake_photo = self.to_photo(real_cartoon)
            terms = {
                "g_gan": loss.gan * (lsgan_generator_loss(self.d_cartoon(fake_cartoon)) + lsgan_generator_loss(self.d_photo(fake_photo))),
                "cycle": loss.cycle * (l1_loss(self.to_photo(fake_cartoon), real_photo) + l1_loss(self.to_cartoon(fake_photo), real_cartoon)),
            }
            if loss.identity > 0:
                terms["identity"] = loss.identity * (l1_loss(self.to_cartoon(real_cartoon), real_cartoon) + l1_loss(self.to_photo(real_photo), real_photo))
            if with_landmarks or with_local:
                found_on_cartoon = self.regressor_cartoon(fake_cartoon)
                found_on_photo = self.regressor_photo(fake_photo)
            if with_landmarks:
                photo_to_cartoon, cartoon_to_photo = self.landmark_frames
                wanted_on_cartoon = to_fractions(_transform(photo_to_cartoon, points_photo), size)
                wanted_on_photo = to_fractions(_transform(cartoon_to_photo, points_cartoon), size)
                terms["landmark"] = loss.landmark * (landmark_consistency_loss(found_on_cartoon, wanted_on_cartoon)
                                                     + landmark_consistency_loss(found_on_photo, wanted_on_photo))
            if with_local:
                fake_cartoon_points = to_pixels(found_on_cartoon.detach().float(), size)
                fake_photo_points = to_pixels(found_on_photo.detach().float(), size)
                terms["g_local"] = loss.local_gan * (
                    self._local_generator_loss(self.local_cartoon, fake_cartoon, fake_cartoon_points)
                    + self._local_generator_loss(self.local_photo, fake_photo, fake_photo_points))
            if loss.face_identity > 0 or loss.face_perceptual > 0:
                photo_to_cartoon, cartoon_to_photo = self.landmark_frames
                terms.update(self.face_feature_terms(loss, [
                    (real_photo, fake_cartoon, points_photo, _transform(photo_to_cartoon, points_photo)),
                    (real_cartoon, fake_photo, points_cartoon, _transform(cartoon_to_photo, points_cartoon))]))
        total = sum(terms.values())
        self.optimizers["generators"].zero_grad(set_to_none=True)
        total.backward()
        self.optimizers["generators"].step()
        log.update({name: value.detach() for name, value in terms.items()})

        # Discriminators.
        self._discriminators_trainable(True)
        with self.autocast():
            d_terms = {
                "d_cartoon": lsgan_discriminator_loss(self.d_cartoon(real_cartoon), self.d_cartoon(self.pool_cartoon.query(fake_cartoon))),
                "d_photo": lsgan_discriminator_loss(self.d_photo(real_photo), self.d_photo(self.pool_photo.query(fake_photo))),
            }
            if with_local:
                d_terms["d_local"] = (
                    self._local_discriminator_loss(self.local_cartoon, real_cartoon, points_cartoon, fake_cartoon.detach(), fake_cartoon_points)
                    + self._local_discriminator_loss(self.local_photo, real_photo, points_photo, fake_photo.detach(), fake_photo_points))
        d_total = sum(d_terms.values())
        self.optimizers["discriminators"].zero_grad(set_to_none=True)
        d_total.backward()
        self.optimizers["discriminators"].step()
        log.update({name: value.detach() for name, value in d_terms.items()})
        self._last = (real_photo, fake_cartoon.detach(), real_cartoon, fake_photo.detach())
        return log

    def _local_generator_loss(self, discriminators: nn.ModuleDict, fake: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        crops = crop_parts(fake, points, self.model_config.local_patch)
        return sum(lsgan_generator_loss(discriminators[part](crops[part])) for part in PARTS)

    def _local_discriminator_loss(self, discriminators: nn.ModuleDict, real, real_points, fake, fake_points) -> torch.Tensor:
        real_crops = crop_parts(real, real_points, self.model_config.local_patch)
        fake_crops = crop_parts(fake, fake_points, self.model_config.local_patch)
        return sum(lsgan_discriminator_loss(discriminators[p](real_crops[p]), discriminators[p](fake_crops[p])) for p in PARTS)

    def _discriminators_trainable(self, trainable: bool) -> None:
        for name, network in self.networks.items():
            if not name.startswith("to_"):
                network.requires_grad_(trainable)

    def extra_state(self) -> dict[str, torch.Tensor]:
        return {f"{name}{suffix}": value for name, pool in (("pool_photo", self.pool_photo), ("pool_cartoon", self.pool_cartoon))
                for suffix, value in zip(("", "_generator"), pool.state().values())}

    def load_extra_state(self, tensors: dict[str, torch.Tensor]) -> None:
        for name, pool in (("pool_photo", self.pool_photo), ("pool_cartoon", self.pool_cartoon)):
            state = {"images": tensors.get(name, torch.zeros(0)).to(self.device)}
            if f"{name}_generator" in tensors:
                state["generator"] = tensors[f"{name}_generator"]
            pool.load(state)


def _transform(matrix: torch.Tensor, points: torch.Tensor | None) -> torch.Tensor | None:
    """Apply a 2×3 affine matrix to N×P×2 points (None stays None)."""
    return None if points is None else points.float() @ matrix[:, :2].T + matrix[:, 2]


def _frozen(network: nn.Module) -> nn.Module:
    network.eval().requires_grad_(False)
    return network
