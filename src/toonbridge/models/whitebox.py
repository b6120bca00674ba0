"""White-box cartoonization's generator (Wang & Yu, CVPR 2020): a small U-Net without normalisation.

7×7 conv to ``channels``, two stride-2 stages to 4×``channels``, residual blocks, then bilinear ×2 upsampling with
additive skips back to full size; LeakyReLU 0.2 throughout. Fully convolutional, so the same weights run on a
128-px face or a whole photo (any side that is a multiple of 4; :meth:`WhiteboxGenerator.forward` pads the rest).

In eval mode the output is cleaned by a guided filter with the input as guide (the authors' inference step,
``guided_filter(photo, output, r=1, eps=5e-3)``): it removes the generator's high-frequency noise while keeping the
photo's edges. Training sees the raw output (its losses judge the generator, not the filter). The fast paths
run the network without the filter and the filter afterwards in OpenCV: fp32 ONNX (:meth:`WhiteboxGenerator.onnx_split`)
and int8 LiteRT (:meth:`WhiteboxGenerator.tflite_parts`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from toonbridge.models import register
from toonbridge.models.tflite import TfliteGraph, TfliteParts
from toonbridge.ops.guided_filter import guided_filter, guided_filter_image


def _conv(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2)


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels), _act(), _conv(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register("whitebox_generator")
class WhiteboxGenerator(nn.Module):
    # The input is first extended by this many reflected pixels on each side and the output cropped back: with only
    # the convolutions' zero padding, the generator drew a dark frame along the image border (its discriminators
    # took it for a cartoon's outline). Reflection padding in every convolution also cures it but made a training
    # step 2.2x slower on the CPU; one reflection at the input costs (1 + 16/128)^2 = 1.27x at 128 px.
    border = 8

    def __init__(self, channels: int = 32, n_blocks: int = 4, inference_filter_radius: int = 1, inference_filter_eps: float = 5e-3):
        super().__init__()
        c = channels
        self.inference_filter_radius = inference_filter_radius
        self.inference_filter_eps = inference_filter_eps
        self.stem = nn.Sequential(_conv(3, c, 7), _act())
        self.down1 = nn.Sequential(_conv(c, c, stride=2), _act(), _conv(c, 2 * c), _act())
        self.down2 = nn.Sequential(_conv(2 * c, 2 * c, stride=2), _act(), _conv(2 * c, 4 * c), _act())
        self.blocks = nn.Sequential(*[_Residual(4 * c) for _ in range(n_blocks)], _conv(4 * c, 2 * c), _act())
        self.up1 = nn.Sequential(_conv(2 * c, 2 * c), _act(), _conv(2 * c, c), _act())
        self.up2 = nn.Sequential(_conv(c, c), _act(), _conv(c, 3, 7))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.unfiltered(x)
        if self.training:
            return out
        if self.inference_filter_radius > 0:
            out = guided_filter(x.float(), out.float(), self.inference_filter_radius, self.inference_filter_eps)
        return out.clamp(-1, 1)

    def unfiltered(self, x: torch.Tensor) -> torch.Tensor:
        """The U-Net's output, before the inference filter and the clamp."""
        height, width = x.shape[-2:]
        b = self.border
        padded = F.pad(x, (b, b + -width % 4, b, b + -height % 4), mode=self._border_mode(height, width))
        x0 = self.stem(padded)
        x1 = self.down1(x0)
        x2 = self.blocks(self.down2(x1))
        x3 = self.up1(F.interpolate(x2, size=x1.shape[-2:], mode="bilinear", align_corners=False) + x1)
        out = self.up2(F.interpolate(x3, size=x0.shape[-2:], mode="bilinear", align_corners=False) + x0)
        return out[..., b:b + height, b:b + width]

    def _border_mode(self, height: int, width: int) -> str:
        return "reflect" if min(height, width) > self.border + 3 else "replicate"

    def onnx_split(self):
        """What ONNX export takes (this network without its inference filter) and what runs on the session's arrays
        (inputs, outputs) after it: the filter as ONNX ops cost ~10 ms of an int8 256-px face, in OpenCV ~3
        (docs/benchmarks.md)."""
        return _Unfiltered(self), self._filter_output

    def _filter_output(self, images: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        if self.inference_filter_radius > 0:
            outputs = guided_filter_image(images, outputs, self.inference_filter_radius, self.inference_filter_eps)
        return np.clip(outputs, -1, 1)

    def tflite_parts(self) -> TfliteParts:
        """The int8 LiteRT path (:mod:`toonbridge.models.tflite`): the U-Net as a TFLite graph; the border is added
        in numpy before it, cropped and filtered after it."""
        return TfliteParts(write=self._write_tflite, prepare=self._add_border, finish=self._crop_and_filter)

    def _write_tflite(self, graph: TfliteGraph, image: int) -> int:
        x0 = graph.layers(image, self.stem)
        x1 = graph.layers(x0, self.down1)
        x2 = graph.layers(x1, self.down2)
        for block in self.blocks:
            x2 = graph.add(x2, graph.layers(x2, block.body)) if isinstance(block, _Residual) else graph.layers(x2, [block])
        x3 = graph.layers(graph.add(graph.upsample(x2), x1), self.up1)
        return graph.layers(graph.add(graph.upsample(x3), x0), self.up2)

    def _add_border(self, images: np.ndarray) -> np.ndarray:
        """:meth:`unfiltered`'s padding in numpy (N×3×H×W)."""
        height, width = images.shape[-2:]
        b = self.border
        mode = {"reflect": "reflect", "replicate": "edge"}[self._border_mode(height, width)]
        return np.pad(images, ((0, 0), (0, 0), (b, b + -height % 4), (b, b + -width % 4)), mode=mode)

    def _crop_and_filter(self, images: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        height, width = images.shape[-2:]
        b = self.border
        return self._filter_output(images, np.ascontiguousarray(outputs[..., b:b + height, b:b + width]))


class _Unfiltered(nn.Module):
    """A whitebox generator's :meth:`~WhiteboxGenerator.unfiltered` output as a module (shares the weights)."""

    def __init__(self, generator: WhiteboxGenerator):
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator.unfiltered(x)
