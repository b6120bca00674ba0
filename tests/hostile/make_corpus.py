"""Make the hostile-input corpus in tests/hostile/files/ (committed; re-run this script to rebuild it).

Every file is small and made from the bundled public-domain sample (NASA's astronaut photo) or from nothing,
never from ../shared/data.

    python tests/hostile/make_corpus.py [OUT_DIR]
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "toonbridge" / "assets" / "astronaut.jpg"

# name -> what a correct reader does with it: an error reason it must mention, or the number of faces to find.
EXPECTED: dict[str, str | int] = {
    "empty.jpg": "empty file",
    "truncated.jpg": "cannot decode",
    "text_named.jpg": "not an image",
    "huge_header.png": "over the limit",
    "one_pixel.png": 0,
    "no_face.png": 0,
    "cmyk.jpg": 1,
    "gray16.png": 1,
    "rgb16.png": 1,
    "huge_exif.jpg": 1,
    "exif_rotated.jpg": 1,
    "rgba.png": 1,
    "palette.png": 1,
}


def face_photo(size: int = 256) -> Image.Image:
    """The astronaut's head and shoulders, small enough to keep the corpus tiny."""
    photo = Image.open(SAMPLE).convert("RGB")
    return photo.crop((96, 0, 352, 256)).resize((size, size), Image.Resampling.LANCZOS)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_header_png() -> bytes:
    """A PNG whose header claims 20000×20000 RGB pixels (1.2 GB decoded) with a few bytes of real data."""
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * (1 + 3 * 20000) * 4)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def jpeg_bytes(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, **params)
    return buffer.getvalue()


def make(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    photo = face_photo()
    rgb = np.asarray(photo)
    good_jpeg = jpeg_bytes(photo)

    (out / "empty.jpg").write_bytes(b"")
    (out / "truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) * 2 // 5])
    (out / "text_named.jpg").write_text("This is a text file, not a JPEG.\n")
    (out / "huge_header.png").write_bytes(huge_header_png())
    Image.new("RGB", (1, 1), (200, 150, 120)).save(out / "one_pixel.png")
    yy, xx = np.mgrid[0:128, 0:128]
    Image.fromarray(np.stack([xx * 2, yy * 2, (xx + yy)], axis=2).astype(np.uint8)).save(out / "no_face.png")

    (out / "cmyk.jpg").write_bytes(jpeg_bytes(photo.convert("CMYK")))
    gray = np.asarray(photo.convert("L")).astype(np.uint16) * 257  # full 16-bit range: 255 -> 65535
    Image.fromarray(gray).save(out / "gray16.png")  # PIL writes mode I;16 as a 16-bit greyscale PNG
    cv2.imwrite(str(out / "rgb16.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)

    exif = Image.Exif()
    exif[0x010E] = "A" * 60_000  # ImageDescription: a ~60 KB EXIF block, close to the APP1 segment limit
    (out / "huge_exif.jpg").write_bytes(jpeg_bytes(photo, exif=exif.tobytes()))
    # Stored turned on its side; EXIF orientation 6 says "rotate 90° clockwise to view". Unless the reader applies
    # it, the face lies sideways and the detector cannot find it.
    turned = Image.Exif()
    turned[0x0112] = 6
    (out / "exif_rotated.jpg").write_bytes(jpeg_bytes(photo.transpose(Image.Transpose.ROTATE_90), exif=turned.tobytes()))

    rgba = photo.convert("RGBA")
    alpha = np.full(rgba.size[::-1], 255, np.uint8)
    alpha[:, :24] = 0  # a transparent strip at the left
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(out / "rgba.png")
    photo.quantize(colors=128).save(out / "palette.png")


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "files")
