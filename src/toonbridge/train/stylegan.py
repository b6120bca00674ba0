"""StyleGAN2 training (Karras et al. 2020; the StyleGAN2-ADA recipe for small data), one method of the generic loop.

Per step, with a batch of real faces:

- discriminator: non-saturating logistic loss on real faces and the current generator's faces; every
  ``r1_every`` steps it also pays the R1 penalty (γ/2 · |∇D(real)|², scaled by ``r1_every``: lazy regularisation),
  computed in fp32 from the same forward pass;
- generator: non-saturating loss on new faces, with style mixing (two latents, one crossover layer) in
  ``style_mixing`` of the batches;
- then the EMA generator (what is sampled and shipped) moves towards the trained one, and the generator's
  running mean of w (for truncation) is updated.

Every image the discriminator sees goes through DiffAugment (colour, translation, cutout), because ~20 k photos is
small data for a GAN. Path-length regularisation is left out: it costs a second generator pass for smoother
interpolations, which no part of toonbridge needs. Adam's β and learning rate of the discriminator are adjusted
for lazy regularisation as in the paper, so a step's effective update matches the unregularised one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from toonbridge.data import AugmentConfig, DomainImages
from toonbridge.data.packed import PackedImages
from toonbridge.models import build
from toonbridge.ops.diffaugment import diff_augment, parse_policy
from toonbridge.train.config import ConfigError, TrainConfig, _load_with_extras
from toonbridge.train.method import TrainingMethod, register_method


@dataclass
class FaceImagesData:
    """The ``data`` section: one photo domain plus ``also`` (more domains, as in the supervised methods' data),
    each aligned to the generator's framing (``align``) and resized to ``size``; x-flips are the only augmentation.

    ``packed`` names a face pack of these same images (``toonbridge data pack CONFIG``), read instead of the domains:
    the way to train on a machine that has no copy of the data, and to keep a fast GPU fed."""

    domain: str = "celeba2bitmoji/photo"
    size: int = 64
    filters: list[str] = field(default_factory=list)
    align: str | None = None
    also: list[dict] = field(default_factory=list)
    flip_probability: float = 0.5
    packed: str | None = None

    def load(self, split: str = "train"):
        return _load_with_extras(self.domain, split, self.filters, self.align, self.also, "data.also")

    def images(self, seed: int, flip_probability: float | None = None):
        """The training images: the pack if there is one, else the (aligned) train split of the domains."""
        flips = self.flip_probability if flip_probability is None else flip_probability
        if self.packed:
            return PackedImages(self.packed, flips, seed)
        flips_only = AugmentConfig(flip_probability=flips, max_scale=0.0, max_rotation_degrees=0.0, max_shift=0.0)
        return DomainImages(self.load("train"), self.size, flips_only, seed)


@dataclass
class StyleGANModel:
    z_dim: int = 256
    w_dim: int = 256
    mapping_layers: int = 2
    channel_base: int = 2048
    channel_max: int = 256
    mapping_lr_mul: float = 0.01
    mbstd_group: int = 4


@dataclass
class StyleGANLoss:
    r1_gamma: float = 0.1  # ADA's heuristic: 0.0002 × resolution² / batch
    r1_every: int = 16
    style_mixing: float = 0.9
    diffaugment: str = "color,translation,cutout"


@dataclass
class StyleGANOptim:
    lr: float = 0.002
    beta1: float = 0.0
    beta2: float = 0.99
    ema_kimg: float = 5.0  # half-life of the generator's EMA, in thousands of images
    ema_rampup: float = 0.05  # early on, the half-life is at most this fraction of the images seen


@register_method("stylegan2")
class StyleGAN2Training(TrainingMethod):
    sections = {"data": FaceImagesData, "model": StyleGANModel, "loss": StyleGANLoss, "optim": StyleGANOptim}

    @classmethod
    def check_sections(cls, loss: StyleGANLoss, **_) -> None:
        parse_policy(loss.diffaugment)
        if loss.r1_every < 1:
            raise ConfigError("loss: r1_every must be at least 1")

    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        m, o = self.model_config, self.optim_config
        resolution = self.data_config.size
        self.generator_options = {"resolution": resolution, "z_dim": m.z_dim, "w_dim": m.w_dim, "mapping_layers": m.mapping_layers,
                                  "channel_base": m.channel_base, "channel_max": m.channel_max, "mapping_lr_mul": m.mapping_lr_mul}
        self.generator = build("stylegan2_generator", **self.generator_options).to(device)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.discriminator = build("stylegan2_discriminator", resolution=resolution, channel_base=m.channel_base,
                                   channel_max=m.channel_max, mbstd_group=m.mbstd_group).to(device)
        self.networks = {"generator": self.generator, "generator_ema": self.generator_ema, "discriminator": self.discriminator}
        ratio = self.loss_config.r1_every / (self.loss_config.r1_every + 1)
        self.optimizers = {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=o.lr, betas=(o.beta1, o.beta2), eps=1e-8),
            "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=o.lr * ratio,
                                              betas=(o.beta1**ratio, o.beta2**ratio), eps=1e-8),
        }
        # The same latents every time samples are drawn, so the TensorBoard grid shows the same faces improving.
        self.sample_z = torch.randn(16, m.z_dim, generator=torch.Generator().manual_seed(0)).to(device)

    def dataset(self):
        return self.data_config.images(self.config.seed)

    def _latents(self, batch_size: int) -> torch.Tensor:
        """W+ for a batch: one w per face, or with probability ``style_mixing`` two, switching at a random layer."""
        g = self.generator
        z = torch.randn(2, batch_size, g.z_dim, device=self.device)
        w = g.mapping(z.flatten(0, 1)).float().unflatten(0, (2, batch_size))
        ws = w[0][:, None].repeat(1, g.num_ws, 1)
        if torch.rand(()) < self.loss_config.style_mixing:
            cutoff = int(torch.randint(1, g.num_ws, ()))
            ws[:, cutoff:] = w[1][:, None]
        return ws

    def _judge(self, images: torch.Tensor) -> torch.Tensor:
        return self.discriminator(diff_augment(images, self.loss_config.diffaugment)).float()

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        real = batch["image"]
        loss = self.loss_config
        regularise = step % loss.r1_every == 0
        log: dict[str, torch.Tensor] = {}

        # Discriminator (with R1 on regularisation steps, in fp32: a gradient of a gradient).
        self.discriminator.requires_grad_(True)
        with self.autocast():
            with torch.no_grad():
                fake = self.generator.synthesis(self._latents(real.shape[0]))
            fake_logits = self._judge(fake.float())
        if regularise:
            real = real.detach().requires_grad_(True)
            real_logits = self._judge(real)
            (gradient,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            r1 = gradient.square().sum(dim=(1, 2, 3)).mean()
            log["r1"] = r1.detach()
        else:
            with self.autocast():
                real_logits = self._judge(real)
            r1 = torch.zeros(())
        d_loss = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        self.optimizers["discriminator"].zero_grad(set_to_none=True)
        (d_loss + r1 * (loss.r1_gamma / 2 * loss.r1_every)).backward()
        self.optimizers["discriminator"].step()
        log.update(d=d_loss.detach(), real_score=real_logits.detach().mean(), fake_score=fake_logits.detach().mean())

        # Generator.
        self.discriminator.requires_grad_(False)
        with self.autocast():
            ws = self._latents(real.shape[0])
            g_loss = F.softplus(-self._judge(self.generator.synthesis(ws).float())).mean()
        self.optimizers["generator"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizers["generator"].step()
        log["g"] = g_loss.detach()

        with torch.no_grad():
            self.generator.w_avg.lerp_(ws[:, 0].mean(dim=0), 1 - 0.995)
            self._update_ema(images_seen=(step + 1) * real.shape[0], batch_size=real.shape[0])
        return log

    def _update_ema(self, images_seen: int, batch_size: int) -> None:
        o = self.optim_config
        half_life = o.ema_kimg * 1000
        if o.ema_rampup:
            half_life = min(half_life, images_seen * o.ema_rampup)
        beta = 0.5 ** (batch_size / max(half_life, 1e-8))
        for ema, live in zip(self.generator_ema.parameters(), self.generator.parameters()):
            ema.copy_(live.detach().lerp(ema, beta))
        for ema, live in zip(self.generator_ema.buffers(), self.generator.buffers()):
            ema.copy_(live)

    @torch.no_grad()
    def samples(self, batch: dict) -> torch.Tensor:
        faces = self.generator_ema(self.sample_z).float().clamp(-1, 1).add(1).div(2)
        rows = faces.unflatten(0, (4, 4)).permute(2, 0, 3, 1, 4)  # C × row × H × column × W
        return rows.flatten(3, 4).flatten(1, 2)

    def shipped(self) -> dict[str, tuple[torch.nn.Module, str, dict]]:
        return {"generator": (self.generator_ema, "stylegan2_generator", self.generator_options)}
