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

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from toonbridge.data.unpaired import image_to_tensor, tensor_to_image
from toonbridge.errors import FaceTooSmall, NoFaceFound, ToonbridgeError, UnknownName
from toonbridge.faces import AlignedFace, align_face, detect, get_template, paste_back
from toonbridge.faces.align import (MIN_FACE_PX, apply_transform, fill_past_edge, invert_transform, photo_region, similarity_transform,
                                   warp_padded, warp_to_template)
from toonbridge.faces.backdrop import key_to_white, person_mask
from toonbridge.faces.portraits import Portrait
from toonbridge.faces.sunglasses import SunglassesMode, draw_sunglasses, hide_lenses, lens_mask
from toonbridge.imageio import ImageInput, load_image, resize_image
from toonbridge.models import load_network
from toonbridge.ops.exposure import brighten, denoise, exposure_gain
from toonbridge.style_files import DEFAULT_STYLE, StyleInfo, find_style, shipped_styles

DIRECTIONS = {"cartoonize": "to_cartoon", "realize": "to_photo"}
# The style-based generator of realistic faces ([stylegan]; the prior pSp inverts into), once it ships.
FACE_GENERATOR = Path(__file__).parent / "weights" / "faces" / "generator.safetensors"
# pSp's super-resolution encoder into that generator ([psp]).
SUPER_RESOLUTION = Path(__file__).parent / "weights" / "psp-sr" / "encoder.safetensors"
BACKENDS = ("auto", "torch", "onnx")
PRECISIONS = ("fp32", "bf16", "int8")
# What int8 models are calibrated on (activation ranges), so that quantising needs no data beyond the package.
SAMPLE_PHOTO = Path(__file__).parent / "assets" / "astronaut.jpg"
CARTOON_ALIGN_PASSES = 8
# A face enlarged more than this to reach the style's size gets a note: its aligned cartoon (the per-face output)
# is made from a blurry crop and looks soft when shown large; pasted back at its own size it looks fine.
SOFT_UPSCALE = 2.5
# A face whose aligned crop lies more than this share past the photo's edge gets a note: the style was shown a
# filled-in margin there (StyleInfo.padding), so the hair and head outline it draws there are guessed. The share
# (bitmoji / anime framing, median of 50 faces, docs/faces.md): CelebA portraits 2 / 5 %, HELEN photos 1 / 0 %,
# selfies 34 / 13 %, UTKFace chips 62 / 50 %; past a third the filling takes the top of the head.
FILLED_SHARE_NOTE = 1 / 3
# A cartoon goes through the style's ×2 upscaler while it would be shown at least this many times its width (below,
# bicubic enlargement looks the same), up to this side: beyond it a ×2 pass costs more than a second on 2 cores.
UPSCALE_FROM = 1.5
UPSCALED_MAX_SIDE = 512
AVATAR_SIDE = 512  # cartoonize --cutout: the transparent avatar's side, for styles with an upscaler
# Whole-photo mode (fully convolutional styles): larger photos run at this longer side and are resized back.
WHOLE_PHOTO_MAX_SIDE = 1024


@dataclass
class FaceResult:
    aligned: np.ndarray  # the input face, aligned to the style's template
    output: np.ndarray  # its translation, same size
    box: list[float] | None = None  # x0, y0, x1, y1 in the input image (None for aligned input)
    landmarks5: list[list[float]] | None = None
    group: str | None = None  # the branch that translated it (group styles only)
    note: str | None = None  # e.g. that a small face was enlarged a lot


@dataclass
class SkippedFace:
    box: list[float]  # the detector's box in the input image
    note: str  # why it was left as it is


@dataclass
class Translation:
    image: np.ndarray  # the input with every face replaced (or the translated crop for aligned input)
    faces: list[FaceResult] = field(default_factory=list)
    skipped: list[SkippedFace] = field(default_factory=list)  # faces found but left as they are (too small)


class Style:
    """A shipped (or user) style with both translation directions; networks load on first use."""

    def __init__(self, info: StyleInfo, device: str = "cpu", precision: str = "fp32", backend: str = "auto",
                 hair: str | None = None, refine_steps: int = 0):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self.info = info
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ToonbridgeError("device cuda was asked for, but torch sees no CUDA device here")
        if precision == "int8" and info.views:
            raise ToonbridgeError(f"style {info.name!r} runs in PyTorch only (fp32 or bf16), not int8")
        self.precision = precision
        self.backend = _resolve_backend(backend, self.device, precision)
        self.template = get_template(info.template)
        self.cartoon_template = get_template(info.cartoon_template or info.template)
        self._networks: dict[str, torch.nn.Module] = {}
        self._files: dict[Path, torch.nn.Module] = {}  # roles that view one file share its weights
        if hair is not None and not info.views:
            raise ToonbridgeError(f"style {info.name!r} cannot choose a hair colour (the twingan styles can)")
        self.hair = hair
        if refine_steps < 0:
            raise ValueError(f"refine_steps must be 0 or more, not {refine_steps}")
        if refine_steps and precision == "int8":
            raise ToonbridgeError("refinement optimises in PyTorch (fp32 or bf16), not int8")
        self.refine_steps = refine_steps  # inverting styles (psp): optimisation steps after the encoder
        self.brighten_dim_photos = True  # cut a dim photo's (or video's) faces out brightened and denoised (ops/exposure.py)
        # Styles with "sunglasses" in style.json: "draw" dark sunglasses on the cartoon over the portrait's eyes,
        # "hide" them (eyes only), or "keep" them in what the generator sees (faces.sunglasses).
        self.sunglasses: SunglassesMode = "draw"
        # Styles with an "upscale_cartoon" network enlarge their cartoons with it where they are shown larger than
        # the model draws them (models/cartoon_upscaler.py); off, they are enlarged bicubically as before.
        self.upscale = True

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
            if path not in self._files:
                self._files[path] = load_network(path).to(self.device)
            network = self._files[path]
            if role in self.info.views:  # one direction of a many-domain network (TwinGAN)
                try:
                    network = network.view(**self.info.views[role], hair=self.hair).eval()
                except ValueError as error:
                    raise ToonbridgeError(f"style {self.name!r}: {error}") from None
            # A network that needs others to run (pSp's encoder and the face generator) says what to run instead.
            self._networks[role] = network.for_inference(self.device) if hasattr(network, "for_inference") else network
            if self.refine_steps and hasattr(self._networks[role], "refine_steps"):
                self._networks[role].refine_steps = self.refine_steps
        return self._networks[role]

    @property
    def groups(self) -> list[str]:
        """The style's group branches (few-shot group transfer), empty for a single-branch style."""
        return self.info.group_names

    def generator(self, direction: str, group: str | None = None):
        """The network for ``cartoonize``/``realize`` (one group's branch of a group style): on the ONNX backend an
        onnxruntime session or, for int8 networks that write themselves as TFLite, a LiteRT interpreter (made once
        into the cache), else the PyTorch module. All take and return N×3×H×W tensors in [-1, 1]."""
        role = DIRECTIONS[direction]
        if group is None:
            module = self.network(role)
        else:  # a branch shares the generator's weights: nothing is switched, so threads can share the style
            if f"{role}.{group}" not in self._networks:
                self._networks[f"{role}.{group}"] = self.network(role).branch(group)
            module = self._networks[f"{role}.{group}"]
        # A many-domain view reads each input's hair colour in numpy; refinement optimises, which ONNX cannot.
        if self.backend == "torch" or self.info.views or self.refine_steps:
            return module
        return self._compiled(module, direction, group)

    def _compiled(self, module: torch.nn.Module, direction: str, group: str | None = None, any_size: bool = False):
        """int8 on LiteRT where the network can write itself as a TFLite graph (XNNPack's int8 convolutions are the
        faster here, docs/benchmarks.md; any size), else onnxruntime."""
        if self.precision == "int8" and hasattr(module, "tflite_parts"):
            return self._tflite(module, direction, group)
        return self._onnx(module, direction, group, any_size)

    def _tflite(self, module: torch.nn.Module, direction: str, group: str | None = None):
        role = DIRECTIONS[direction]
        key = f"{role}.{group or ''}.int8.tflite"
        if key not in self._networks:
            from toonbridge.cache import cache_root
            from toonbridge.models.tflite import TfliteNetwork, cached_tflite

            folder = cache_root() / "litert"
            try:
                path = cached_tflite(module, self.info.network_path(role), folder,
                                     functools.partial(self._calibration_images, direction), variant=group or "")
            except OSError as error:
                raise ToonbridgeError(f"cannot write the int8 model under {folder} ({error}); set TOONBRIDGE_CACHE "
                                      "or use fp32") from None
            self._networks[key] = TfliteNetwork(path, module.tflite_parts())
        return self._networks[key]

    def _onnx(self, module: torch.nn.Module, direction: str, group: str | None = None, any_size: bool = False):
        """The ONNX session of one generator (int8 at ``precision="int8"``), exported once into the cache."""
        role = DIRECTIONS[direction]
        onnx_key = f"{role}.{group or ''}.{'any' if any_size else ''}.{self.precision}.onnx"
        if onnx_key not in self._networks:
            from toonbridge.cache import cache_root
            from toonbridge.models.onnx import OnnxNetwork, cached_onnx, export_parts

            folder = cache_root() / "onnx"
            calibration = functools.partial(self._calibration_images, direction) if self.precision == "int8" else None
            exported, finish = export_parts(module)
            # A split graph lacks the part run outside it: its own cache name, never mistaken for a whole one.
            variant = "-".join(filter(None, [group, "core" if finish else ""]))
            try:
                path = cached_onnx(exported, self.info.network_path(role), self.info.size, folder, variant=variant,
                                   any_size=any_size, calibration=calibration)
            except OSError as error:
                raise ToonbridgeError(f"cannot write the ONNX model under {folder} ({error}); set TOONBRIDGE_CACHE "
                                      "or use the torch backend") from None
            self._networks[onnx_key] = OnnxNetwork(path, finish=finish)
        return self._networks[onnx_key]

    def _calibration_images(self, direction: str) -> list[torch.Tensor]:
        """What an int8 generator's activation ranges are measured on: the bundled sample photo's face as the
        network reads it and nine crops of the whole photo (whole-photo mode sees backgrounds); for ``realize``,
        the same images cartoonized by this style in fp32 (no cartoon ships with the package), or as they are for a
        style that only realizes (psp)."""
        photo = load_image(SAMPLE_PHOTO)
        height, width = photo.shape[:2]
        images = [self._to_model(self._find_faces(photo, "cartoonize")[0][0].image, "cartoonize")]
        for scale in (1.0, 0.7, 0.5):
            crop_h, crop_w = int(height * scale), int(width * scale)
            for top, left in ((0, 0), ((height - crop_h) // 2, (width - crop_w) // 2), (height - crop_h, width - crop_w)):
                images.append(resize_image(photo[top:top + crop_h, left:left + crop_w], (self.info.size, self.info.size)))
        tensors = [image_to_tensor(image)[None] for image in images]
        if direction == "realize" and "cartoonize" in self.info.directions:
            with torch.no_grad():
                tensors = [self.network(DIRECTIONS["cartoonize"])(x).float().clamp(-1, 1) for x in tensors]
        return tensors

    def model_input(self, image: ImageInput, direction: str, *, aligned: bool = False) -> np.ndarray:
        """The image's face as this style's network reads it (its largest face, for photos), without translating."""
        _check_direction(direction)
        image = load_image(image)
        if not aligned:
            faces, _ = self._find_faces(image, direction)
            image = min(faces, key=lambda face: face.scale).image
        return self._to_model(image, direction)

    def route(self, faces: list[np.ndarray], direction: str, group: str | None = None) -> list[str | None]:
        """The branch each aligned face goes to: ``group`` when one is named, else (None or ``"auto"``) the first
        routing rule whose classifier picks its class, else the style's default group. None for a plain style."""
        if not self.groups:
            if group not in (None, "auto"):
                raise ToonbridgeError(f"style {self.name!r} has no groups (group styles: "
                                      f"{', '.join(s.name for s in shipped_styles() if s.group_names) or 'none'})")
            return [None] * len(faces)
        if group not in (None, "auto"):
            if group not in self.groups:
                raise UnknownName(f"unknown group {group!r} for style {self.name!r}; known: auto, {', '.join(self.groups)}")
            return [group] * len(faces)
        chosen: list[str | None] = [None] * len(faces)
        for rule in self.info.groups.get("route", {}).get(direction, []):
            pending = [i for i, found in enumerate(chosen) if found is None]
            if not pending:
                break
            x = torch.stack([image_to_tensor(resize_image(faces[i], self.info.size)) for i in pending]).to(self.device)
            for i, label in zip(pending, self.network(rule["network"]).predict(x)):
                if label == rule["class"]:
                    chosen[i] = rule["group"]
        return [found or self.info.groups["default"] for found in chosen]

    def cutout(self, face: FaceResult, direction: str) -> np.ndarray:
        """A translated face as an RGBA avatar: transparent outside the head (and on a keyed cartoon backdrop); a
        cartoon at ``AVATAR_SIDE`` px where the style has an upscaler (a profile picture is shown larger than 128)."""
        from toonbridge.faces.paste import cutout

        template = self.template if direction == "cartoonize" else self.cartoon_template
        image = self.enlarged(face.output, AVATAR_SIDE) if direction == "cartoonize" else face.output
        height, width = image.shape[:2]
        return cutout(image, template.points_at(width, height), key_light_background=self.keys_background(direction))

    def keys_background(self, direction: str) -> bool:
        """Whether pasting this direction's faces keys out a light backdrop (cartoons of light-backdrop styles)."""
        return direction == "cartoonize" and self.info.light_background

    def cartoonize(self, image: ImageInput, *, aligned: bool = False, group: str | None = None, strength: float = 1.0,
                   largest_face: bool = False, min_face: float = MIN_FACE_PX) -> np.ndarray:
        return self.translate(image, "cartoonize", aligned=aligned, group=group, strength=strength, largest_face=largest_face,
                              min_face=min_face).image

    def realize(self, image: ImageInput, *, aligned: bool = False, group: str | None = None, strength: float = 1.0) -> np.ndarray:
        return self.translate(image, "realize", aligned=aligned, group=group, strength=strength).image

    def translate(self, image: ImageInput, direction: str, *, aligned: bool = False, group: str | None = None,
                  strength: float = 1.0, largest_face: bool = False, min_face: float = MIN_FACE_PX) -> Translation:
        """``group`` (group styles only): a branch name, or None/``"auto"`` to route each face by the classifiers.
        ``strength``: 1 is the full style, 0 the input face, in between a blend of the two. ``largest_face``: only
        the largest detected face is translated (the others stay as they are). ``min_face``: photo faces narrower
        than this many pixels are left as they are and listed in ``skipped`` (``FaceTooSmall`` if no face is
        left)."""
        _check_direction(direction)
        if not 0 <= strength <= 1:
            raise ValueError(f"strength must be between 0 and 1, not {strength}")
        image = load_image(image)
        if aligned:
            face = self._given_aligned(image, direction)
            outputs, groups = self._translate_routed([face.image], direction, group)
            output = self.dress(face, _blend(face.image, outputs[0], strength))
            note = SUNGLASSES_NOTE if face.lenses is not None else None
            return Translation(output, [FaceResult(aligned=face.image, output=output, group=groups[0], note=note)])
        faces, skipped = self._find_faces(image, direction, min_face)
        if largest_face:
            faces = [min(faces, key=lambda face: face.scale)]  # the least enlarged: the largest in the photo
        outputs, groups = self._translate_routed([face.image for face in faces], direction, group)
        outputs = [self.dress(face, _blend(face.image, output, strength)) for face, output in zip(faces, outputs)]
        # A face larger in the photo than its crop is pasted from an enlarged cartoon, not a bicubic blur of it.
        pasted = [self.enlarged(output, face.image.shape[1] / face.scale) if direction == "cartoonize" else output
                  for face, output in zip(faces, outputs)]
        replaced = paste_back(image, list(zip(faces, pasted)), key_light_background=self.keys_background(direction))
        results = [FaceResult(face.image, output, _box(face), apply_transform(invert_transform(face.matrix), face.landmarks5).round(2).tolist(),
                              chosen, _face_note(face, image.shape, self.info.size) if direction == "cartoonize" else None)
                   for face, output, chosen in zip(faces, outputs, groups)]
        return Translation(replaced, results, skipped)

    @torch.no_grad()
    def cartoonize_whole(self, image: ImageInput, *, strength: float = 1.0, max_side: int | None = WHOLE_PHOTO_MAX_SIDE) -> np.ndarray:
        """The entire photo cartoonized, background and all (styles with a fully convolutional network, such as
        the whitebox ones), not only the aligned faces. Photos larger than ``max_side`` run at that size (longer
        side) and are resized back; memory stays bounded by tiling. ``strength`` as in :meth:`translate`."""
        if not self.info.whole_photo:
            raise ToonbridgeError(f"style {self.name!r} translates aligned faces only; the whole-photo mode needs a fully "
                                  f"convolutional style ({', '.join(s.name for s in shipped_styles() if s.whole_photo) or 'none installed'})")
        if not 0 <= strength <= 1:
            raise ValueError(f"strength must be between 0 and 1, not {strength}")
        from toonbridge.ops.tiles import run_tiled

        image = load_image(image)
        height, width = image.shape[:2]
        shrink = max_side is not None and max(height, width) > max_side
        work = resize_image(image, _fit(width, height, max_side)) if shrink else image
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            output = run_tiled(self.whole_photo_network(), image_to_tensor(work)[None].to(self.device))
        output = tensor_to_image(output[0])
        return _blend(image, resize_image(output, (width, height)) if shrink else output, strength)

    def whole_photo_network(self):
        """The cartoonize network that takes images of any size (whole-photo mode): the PyTorch module, or at
        ``precision="int8"`` an int8 model that takes any height and width (LiteRT or onnxruntime, as
        :meth:`generator`). (fp32 stays in PyTorch: the ONNX fast path is exported at the style's size.)"""
        network = self.network(DIRECTIONS["cartoonize"])
        return self._compiled(network, "cartoonize", any_size=True) if self.precision == "int8" else network

    @property
    def has_variants(self) -> bool:
        """Whether :meth:`variants` works: the style realizes by inverting into the face generator."""
        return "realize" in self.info.directions and hasattr(self.network(DIRECTIONS["realize"]), "variants")

    @torch.no_grad()
    def variants(self, image: ImageInput, count: int, *, seed: int = 0, aligned: bool = False) -> list[np.ndarray]:
        """``count`` different realistic faces for one cartoon (styles that invert into the face generator, such as
        ``psp``): the fine styles (colour, texture, light) come from random faces drawn from ``seed``, so the same
        seed gives the same variants. Whole images in, whole images out (the face pasted back); aligned crops with
        ``aligned``."""
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        if not self.has_variants:
            raise ToonbridgeError(f"style {self.name!r} draws one face per cartoon; variants need a style that inverts "
                                  "into the face generator (psp)")
        network = self.network(DIRECTIONS["realize"])
        image = load_image(image)
        face = None if aligned else self._find_faces(image, "realize")[0][0]
        crop = image if aligned else face.image
        x = image_to_tensor(self._to_model(crop, "realize"))[None].to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            drawn = network.variants(x, count, seed)[0].float()
        outputs = [self._from_model(tensor_to_image(y), "realize", crop.shape) for y in drawn]
        if aligned:
            return outputs
        return [paste_back(image, [(face, output)]) for output in outputs]

    def translate_aligned(self, faces: list[ImageInput], direction: str, batch_size: int = 8, group: str | None = None) -> list[np.ndarray]:
        """Translate aligned crops (any size; the model runs at its own size and the result is resized back), as
        they are: no sunglasses step, unlike ``translate(..., aligned=True)`` (evaluation and video, whose crops
        :meth:`align_faces` already prepared, call this)."""
        _check_direction(direction)
        return self._translate_routed([load_image(face) for face in faces], direction, group, batch_size)[0]

    @torch.no_grad()
    def _translate_routed(self, images: list[np.ndarray], direction: str, group: str | None,
                          batch_size: int = 8) -> tuple[list[np.ndarray], list[str | None]]:
        groups = self.route(images, direction, group)
        outputs: list[np.ndarray] = [None] * len(images)  # type: ignore[list-item]
        for chosen in dict.fromkeys(groups):  # one batch run per branch, in first-seen order
            generator = self.generator(direction, chosen)
            members = [i for i, found in enumerate(groups) if found == chosen]
            for start in range(0, len(members), batch_size):
                batch = members[start:start + batch_size]
                x = torch.stack([image_to_tensor(self._to_model(images[i], direction)) for i in batch]).to(self.device)
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                    y = generator(x).float()
                for i, t in zip(batch, y):
                    outputs[i] = self._from_model(tensor_to_image(t), direction, images[i].shape)
        return outputs, groups

    def _reframing(self, direction: str) -> np.ndarray | None:
        """The similarity taking a model-sized crop from the cartoon template's framing to the photo template's,
        for a style whose realize network reads photo-framed faces (``reframe_cartoons``); None for the others."""
        if direction != "realize" or not self.info.reframe_cartoons:
            return None
        size = self.info.size
        cartoon, photo = self.cartoon_template.points_at(size), self.template.points_at(size)
        return similarity_transform(cartoon, photo)

    def _to_model(self, image: np.ndarray, direction: str) -> np.ndarray:
        """An aligned crop as the model reads it: at its size, and in the photo framing where the style asks."""
        crop = resize_image(image, self.info.size)
        matrix = self._reframing(direction)
        return crop if matrix is None else warp_padded(crop, matrix, (self.info.size, self.info.size), padding="edge")

    def _from_model(self, output: np.ndarray, direction: str, shape: tuple[int, ...]) -> np.ndarray:
        """A model's output back in the input crop's framing and size (the inverse of :meth:`_to_model`)."""
        matrix = self._reframing(direction)
        if matrix is not None:
            output = warp_padded(output, invert_transform(matrix), (self.info.size, self.info.size), padding="edge")
        if direction == "cartoonize":
            output = self.enlarged(output, shape[1])
        return resize_image(output, (shape[1], shape[0]))

    @torch.no_grad()
    def enlarged(self, cartoon: np.ndarray, shown_width: float) -> np.ndarray:
        """``cartoon`` enlarged ×2 by the style's upscaler for as long as it would still be shown at least
        ``UPSCALE_FROM`` times its width (``shown_width``: its width where it ends up), up to ``UPSCALED_MAX_SIDE``;
        as it is for a style without an upscaler or with ``upscale`` off."""
        if not self.upscale or "upscale_cartoon" not in self.info.networks:
            return cartoon
        network = self.network("upscale_cartoon")
        while shown_width >= UPSCALE_FROM * cartoon.shape[1] and 2 * max(cartoon.shape[:2]) <= UPSCALED_MAX_SIDE:
            x = image_to_tensor(cartoon)[None].to(self.device)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                cartoon = tensor_to_image(network(x).float()[0])
        return cartoon

    def _find_faces(self, image: np.ndarray, direction: str, min_face: float = MIN_FACE_PX) -> tuple[list[AlignedFace], list[SkippedFace]]:
        if direction != "cartoonize":
            return [self._align_cartoon(image)], []
        # A dim photo is found and cut out brightened (ops/exposure.py); the result is still pasted onto the photo.
        gain = exposure_gain(image) if self.brighten_dim_photos else 1.0
        image = brighten(image, gain)
        found = detect(image)
        if not found:
            raise NoFaceFound("no face found")
        kept = [face for face in found if face.width >= min_face]
        skipped = [SkippedFace([round(float(v), 1) for v in face.box],
                               f"face {face.width:.0f} px wide, under the minimum of {min_face:g} px: left as it is")
                   for face in found if face.width < min_face]
        if not kept:
            widest = max(face.width for face in found)
            raise FaceTooSmall(f"{_faces(len(found))} found, all under {min_face:g} px wide (the widest is {widest:.0f} px); "
                               "a smaller minimum face size translates them anyway")
        return self.align_faces(image, kept, brightened=gain != 1.0), skipped

    def align_faces(self, photo: np.ndarray, faces: list, portraits: list[Portrait | None] | None = None, *,
                    brightened: bool = False) -> list[AlignedFace]:
        """Each face (a detection or its 5 points) aligned to the style's template, padded past the photo's edge as
        the style says (``StyleInfo.padding``), with the photo's background keyed white if it says so
        (``StyleInfo.backdrop``). ``portraits`` fixes the padding portrait per face where already chosen (a
        video keeps one per track, so the padding cannot flicker); the others are chosen on their crop. The crops
        of a ``brightened`` photo are denoised: its gain multiplied the sensor's noise (ops/exposure.py)."""
        padding = "white" if self.info.padding == "portrait" else self.info.padding
        aligned = [align_face(photo, face, self.template, padding=padding) for face in faces]
        if self.info.backdrop == "white" or self.info.padding == "portrait":
            # Where each crop lies inside the photo: keying touches only the photo, the portrait only what lies past it.
            regions = [photo_region(photo.shape, face.matrix, face.template.size) for face in aligned]
            portraits = portraits or [None] * len(faces)
            # The segmenter's mask, once per crop: it keys the backdrop and tells where the hair is.
            people = [person_mask(face.image, face.landmarks5, region) if self.info.backdrop == "white" or self.info.portrait_hair
                      else None for face, region in zip(aligned, regions)]
            lenses = [lens_mask(face.image, face.template_points, region) if self.info.sunglasses and self.sunglasses != "keep"
                      else None for face, region in zip(aligned, regions)]
            # The hair colour is read before keying: keyed, the mask's soft edge blends the hair towards white. Faces
            # behind sunglasses get a portrait too (its eyes), which a video then keeps for the face's track.
            hairs = [self._hair_colour(face, region, person)
                     if self.info.portrait_hair and portrait is None and (not region.all() or lens is not None) else None
                     for face, region, person, portrait, lens in zip(aligned, regions, people, portraits, lenses)]
            if self.info.backdrop == "white":
                aligned = [dataclasses.replace(face, image=key_to_white(face.image, face.landmarks5, region, person))
                           for face, region, person in zip(aligned, regions, people)]
            if self.info.padding == "portrait":
                aligned = self._fill_with_portraits(aligned, regions, portraits, hairs, lenses)
        return [dataclasses.replace(face, image=denoise(face.image)) for face in aligned] if brightened else aligned

    def _fill_with_portraits(self, faces: list[AlignedFace], regions: list[np.ndarray], portraits: list[Portrait | None],
                             hairs: list[tuple[float, float, float] | None], lenses: list[np.ndarray | None]) -> list[AlignedFace]:
        """Faces whose crop reaches past the photo (``regions``: where each crop lies inside it) get the average
        portrait of their gender there (judged on the crop by the style's ``portrait_gender`` classifier, which
        reads the face itself, not the padding), its hair in the colour read off the crop (``hairs``) if any;
        faces behind dark sunglasses (``lenses``) get its eyes there (faces.sunglasses)."""
        from toonbridge.faces.portraits import mean_portraits

        needed = [i for i, (region, lens) in enumerate(zip(regions, lenses)) if not region.all() or lens is not None]
        if not needed:
            return faces
        template = mean_portraits()[0]
        if template != self.info.template:
            raise ToonbridgeError(f"style {self.name!r}: the mean portraits sit on the {template} template, not {self.info.template}")
        portraits = list(portraits)
        unknown = [i for i in needed if portraits[i] is None]
        if unknown:
            x = torch.stack([image_to_tensor(resize_image(faces[i].image, self.info.size)) for i in unknown]).to(self.device)
            for i, gender in zip(unknown, self.network("portrait_gender").predict(x)):
                portraits[i] = Portrait(gender, hairs[i])
        filled = list(faces)
        for i in needed:
            portrait = portraits[i].image()
            image = fill_past_edge(faces[i].image, regions[i], portrait)
            if lenses[i] is not None:
                image = hide_lenses(image, faces[i].template_points, lenses[i], portrait)
            filled[i] = dataclasses.replace(faces[i], image=image, portrait=portraits[i], lenses=lenses[i])
        return filled

    def _given_aligned(self, image: np.ndarray, direction: str) -> AlignedFace:
        """An aligned crop given as input, as :meth:`align_faces` leaves a detected face: behind dark sunglasses,
        the lenses hidden (``Style.sunglasses``), so that :meth:`dress` draws them on its cartoon. Nothing lies past
        a given crop's edge, so it gets no padding."""
        template = self.template if direction == "cartoonize" else self.cartoon_template
        height, width = image.shape[:2]
        face = AlignedFace(image, np.eye(2, 3), template, template.points_at(width, height))
        if direction != "cartoonize" or not self.info.sunglasses or self.sunglasses == "keep":
            return face
        lenses = lens_mask(image, face.template_points)
        return self._fill_with_portraits([face], [np.ones((height, width), np.uint8)], [None], [None], [lenses])[0]

    def dress(self, face: AlignedFace, output: np.ndarray) -> np.ndarray:
        """A cartoon with what was hidden from its generator drawn back: the sunglasses of a face behind dark
        lenses (``Style.sunglasses`` "draw"). Any other cartoon is returned as it is."""
        if face.lenses is None or self.sunglasses != "draw":
            return output
        return draw_sunglasses(output, face.lenses, face.template_points)

    @staticmethod
    def _hair_colour(face: AlignedFace, inside: np.ndarray, person: np.ndarray | None) -> tuple[float, float, float] | None:
        """The hair colour an unkeyed crop shows where the segmenter finds the person (faces.portraits.photo_hair_colour);
        None without the segmenter, whose absence would let a wall behind the head pass for hair."""
        from toonbridge.faces import portraits

        if person is None:
            return None
        colour = portraits.photo_hair_colour(face.image, inside, face.landmarks5, person)
        return None if colour is None else tuple(float(v) for v in colour)

    def _align_cartoon(self, image: np.ndarray) -> AlignedFace:
        height, width = image.shape[:2]
        # Into the cartoon template's own size (256 px for anime), which may differ from the model's input size.
        matrix = _square_to_template(width / 2, height / 2, min(height, width), max(self.cartoon_template.size))
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


SUNGLASSES_NOTE = "dark sunglasses: the style was shown the average portrait's eyes behind them"


def _face_note(face: AlignedFace, photo_shape: tuple[int, ...], model_size: int) -> str | None:
    """What a user should know about one cartoonized face: that it was enlarged a lot, that it was behind dark
    sunglasses, or that it fills the frame."""
    notes = []
    # Measured against the model's input size: a 256-px template feeding a 128-px model is not an enlargement.
    enlarged = face.scale * model_size / max(face.template.size)
    if enlarged > SOFT_UPSCALE:
        notes.append(f"small face: enlarged {enlarged:.1f}× to the style's {model_size}-px face, so its aligned cartoon "
                     "looks soft when shown large")
    if face.lenses is not None:
        notes.append(SUNGLASSES_NOTE)
    filled = 1.0 - float(photo_region(photo_shape, face.matrix, face.template.size).mean())
    if filled > FILLED_SHARE_NOTE:
        notes.append(f"the face fills the frame: {filled:.0%} of the style's crop lay past the photo's edge and was filled "
                     "in, so the hair and outline drawn there are guessed; a photo with room around the head gives a truer cartoon")
    return "; ".join(notes) or None


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _faces(count: int) -> str:
    return f"{count} face" + ("" if count == 1 else "s")


def _blend(source: np.ndarray, output: np.ndarray, strength: float) -> np.ndarray:
    """``strength`` of the way from the input face to its translation (1: the translation itself)."""
    if strength >= 1:
        return output
    mixed = (1 - strength) * source.astype(np.float32) + strength * output.astype(np.float32)
    return np.clip(mixed.round(), 0, 255).astype(np.uint8)


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be cartoonize or realize, not {direction!r}")


def _square_to_template(centre_x: float, centre_y: float, side: float, size: int) -> np.ndarray:
    """The matrix that maps a square of ``side`` pixels centred at (x, y) onto a size×size template crop."""
    scale = size / side
    return np.array([[scale, 0, (side / 2 - centre_x) * scale], [0, scale, (side / 2 - centre_y) * scale]])


def _box(face: AlignedFace) -> list[float]:
    width, height = face.template.size
    corners = apply_transform(invert_transform(face.matrix), np.array([[0, 0], [width, 0], [0, height], [width, height]], float))
    return [*corners.min(axis=0).round(1).tolist(), *corners.max(axis=0).round(1).tolist()]


def _resolve_backend(backend: str, device: torch.device, precision: str) -> str:
    from toonbridge.models.onnx import onnx_available

    if precision == "int8":
        if device.type != "cpu" or backend == "torch":
            raise ValueError("int8 runs on the ONNX backend, on the CPU")
        backend = "onnx"
    if backend == "onnx":
        if device.type != "cpu" or precision == "bf16":
            raise ValueError("the ONNX backend runs fp32 or int8 on the CPU only")
        if not onnx_available():
            raise ToonbridgeError("the ONNX backend needs onnxruntime: pip install 'toonbridge[onnx]'")
        return "onnx"
    if backend == "auto":
        return "onnx" if device.type == "cpu" and precision == "fp32" and onnx_available() else "torch"
    return "torch"


def load(name: str | Path = DEFAULT_STYLE, device: str = "cpu", precision: str = "fp32", backend: str = "auto",
         hair: str | None = None, refine_steps: int = 0) -> Style:
    """A shipped style by name (see :func:`styles`) or a style folder by path.

    ``hair`` asks a style that can (the ``twingan-`` styles) for one of its hair colours (``HAIR_COLOURS``).
    ``refine_steps`` (styles that invert into the face generator: ``psp``, ``psp-anime``) finishes each
    inversion with that many optimisation steps towards the input: ~0.15 s a step per face on 2 CPU threads,
    much closer to it (held-out photos: 20 steps keep the person for 98 %, the encoder alone 6 %; docs/models.md).

    ``precision="bf16"`` runs the generators under bfloat16 autocast: 1.4-1.8x faster for bitmoji on CPUs with
    AVX-512 BF16, at a small cost in fidelity (see docs/benchmarks.md); a CPU without native bfloat16
    (``toonbridge.precision.bf16_is_native``) emulates it, much slower than fp32. ``precision="int8"`` runs them as int8
    onnxruntime models, quantised once on first use (calibrated on the bundled sample photo): faster again on CPUs
    with AVX-512 VNNI, a little less exact (docs/benchmarks.md). ``backend``: ``auto`` runs the generators
    with onnxruntime when it is installed (fp32 on the CPU; 1.0-1.3x faster than PyTorch fp32 here, same results
    to 1e-4) and with PyTorch otherwise; ``torch`` or ``onnx`` force one.
    """
    return Style(find_style(name), device, precision, backend, hair, refine_steps)


def domains(network: str | Path = "twingan") -> list[str]:
    """The domains a many-domain network (a folder with ``domains.json``; built in: ``twingan``) translates between."""
    return list(_domains_file(network)[1]["domains"])


def load_domains(source: str, target: str, *, network: str | Path = "twingan", hair: str | None = None, device: str = "cpu",
                 precision: str = "fp32", backend: str = "auto") -> Style:
    """Any domain of a many-domain network to any other (e.g. ``load_domains("bitmoji", "anime")``), as a style.

    The network's folder holds ``domains.json``: the network file, its framing (``template``, ``size``), the photo
    domain, and per domain how its images are framed (``template``; for photos, ``padding`` past the photo's edge, as
    in style.json), whether cartoons sit on a light backdrop, and the networks that framing needs. From the photo domain the style cartoonizes (faces are detected); from any
    other it reads cartoons as ``realize`` does (centred square, then the domain's landmark networks if any).
    """
    folder, spec = _domains_file(network)
    known = list(spec["domains"])
    for name in (source, target):
        if name not in known:
            raise UnknownName(f"unknown domain {name!r}; {folder.name} translates between {', '.join(known)}")
    if source == target:
        raise ToonbridgeError(f"source and target are both {source!r}; name two different domains")
    role = "to_cartoon" if source == spec["photo_domain"] else "to_photo"
    frame_of = spec["domains"][source]
    networks = {role: spec["network"], **frame_of.get("networks", {})}
    info = StyleInfo(name=f"{folder.name}:{source}-to-{target}", folder=folder, template=spec["template"], size=int(spec["size"]),
                     title=f"{source} to {target}", networks=networks, cartoon_template=frame_of["template"],
                     padding=frame_of.get("padding", "blur"),
                     light_background=bool(spec["domains"][target].get("light_background", False)),
                     reframe_cartoons=role == "to_photo", views={role: {"source": source, "target": target}})
    return Style(info, device, precision, backend, hair)


def lookalike(image: ImageInput, gallery: str | Path, *, k: int = 5, domain: str | None = None, aligned: bool = False,
              gallery_aligned: bool | None = None, network: str | Path = "twingan", device: str = "cpu", progress=None):
    """The ``k`` gallery cartoons nearest to the photo's face in the shared code (``toonbridge.lookalike``): a list
    of ``Match(path, distance)``, nearest first, and the face as it was encoded. ``gallery``: ``bitmoji``,
    ``anime`` (those sets in ../shared/data) or a folder, whose images are read as ``domain`` (default bitmoji) and
    located like ``realize`` locates a cartoon unless ``gallery_aligned`` (the named sets are aligned already)."""
    from toonbridge.lookalike import Encoder, gallery_files, index_gallery

    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    photo = Encoder(_photo_domain(network), network, device)
    face = photo.frame(image, aligned=aligned)
    paths, gallery_domain, named_aligned = gallery_files(gallery, domain)
    crops = named_aligned if gallery_aligned is None else gallery_aligned
    index = index_gallery(paths, Encoder(gallery_domain, network, device), aligned=crops, progress=progress)
    if not index.paths:
        raise ToonbridgeError(f"no usable image in gallery {gallery}")
    return index.nearest(photo.codes([face])[0], k), face


def _photo_domain(network: str | Path) -> str:
    return _domains_file(network)[1]["photo_domain"]


def _domains_file(network: str | Path) -> tuple[Path, dict]:
    import json

    from toonbridge.style_files import WEIGHTS_DIR

    folder = Path(network) if (Path(network) / "domains.json").is_file() else WEIGHTS_DIR / str(network)
    try:
        return folder, json.loads((folder / "domains.json").read_text())
    except (OSError, ValueError) as error:
        raise ToonbridgeError(f"{network} is not a many-domain network folder (domains.json: {error})") from None


def styles() -> list[StyleInfo]:
    """The shipped styles, the default one first (so that lists such as the web page's start with it)."""
    return shipped_styles()


def face_generator(weights: str | Path | None = None, device: str = "cpu") -> torch.nn.Module:
    """The style-based face generator: the shipped one, an exported ``.safetensors`` file, or a training run or
    checkpoint folder (its EMA generator). Eval mode."""
    source = Path(weights) if weights is not None else FACE_GENERATOR
    if source.is_file():
        network = load_network(source)
    elif source.is_dir():
        from toonbridge.train.export import shipped_networks

        network = shipped_networks(source).get("generator")
    elif weights is None:
        raise ToonbridgeError("no face generator is shipped with this version yet; pass the weights of one "
                              "(an exported generator.safetensors or a stylegan2 training run)")
    else:
        raise ToonbridgeError(f"no such file or folder: {source}")
    if network is None or not hasattr(network, "synthesis"):
        raise ToonbridgeError(f"{source} is not a style-based face generator")
    return network.to(device).eval()


@torch.no_grad()
def generate(count: int = 16, seed: int = 0, truncation: float = 1.0, weights: str | Path | None = None,
             device: str = "cpu", precision: str = "fp32") -> list[np.ndarray]:
    """``count`` random realistic faces (RGB uint8, framed like the ``bitmoji`` template): the faces of seeds
    ``seed``, ``seed + 1``, ... (each seed always draws the same face). ``truncation`` < 1 pulls the latents
    towards the average face: fewer odd faces, less variety (0.7 is the usual compromise)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if not 0 <= truncation <= 1:
        raise ValueError(f"truncation must be between 0 and 1, not {truncation}")
    generator = face_generator(weights, device)
    faces = []
    for start in range(seed, seed + count, 16):
        seeds = range(start, min(start + 16, seed + count))
        z = torch.stack([torch.randn(generator.z_dim, generator=torch.Generator().manual_seed(s)) for s in seeds]).to(device)
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            images = generator(z, truncation=truncation).float()
        faces += [tensor_to_image(image) for image in images]
    return faces


@functools.lru_cache(maxsize=2)
def super_resolution_network(weights: str, device: str) -> torch.nn.Module:
    """The super-resolution encoder with its face generator (loaded once per file and device)."""
    if not Path(weights).is_file():
        raise ToonbridgeError(f"no super-resolution encoder at {weights}")
    return load_network(weights).for_inference(device)


@torch.no_grad()
def upscale(image: ImageInput, *, weights: str | Path | None = None, device: str = "cpu", precision: str = "fp32",
            refine_steps: int = 0) -> np.ndarray:
    """A small face (an aligned crop framed like the ``bitmoji`` template, e.g. 16 or 32 px wide) as a realistic
    face at the face generator's size (128 px): pSp's super-resolution, an encoder trained on faces shrunk 4-16×
    that finds the generator's face closest to the small one. The generator invents the detail; identity is
    only partly kept (docs/models.md), so this is a plausible face, not a forensic one. ``refine_steps`` then
    optimises the face so that, shrunk to the input's size, it matches the input (seconds per face)."""
    from toonbridge.models.psp import as_if_shrunk, refine_styles

    if refine_steps < 0:
        raise ValueError(f"refine_steps must be 0 or more, not {refine_steps}")
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be fp32 or bf16 for upscale, not {precision!r}")
    inverter = super_resolution_network(str(weights or SUPER_RESOLUTION), device)
    size = inverter.generator.resolution
    small = load_image(image)
    x = image_to_tensor(resize_image(small, size))[None].to(device)  # bicubic, as the encoder's training inputs were
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        styles = inverter.encoder(x)
        if refine_steps:
            styles = refine_styles(inverter.generator, styles, x, refine_steps, observe=as_if_shrunk(small.shape[:2]))
        return tensor_to_image(inverter.generator.synthesis(styles)[0].float())
