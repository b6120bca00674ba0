"""pSp training (Richardson et al. 2021, "Encoding in Style"), one method of the generic loop: only the encoder
learns; the face generator it encodes into is frozen.

Per step, with a batch of aligned real faces x (framed as the generator draws them: the ``bitmoji`` template):

    styles = encoder(input);  y = generator.synthesis(styles)
    loss = l2 · mean (y − x)²  +  perceptual · face_perceptual(y, x)  +  identity · (1 − cos id(y), id(x))
           + w_norm · mean over the batch of ‖styles − w̄‖₂

with pSp's weights (1, 0.8, 0.1, 0.005 for inversion). The perceptual and identity terms are our face network's
(:mod:`toonbridge.losses.face_features`), standing in for LPIPS and ArcFace; both cut dlib's chip from the
template's 5 points, which every aligned face and every generated face share.

The input is x itself (inversion), or for super-resolution x down-sampled by a factor drawn from
``loss.downsample_factors`` and resized back (pSp's ``--resize_factors``); the target stays x. The encoder trained on
real faces only is then fed cartoons: the "toons made real" results in pSp's issues came from exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from toonbridge.losses.face_features import face_identity_loss, face_perceptual_loss
from toonbridge.models import build
from toonbridge.models.psp import load_generator
from toonbridge.train.config import ConfigError, TrainConfig
from toonbridge.train.method import TrainingMethod, register_method
from toonbridge.train.stylegan import FaceImagesData


@dataclass
class PSPModel:
    generator: str = "faces"  # "faces" (the shipped face generator), an exported generator file, or a stylegan2 run
    width: int = 128  # channels of the feature pyramid and the map2style trunks


@dataclass
class PSPLoss:
    l2: float = 1.0
    perceptual: float = 0.8
    identity: float = 0.1
    w_norm: float = 0.005
    downsample_factors: list[int] = field(default_factory=lambda: [1])  # super-resolution: e.g. [1, 2, 4, 8]


@dataclass
class PSPOptim:
    lr: float = 1e-4


def downsample(images: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Each image shrunk by its factor (area average, as a camera's small sensor would) and resized back bicubically."""
    size = images.shape[-1]
    out = images.clone()
    for factor in factors.unique().tolist():
        if factor == 1:
            continue
        chosen = factors == factor
        small = F.interpolate(images[chosen], size=max(1, size // factor), mode="area")
        out[chosen] = F.interpolate(small, size=size, mode="bicubic", align_corners=False).clamp(-1, 1)
    return out


@register_method("psp")
class PSPTraining(TrainingMethod):
    sections = {"data": FaceImagesData, "model": PSPModel, "loss": PSPLoss, "optim": PSPOptim}

    @classmethod
    def check_sections(cls, loss: PSPLoss, **_) -> None:
        if not loss.downsample_factors or any(type(f) is not int or f < 1 for f in loss.downsample_factors):
            raise ConfigError("loss: downsample_factors must be whole numbers of at least 1, such as [1, 2, 4, 8]")

    def __init__(self, config: TrainConfig, device: torch.device):
        super().__init__(config, device)
        from toonbridge.faces import get_template
        from toonbridge.faces.features import face_network

        self.generator = load_generator(self.model_config.generator, device)
        if self.generator.resolution != self.data_config.size:
            raise ConfigError(f"data: size must be the generator's {self.generator.resolution} px, not {self.data_config.size}")
        self.options = {"num_ws": self.generator.num_ws, "w_dim": self.generator.w_dim, "width": self.model_config.width,
                        "generator": self.model_config.generator}
        self.encoder = build("psp_encoder", **self.options).to(device)
        self.encoder.backbone_state_from(face_network(device))  # the pretrained start pSp cannot do without
        self.encoder.w_avg.copy_(self.generator.w_avg)
        self.networks = {"encoder": self.encoder}
        self.optimizers = {"encoder": torch.optim.Adam(self.encoder.parameters(), lr=self.optim_config.lr)}
        template = get_template("bitmoji")
        points = np.asarray(template.points5, dtype=np.float32) * (self.data_config.size / template.size[0])
        self.points5 = torch.from_numpy(points).to(device)

    def dataset(self):
        return self.data_config.images(self.config.seed)

    def _inputs(self, faces: torch.Tensor) -> torch.Tensor:
        factors = self.loss_config.downsample_factors
        if factors == [1]:
            return faces
        drawn = torch.tensor(factors)[torch.randint(len(factors), (faces.shape[0],))]
        return downsample(faces, drawn.to(faces.device))

    def invert(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with self.autocast():
            styles = self.encoder(inputs).float()
            return styles, self.generator.synthesis(styles).float()

    def train_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        faces = batch["image"]
        loss = self.loss_config
        styles, output = self.invert(self._inputs(faces))
        points = self.points5.expand(faces.shape[0], -1, -1)
        terms = {"l2": F.mse_loss(output, faces)}
        if loss.perceptual:
            terms["perceptual"] = face_perceptual_loss(output, faces, points, points)
        if loss.identity:
            terms["identity"] = face_identity_loss(faces, output, points)
        if loss.w_norm:
            terms["w_norm"] = (styles - self.encoder.w_avg).norm(dim=(1, 2)).mean()
        total = sum(getattr(loss, name) * value for name, value in terms.items())
        optimizer = self.optimizers["encoder"]
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return {name: value.detach() for name, value in terms.items()}

    @torch.no_grad()
    def samples(self, batch: dict) -> torch.Tensor:
        faces = batch["image"][:8]
        inputs = self._inputs(faces)
        _, output = self.invert(inputs)
        rows = torch.stack([inputs, output, faces]).clamp(-1, 1).add(1).div(2)  # input | inversion | target
        return rows.permute(2, 0, 3, 1, 4).flatten(3, 4).flatten(1, 2)

    def shipped(self) -> dict[str, tuple[torch.nn.Module, str, dict]]:
        return {"encoder": (self.encoder, "psp_encoder", self.options)}
