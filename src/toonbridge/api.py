"""The Python API: ``toonbridge.load("bitmoji")`` returns a :class:`Style` that cartoonizes and realizes faces.

    style = toonbridge.load("bitmoji")
    cartoon = style.cartoonize("photo.jpg")            # the whole photo, every face replaced
    result = style.translate("photo.jpg", "cartoonize")  # plus per-face boxes and aligned crops
    photo = style.realize(cartoon_crop, aligned=True)  # an aligned crop in, an aligned crop out

Photos are searched with the face detector and aligned to the style's template. Cartoon faces are not found by
the photo detector, so ``realize`` on a whole (non-aligned) cartoon image uses the style's cartoon landmark
regressors instead: starting from the image's centred square they find the 5 points and re-align on them until
the alignment settles (a locator trained on loose crops first, then the precise regressor), then the face is
translated and pasted back. Without cartoon regressors the centred square is translated as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from toonbridge.data.unpaired import image_to_tensor, tensor_to_image
from toonbridge.errors import NoFaceFound, ToonbridgeError
from toonbridge.faces import AlignedFace, align_face, detect, get_template, paste_back
from toonbridge.faces.align import apply_transform, invert_transform, similarity_transform, warp_to_template
from toonbridge.imageio import ImageInput, load_image, resize_image
from toonbridge.models import load_network
from toonbridge.style_files import StyleInfo, builtin_styles, find_style

DIRECTIONS = {"cartoonize": "to_cartoon", "realize": "to_photo"}
BACKENDS = ("auto", "torch", "onnx")
CARTOON_ALIGN_PASSES = 8


@dataclass
class FaceResult:
    aligned: np.ndarray  # the input face, aligned to the style's template
    output: np.ndarray  # its translation, same size
    box: list[float] | None = None  # x0, y0, x1, y1 in the input image (None for aligned input)
    landmarks5: list[list[float]] | None = None


@dataclass
class Translation:
    image: np.ndarray  # the input with every face replaced (or the translated crop for aligned input)
    faces: list[FaceResult] = field(default_factory=list)


class Style:
    """A shipped (or user) style with both translation directions; networks load on first use."""

    def __init__(self, info: StyleInfo, device: str = "cpu", precision: str = "fp32", backend: str = "auto"):
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be fp32 or bf16, not {precision!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self.info = info
        self.device = torch.device(device)
        self.precision = precision
        self.backend = _resolve_backend(backend, self.device, precision)
        self.template = get_template(info.template)
        self.cartoon_template = get_template(info.cartoon_template or info.template)
        self._networks: dict[str, torch.nn.Module] = {}

    @property
    def name(self) -> str:
        return self.info.name

    def __repr__(self) -> str:
        return f"Style({self.name!r}, {self.info.size} px, {', '.join(self.info.directions)})"

    def network(self, role: str) -> torch.nn.Module:
        """One of the style's networks (``to_cartoon``, ``to_photo``, ``landmarks_photo``, ...), loaded once."""
        if role not in self._networks:
            path = self.info.network_path(role)
            if path is None:
                raise ToonbridgeError(f"style {self.name!r} has no {role} network")
            self._networks[role] = load_network(path).to(self.device)
        return self._networks[role]

    def generator(self, direction: str):
        """The network for ``cartoonize``/``realize``: an onnxruntime session on the ONNX backend (exported once
        into the cache), else the PyTorch module. Both take and return N×3×H×W tensors in [-1, 1]."""
        role = DIRECTIONS[direction]
        if self.backend == "torch":
            return self.network(role)
        key = f"{role}.onnx"
        if key not in self._networks:
            from toonbridge.cache import cache_root
            from toonbridge.models.onnx import OnnxNetwork, cached_onnx

            folder = cache_root() / "onnx"
            try:
                path = cached_onnx(self.network(role), self.info.network_path(role), self.info.size, folder)
            except OSError as error:
                raise ToonbridgeError(f"cannot write the ONNX model under {folder} ({error}); set TOONBRIDGE_CACHE "
                                      "or use the torch backend") from None
            self._networks[key] = OnnxNetwork(path)
        return self._networks[key]

    def cartoonize(self, image: ImageInput, *, aligned: bool = False) -> np.ndarray:
        return self.translate(image, "cartoonize", aligned=aligned).image

    def realize(self, image: ImageInput, *, aligned: bool = False) -> np.ndarray:
        return self.translate(image, "realize", aligned=aligned).image

    def translate(self, image: ImageInput, direction: str, *, aligned: bool = False) -> Translation:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be cartoonize or realize, not {direction!r}")
        image = load_image(image)
        if aligned:
            output = self.translate_aligned([image], direction)[0]
            return Translation(output, [FaceResult(aligned=image, output=output)])
        faces = self._find_faces(image, direction)
        outputs = self.translate_aligned([face.image for face in faces], direction)
        replaced = paste_back(image, list(zip(faces, outputs)))
        results = [FaceResult(face.image, output, _box(face), apply_transform(invert_transform(face.matrix), face.landmarks5).round(2).tolist())
                   for face, output in zip(faces, outputs)]
        return Translation(replaced, results)

    @torch.no_grad()
    def translate_aligned(self, faces: list[ImageInput], direction: str, batch_size: int = 8) -> list[np.ndarray]:
        """Translate aligned crops (any size; the model runs at its own size and the result is resized back)."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be cartoonize or realize, not {direction!r}")
        generator = self.generator(direction)
        outputs = []
        for start in range(0, len(faces), batch_size):
            images = [load_image(face) for face in faces[start:start + batch_size]]
            x = torch.stack([image_to_tensor(resize_image(image, self.info.size)) for image in images]).to(self.device)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                y = generator(x).float()
            outputs += [resize_image(tensor_to_image(t), (image.shape[1], image.shape[0])) for t, image in zip(y, images)]
        return outputs

    def _find_faces(self, image: np.ndarray, direction: str) -> list[AlignedFace]:
        if direction == "cartoonize":
            faces = detect(image)
            if not faces:
                raise NoFaceFound("no face found")
            return [align_face(image, face, self.template) for face in faces]
        return [self._align_cartoon(image)]

    def _align_cartoon(self, image: np.ndarray) -> AlignedFace:
        height, width = image.shape[:2]
        matrix = _square_to_template(width / 2, height / 2, min(height, width), self.info.size)
        if self.info.network_path("landmarks_cartoon") is None:
            return warp_to_template(image, matrix, self.cartoon_template)
        # Regressors trained on aligned faces are only roughly right on a loose crop, so the alignment is found by
        # re-aligning on each answer until it settles: first with the locator (trained on loose crops), if the
        # style has one, then with the precise regressor.
        points = None
        if self.info.network_path("locate_cartoon") is not None:
            matrix, points = self._settle(image, matrix, self.network("locate_cartoon"), tolerance=2.0)
        matrix, points = self._settle(image, matrix, self.network("landmarks_cartoon"), tolerance=0.5)
        return warp_to_template(image, matrix, self.cartoon_template, landmarks5=points)

    def _settle(self, image: np.ndarray, matrix: np.ndarray, regressor: torch.nn.Module, tolerance: float):
        template_points = np.asarray(self.cartoon_template.points5, dtype=np.float64)
        for _ in range(CARTOON_ALIGN_PASSES):
            crop = warp_to_template(image, matrix, self.cartoon_template, padding="edge").image
            with torch.no_grad():
                found = regressor.points(image_to_tensor(crop)[None].to(self.device))[0].double().cpu().numpy()
            points = apply_transform(invert_transform(matrix), found)  # back to image pixels
            matrix = similarity_transform(points, template_points)
            if np.abs(found - template_points).max() < tolerance:
                break
        return matrix, points


def _square_to_template(centre_x: float, centre_y: float, side: float, size: int) -> np.ndarray:
    """The matrix that maps a square of ``side`` pixels centred at (x, y) onto the size×size model input."""
    scale = size / side
    return np.array([[scale, 0, (side / 2 - centre_x) * scale], [0, scale, (side / 2 - centre_y) * scale]])


def _box(face: AlignedFace) -> list[float]:
    width, height = face.template.size
    corners = apply_transform(invert_transform(face.matrix), np.array([[0, 0], [width, 0], [0, height], [width, height]], float))
    return [*corners.min(axis=0).round(1).tolist(), *corners.max(axis=0).round(1).tolist()]


def _resolve_backend(backend: str, device: torch.device, precision: str) -> str:
    from toonbridge.models.onnx import onnx_available

    if backend == "onnx":
        if device.type != "cpu" or precision != "fp32":
            raise ValueError("the ONNX backend runs fp32 on the CPU only")
        if not onnx_available():
            raise ToonbridgeError("the ONNX backend needs onnxruntime: pip install 'toonbridge[onnx]'")
        return "onnx"
    if backend == "auto":
        return "onnx" if device.type == "cpu" and precision == "fp32" and onnx_available() else "torch"
    return "torch"


def load(name: str | Path = "bitmoji", device: str = "cpu", precision: str = "fp32", backend: str = "auto") -> Style:
    """A shipped style by name (see :func:`styles`) or a style folder by path.

    ``precision="bf16"`` runs the generators under bfloat16 autocast: 1.4-1.8x faster for bitmoji on CPUs with
    AVX-512 BF16, at a small cost in fidelity (see docs/benchmarks.md). ``backend``: ``auto`` runs the generators
    with onnxruntime when it is installed (fp32 on the CPU; 1.0-1.3x faster than PyTorch fp32 here, same results
    to 1e-4) and with PyTorch otherwise; ``torch`` or ``onnx`` force one.
    """
    return Style(find_style(name), device, precision, backend)


def styles() -> list[StyleInfo]:
    return builtin_styles()
