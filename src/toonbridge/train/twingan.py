"""TwinGAN training (Jerry Li, 2018): one network (:mod:`toonbridge.models.twingan`) for every named domain.

Each step takes ``batch_size`` images of every domain, encodes them with their own domain's norms and decodes each
twice: back into its own domain (reconstruction) and into one other domain drawn at random (translation). Per
domain, as in the author's code:

- L1 reconstruction (``loss.reconstruction``) and a GAN loss on reconstructions (``loss.gan_reconstruction``: L1
  alone gives blurry, dull output);
- a GAN loss on translations (``loss.gan``), one spectral-norm PatchGAN per domain (LSGAN), with an R1 gradient
  penalty on real images (``loss.gradient_penalty``, lazily every ``penalty_every`` steps, scaled to match);
- semantic consistency: L1 between the code of an image and the code of its translation (``loss.semantic``);
- optional: cycle L1 back to the source (``loss.cycle``) and our face network's identity term on translations
  from or to the photo domain (``loss.face_identity``; identity figures judged by the same network flatter it).

Hair colour (``model.hair_colours``): every image is labelled by :mod:`toonbridge.faces.hair` from its own pixels
(``hair: unknown`` samples are not); reconstructions are decoded with their own colour, and a translation keeps the
source's colour or, with ``loss.hair_request_probability``, is asked for a random one. Two terms pull it there:

- ``loss.hair_judge`` (as StarGAN's auxiliary classifier): a small CNN, shared by all domains, learns each real
  image's colour label from the image with the hair band greyed out, so it reads the hair around the band; the
  generator is scored by it on translations (the requested or kept colour). Painting the band alone cannot meet it.
  Nor does it colour the band, which its label (and the measure) is read from: with the hair around the band
  coloured, the band kept the old colour (docs/models.md). ``loss.hair_judge_whole`` adds the judge's verdict on
  the whole translation, band included (the judge then learns from whole real images too): the masked view keeps
  the hair around the band coloured, the whole view the band, so only colouring both meets the two.
- ``loss.hair_keeps_face``: L1, inside the face's box (:func:`toonbridge.faces.hair.face_box`), between a requested
  translation and the same translation with the source's own colour (no gradient through that one): a judge that
  sees the face as well as the hair was met by tinting the whole face red or blue (docs/models.md).
- ``loss.hair``: L1 of the band's mean colour to the colour's target. Gameable (it painted a patch on the
  forehead, docs/models.md); kept for the record.

The fantasy colour (blue) is requested only of cartoon domains (every domain after the first, the photo domain).

Gender (``loss.gender_judge``): men's photos came out as women's cartoons (the seed's first known fault; 70 % of
the CelebA portraits and all anime faces are of women). A second judge, as the hair judge, learns the ``gender``
label of real images (photos and Bitmoji carry one; anime faces none) and scores each translation of a labelled
image into a domain of ``loss.gender_domains`` (those whose real images it learned from) for its source's gender.
Unlike hair, gender is kept, not requested: nothing changes at inference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from toonbridge.data.unpaired import GENDERS
from toonbridge.faces import get_template
from toonbridge.faces.hair import HAIR_COLOURS, face_box, hair_colour_indices, hair_rgb, hair_target_rgb, without_band
from toonbridge.losses import face_identity_loss, l1_loss, lsgan_discriminator_loss, lsgan_generator_loss
from toonbridge.models import build
from toonbridge.train.config import MultiDomainData, TrainConfig
from toonbridge.train.method import TrainingMethod, register_method
from toonbridge.train.schedules import constant_then_linear

FANTASY = "blue"


@dataclass
class TwinGANModel:
    channels: int = 24  # 3.3 M parameters: the shipped file stays under 10 MB in float16 (32 channels: 5.9 M, 11.8 MB)
    n_blocks: int = 2
    skips: list[int] = field(default_factory=lambda: [16, 32, 64])
    hair_colours: bool = True
    ndf: int = 32
    disc_layers: int = 3
    # Instance norm in the discriminators, as the bitmoji CycleGAN's: spectral norm alone (with R1) left them
    # scoring everything 0.5 for the first 750 steps, so nothing pushed the domains apart (docs/models.md).
    disc_norm: bool = True
    template: str = "bitmoji"  # every domain is framed by it (its 5 points place the face network's chips)
    hair_judge_width: int = 16  # the hair and gender judges' first layer's channels (attribute_classifier)


@dataclass
class TwinGANLoss:
    reconstruction: float = 1.0
    gan_reconstruction: float = 1.0
    gan: float = 1.0
    gradient_penalty: float = 1.0  # R1 γ
    penalty_every: int = 4
    semantic: float = 0.1
    cycle: float = 0.0
    face_identity: float = 0.0
    hair: float = 0.0
    hair_judge: float = 0.0
    hair_judge_whole: float = 0.0
    hair_keeps_face: float = 0.0
    hair_request_probability: float = 0.5
    gender_judge: float = 0.0
    gender_domains: list[str] = field(default_factory=lambda: ["photo", "bitmoji"])  # targets the gender judge scores


@dataclass
class TwinGANOptim:
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    decay_start: float = 0.5
    # The domain and hair (γ, β) are all that tells the domains apart, and Adam moves a parameter about lr a step:
    # at the shared rate they had spread by 0.003 after 300 steps and every target gave the same face. A larger
    # rate for them (only) lets the domains part within the CPU budget.
    norm_lr_scale: float = 10.0
    discriminator_lr_scale: float = 1.0


@register_method("twingan")
class TwinGANTraining(TrainingMethod):
    critics = ("discriminators", "hair_judge", "gender_judge")
    sections = {"data": MultiDomainData, "model": TwinGANModel, "loss": TwinGANLoss, "optim": TwinGANOptim}

    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        m, o = self.model_config, self.optim_config
        self.domains = self.data_config.names
        self.network_options = {"domains": self.domains, "channels": m.channels, "n_blocks": m.n_blocks, "skips": list(m.skips),
                                "hair_colours": list(HAIR_COLOURS) if m.hair_colours else [], "image_size": self.data_config.size}
        self.network = build("twingan", **self.network_options).to(device)
        disc = {"ndf": m.ndf, "n_layers": m.disc_layers, "spectral_norm": True, "norm": m.disc_norm}
        self.discriminators = nn.ModuleDict({name: build("patch_discriminator", **disc) for name in self.domains}).to(device)
        self.networks = {"network": self.network, "discriminators": self.discriminators}
        norms = self.network.conditional_parameters()
        conditional = {id(p) for p in norms}
        shared = [p for p in self.network.parameters() if id(p) not in conditional]
        self.lr_scales = {"network": [1.0, o.norm_lr_scale], "discriminators": [o.discriminator_lr_scale]}
        betas = (o.beta1, o.beta2)
        self.optimizers = {"network": torch.optim.Adam([{"params": shared}, {"params": norms, "lr": o.lr * o.norm_lr_scale}], lr=o.lr, betas=betas),
                           "discriminators": torch.optim.Adam(self.discriminators.parameters(), lr=o.lr * o.discriminator_lr_scale, betas=betas)}
        if self.loss_config.hair_judge_whole and not self.loss_config.hair_judge:
            raise ValueError("loss.hair_judge_whole is a second view of the hair judge: set loss.hair_judge too")
        if self.loss_config.hair_judge:
            if not m.hair_colours:
                raise ValueError("loss.hair_judge needs model.hair_colours")
            self.hair_judge = build("attribute_classifier", classes=list(HAIR_COLOURS), width=m.hair_judge_width, input_size=self.data_config.size).to(device)
            self.networks["hair_judge"] = self.hair_judge
            self.optimizers["hair_judge"] = torch.optim.Adam(self.hair_judge.parameters(), lr=o.lr * o.discriminator_lr_scale, betas=betas)
            self.lr_scales["hair_judge"] = [o.discriminator_lr_scale]
        if self.loss_config.gender_judge:
            unknown = sorted(set(self.loss_config.gender_domains) - set(self.domains))
            if unknown:
                raise ValueError(f"loss.gender_domains: no domain named {', '.join(unknown)}; the domains are {', '.join(self.domains)}")
            self.gender_judge = build("attribute_classifier", classes=list(GENDERS), width=m.hair_judge_width, input_size=self.data_config.size).to(device)
            self.networks["gender_judge"] = self.gender_judge
            self.optimizers["gender_judge"] = torch.optim.Adam(self.gender_judge.parameters(), lr=o.lr * o.discriminator_lr_scale, betas=betas)
            self.lr_scales["gender_judge"] = [o.discriminator_lr_scale]
            self.gender_targets = torch.tensor([name in self.loss_config.gender_domains for name in self.domains], device=device)
        self.draws = torch.Generator().manual_seed(config.seed)  # targets and hair requests; checkpointed
        template = get_template(m.template)
        points = torch.tensor(template.points5, dtype=torch.float32) * self.data_config.size / max(template.size)
        self.points = points[None].to(device)

    def dataset(self):
        return self.data_config.dataset(self.config.seed)

    def set_learning_rate_for(self, step: int) -> None:
        scale = constant_then_linear(step, self.config.steps, self.optim_config.decay_start)
        for name, optimizer in self.optimizers.items():
            for group, group_scale in zip(optimizer.param_groups, self.lr_scales[name]):
                group["lr"] = self.optim_config.lr * group_scale * scale

    def _inputs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """All domains' images in one batch, their domain indices, hair labels (-1: unknown or unnamed) and gender
        labels (-1: none)."""
        images = torch.cat([batch[name]["image"] for name in self.domains])
        source = torch.cat([torch.full((len(batch[name]["image"]),), k, dtype=torch.long) for k, name in enumerate(self.domains)])
        hair = hair_colour_indices(images).cpu()
        known = torch.cat([torch.as_tensor(batch[name]["hair_known"], dtype=torch.bool).view(-1) for name in self.domains])
        hair = torch.where(known, hair, torch.full_like(hair, -1))
        gender = torch.cat([torch.as_tensor(batch[name]["gender"], dtype=torch.long).view(-1) for name in self.domains])
        return images, source.to(self.device), hair.to(self.device), gender.to(self.device)

    def _draw_targets(self, source: torch.Tensor, hair: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each image's translation target (another domain), its hair request and whether it was a request."""
        n, k = len(source), len(self.domains)
        offset = torch.randint(1, k, (n,), generator=self.draws).to(self.device)
        target = (source + offset) % k
        wanted = torch.randint(0, len(HAIR_COLOURS), (n,), generator=self.draws).to(self.device)
        asked = torch.rand(n, generator=self.draws).to(self.device) < self.loss_config.hair_request_probability
        asked &= ~((wanted == HAIR_COLOURS.index(FANTASY)) & (target == 0))
        if not self.network.hair_colours:
            return target, None, torch.zeros_like(asked)
        return target, torch.where(asked, wanted, hair), asked

    def _judge(self, images: torch.Tensor, domains: torch.Tensor) -> list[torch.Tensor]:
        """Each domain's discriminator on the images that claim to be of it (empty groups skipped)."""
        return [self.discriminators[name](images[domains == k]) for k, name in enumerate(self.domains) if bool((domains == k).any())]

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        images, source, hair, gender = self._inputs(batch)
        target, hair_asked, asked = self._draw_targets(source, hair)
        hair_own = hair if self.network.hair_colours else None
        terms, fakes = self._generator_step(images, source, target, hair_own, hair_asked, asked, gender)
        terms.update(self._discriminator_step(images, source, hair, fakes, step, gender))
        self._last = (images, source)
        return {name: value.detach() for name, value in terms.items()}

    def _generator_step(self, images, source, target, hair_own, hair_asked, asked, gender):
        loss = self.loss_config
        self.discriminators.requires_grad_(False)
        with self.autocast():
            code, features = self.network.encode(images, source)
            self.network.track_code_means(code, source)
            reconstruction = self.network.decode(code, features, source, hair_own).float()
            translation = self.network.decode(code, features, target, hair_asked).float()
            terms = {"reconstruction": loss.reconstruction * l1_loss(reconstruction, images),
                     "gan_reconstruction": loss.gan_reconstruction * sum(map(lsgan_generator_loss, self._judge(reconstruction, source))),
                     "gan": loss.gan * sum(map(lsgan_generator_loss, self._judge(translation, target)))}
            if loss.semantic or loss.cycle:
                code_back, features_back = self.network.encode(translation, target)
                terms["semantic"] = loss.semantic * l1_loss(code_back.float(), code.float())
                if loss.cycle:
                    cycled = self.network.decode(code_back, features_back, source, hair_own).float()
                    terms["cycle"] = loss.cycle * l1_loss(cycled, images)
            if loss.face_identity:
                touches_photo = (source == 0) | (target == 0)
                if bool(touches_photo.any()):
                    points = self.points.expand(int(touches_photo.sum()), -1, -1)
                    terms["face_identity"] = loss.face_identity * face_identity_loss(images[touches_photo], translation[touches_photo], points)
            if loss.hair and bool(asked.any()):
                terms["hair"] = loss.hair * l1_loss(hair_rgb(translation[asked]), hair_target_rgb(hair_asked[asked]))
            if loss.hair_judge and bool((hair_asked >= 0).any()):
                terms["hair_judge"] = loss.hair_judge * self._hair_judge_loss(translation, hair_asked)
            if loss.hair_judge_whole and bool((hair_asked >= 0).any()):
                terms["hair_judge_whole"] = loss.hair_judge_whole * self._hair_judge_loss(translation, hair_asked, whole=True)
            if loss.hair_keeps_face and bool(asked.any()):
                terms["hair_keeps_face"] = loss.hair_keeps_face * self._face_change(code, features, target, hair_own, translation, asked)
            if loss.gender_judge:
                kept_gender = torch.where(self.gender_targets[target], gender, -1)  # -1: a domain the judge does not know
                if bool((kept_gender >= 0).any()):
                    terms["gender_judge"] = loss.gender_judge * self._judge_loss(self.gender_judge, translation, kept_gender)
        self.optimizers["network"].zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        self.optimizers["network"].step()
        self.discriminators.requires_grad_(True)
        return terms, (reconstruction.detach(), translation.detach(), target)

    def _discriminator_step(self, images, source, hair, fakes, step: int, gender) -> dict[str, torch.Tensor]:
        loss = self.loss_config
        reconstruction, translation, target = fakes
        fake = torch.cat([reconstruction, translation])
        fake_domains = torch.cat([source, target])
        with self.autocast():
            terms = {"d_gan": sum(lsgan_discriminator_loss(self.discriminators[name](images[source == k]),
                                                           self.discriminators[name](fake[fake_domains == k]))
                                  for k, name in enumerate(self.domains))}
        if loss.gradient_penalty and step % loss.penalty_every == 0:
            terms["r1"] = loss.gradient_penalty * loss.penalty_every * self._r1(images, source)
        if loss.hair_judge and bool((hair >= 0).any()):
            terms["d_hair_judge"] = self._hair_judge_loss(images, hair, train_judge=True)
            if loss.hair_judge_whole:
                terms["d_hair_judge_whole"] = self._hair_judge_loss(images, hair, train_judge=True, whole=True)
        if loss.gender_judge and bool((gender >= 0).any()):
            terms["d_gender_judge"] = self._judge_loss(self.gender_judge, images, gender, train_judge=True)
        for name in self.critics:
            if name in self.optimizers:
                self.optimizers[name].zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        for name in self.critics:
            if name in self.optimizers:
                self.optimizers[name].step()
        return terms

    def _face_change(self, code, features, target, hair_own, translation, asked) -> torch.Tensor:
        """L1 inside the face's box between the requested translations and the same ones with their own colour."""
        with torch.no_grad():
            unasked = self.network.decode(code[asked], [f[asked] for f in features], target[asked], hair_own[asked]).float()
        x0, y0, x1, y1 = face_box(translation.shape[-1])
        return l1_loss(translation[asked][..., y0:y1, x0:x1], unasked[..., y0:y1, x0:x1])

    def _hair_judge_loss(self, images: torch.Tensor, labels: torch.Tensor, train_judge: bool = False, whole: bool = False) -> torch.Tensor:
        """The hair judge's loss, the band greyed out unless ``whole``."""
        return self._judge_loss(self.hair_judge, images if whole else without_band(images), labels, train_judge)

    def _judge_loss(self, judge: nn.Module, images: torch.Tensor, labels: torch.Tensor, train_judge: bool = False) -> torch.Tensor:
        """Cross-entropy of a judge on the labelled images (label -1: none). Real images train it (BatchNorm in
        training mode); translations are scored by it frozen, with its running statistics."""
        labelled = labels >= 0
        judge.train(train_judge).requires_grad_(train_judge)
        with self.autocast():
            logits = judge(images[labelled]).float()
        return F.cross_entropy(logits, labels[labelled])

    def _r1(self, images: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """γ/2 · E‖∇ D(real)‖² (Mescheder et al. 2018), in fp32: double backward through autocast is not worth it."""
        real = images.detach().requires_grad_(True)
        scores = sum(self.discriminators[name](real[source == k]).sum() for k, name in enumerate(self.domains))
        (gradient,) = torch.autograd.grad(scores, real, create_graph=True)
        return 0.5 * gradient.square().sum(dim=(1, 2, 3)).mean()

    def extra_state(self) -> dict[str, torch.Tensor]:
        return {"draws": self.draws.get_state()}

    def load_extra_state(self, tensors: dict[str, torch.Tensor]) -> None:
        if "draws" in tensors:
            self.draws.set_state(tensors["draws"])

    @torch.no_grad()
    def samples(self, batch: dict) -> torch.Tensor:
        """One row per domain (its first image): the input, then its decoding into every domain, with the input's
        own hair colour as inference gives it (no colour at all is a state training never sees)."""
        images, source = self._last
        rows = []
        with self.autocast():
            for k in range(len(self.domains)):
                x = images[source == k][:1]
                own = hair_colour_indices(x) if self.network.hair_colours else None
                code, features = self.network.encode(x, source[source == k][:1])
                outputs = [self.network.decode(code, features, torch.tensor([t], device=self.device), own).float() for t in range(len(self.domains))]
                rows.append(torch.cat([x, *outputs], dim=3))
        return torch.cat(rows, dim=2)[0].float().add(1).div(2).clamp(0, 1).cpu()

    def shipped(self) -> dict[str, tuple[nn.Module, str, dict]]:
        return {"network": (self.network, "twingan", self.network_options)}
