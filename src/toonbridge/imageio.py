"""Reading any image file into an RGB uint8 array, and writing images without ever leaving half a file.

Every photo that enters toonbridge comes through :func:`load_image`, so EXIF orientation, odd modes
(RGBA, LA, P, CMYK, I;16, I, F, 1) and hostile files are handled in exactly one place.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from toonbridge.errors import ImageTooLarge, InvalidImage

ImageInput = Union[str, os.PathLike, bytes, np.ndarray, Image.Image]

# 64 megapixels: larger than any camera photo we expect, far below what would exhaust memory.
DEFAULT_MAX_PIXELS = 64_000_000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def load_image(source: ImageInput, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Return the image as an ``H×W×3`` RGB ``uint8`` array, upright according to its EXIF orientation.

    Raises :class:`InvalidImage` (or :class:`ImageTooLarge`) with a one-line reason. Files are read lazily: a huge
    file is refused from its header without being read whole.
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source)
    if isinstance(source, Image.Image):
        return _pil_to_rgb(source)
    try:
        with _open_stream(source) as stream, warnings.catch_warnings():
            # PIL warns about damaged metadata and large images; we enforce our own pixel limit below and report
            # damage that matters as InvalidImage, so its warnings would only be noise on the user's terminal.
            warnings.simplefilter("ignore")
            image = Image.open(stream)
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLarge(
                    f"image is {width}×{height} ({width * height / 1e6:.0f} MP), over the limit of "
                    f"{max_pixels / 1e6:.0f} MP"
                )
            if width < 1 or height < 1:
                raise InvalidImage("image has zero width or height")
            image.load()
            return _pil_to_rgb(image)
    except InvalidImage:
        raise
    except UnidentifiedImageError:
        raise InvalidImage("not an image file (unrecognised format)") from None
    except Image.DecompressionBombError as error:
        # PIL refuses before we can look at the size; its message carries the pixel count.
        match = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(match.group(1)) / 1e6:.0f} MP" if match else "too many pixels"
        raise ImageTooLarge(f"image is {size}, over the limit of {max_pixels / 1e6:.0f} MP") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as error:
        raise InvalidImage(f"cannot decode image ({_short(error)})") from None


def _open_stream(source: str | os.PathLike | bytes) -> BinaryIO:
    if isinstance(source, bytes):
        if not source:
            raise InvalidImage("empty file (0 bytes)")
        return io.BytesIO(source)
    path = Path(source)
    if not path.exists():
        raise InvalidImage("file not found")
    if path.is_dir():
        raise InvalidImage("is a folder, not an image file")
    try:
        if path.stat().st_size == 0:
            raise InvalidImage("empty file (0 bytes)")
        return path.open("rb")
    except OSError as error:
        raise InvalidImage(f"cannot read file ({error.strerror or error})") from None


def _short(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:160]


def _pil_to_rgb(image: Image.Image) -> np.ndarray:
    image = _apply_exif_orientation(image)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _array_to_rgb(np.asarray(image))
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent pixels carry arbitrary colours; a photo editor would show them on white.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block must not make a good photo unreadable
        return image


def _array_to_rgb(array: np.ndarray) -> np.ndarray:
    """Convert an array of any common dtype and channel count to RGB uint8.

    Integers wider than 8 bits are scaled by their type's range (16-bit PNGs hold 0..65535), floats are taken as
    0..1 when they fit in it, and scaled by their own range otherwise.
    """
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4) or array.shape[0] < 1 or array.shape[1] < 1:
        raise InvalidImage(f"unsupported array shape {tuple(array.shape)}; expected H×W, H×W×3 or H×W×4")
    array = _to_uint8(array)
    channels = array.shape[2]
    if channels in (2, 4):  # drop alpha over white, as for RGBA files
        alpha = array[:, :, -1:].astype(np.float32) / 255.0
        colour = array[:, :, :-1].astype(np.float32)
        array = np.round(colour * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
        channels -= 1
    if channels == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        low, high = (0, info.max) if info.min == 0 else (float(array.min()), float(array.max()))
        if info.min != 0 and low >= 0 and high <= 255:
            return array.astype(np.uint8)
        if info.min != 0 and low >= 0 and high <= 65535:
            low, high = 0, 65535  # 16-bit data stored in a 32-bit PIL "I" image
    else:
        array = array.astype(np.float64)
        finite = np.isfinite(array)
        if not finite.all():
            array = np.where(finite, array, 0.0)
        low, high = float(array.min()), float(array.max())
        if low >= 0.0 and high <= 1.0:
            low, high = 0.0, 1.0
    scale = 255.0 / max(high - low, 1e-12)
    return np.clip(np.round((array.astype(np.float64) - low) * scale), 0, 255).astype(np.uint8)


def save_image(image: np.ndarray | Image.Image, path: str | os.PathLike, **params) -> Path:
    """Write an image atomically: to a temporary file in the same folder, then renamed into place."""
    path = Path(path)
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    suffix = path.suffix.lower() or ".png"
    image_format = Image.registered_extensions().get(suffix)
    if image_format is None:
        raise InvalidImage(f"cannot write '{path.name}': unknown image extension '{suffix}'")
    write_atomic(path, lambda handle: pil.save(handle, format=image_format, **params))
    return path


def _read_umask() -> int:
    mask = os.umask(0)  # the only portable way to read it; done once, at import, before any threads exist
    os.umask(mask)
    return mask


# mkstemp creates files readable by the owner only; outputs should get the permissions open() would give them.
_FILE_MODE = 0o666 & ~_read_umask()


def write_atomic(path: str | os.PathLike, write) -> None:
    """Call ``write(binary_file)`` on a temporary file next to ``path`` and rename it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
        os.chmod(temporary, _FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def resize_image(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize to ``size`` (a side, or width × height): area averaging when shrinking, bicubic when enlarging."""
    import cv2

    width, height = (size, size) if isinstance(size, int) else size
    if image.shape[1] == width and image.shape[0] == height:
        return image
    shrinking = width < image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES
