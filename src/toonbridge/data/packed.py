"""A face pack: one file holding a whole set of aligned, resized face images, for training away from the data.

A GPU machine that cannot reach ``../shared/data`` (or the alignment cache) gets one compressed file instead of
thousands of photos and a detector: ``toonbridge data pack CONFIG -o faces.pack`` writes what the config's data
section would train on (aligned, at its ``size``, unflipped) as WebP images inside a safetensors file (the encoded
bytes and their offsets as uint8/int64 tensors, the names as JSON metadata; nothing is unpickled on load).
:class:`PackedImages` decodes the whole pack into memory once, so a step costs an index and a flip, which keeps
a fast GPU fed from the main process.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch.utils.data import Dataset

from toonbridge.errors import DatasetError

FORMAT = "toonbridge-face-pack-1"


def write_pack(images: Iterable[tuple[str, np.ndarray]], path: str | Path, *, quality: int = 92,
               on_image: Callable[[], None] | None = None) -> int:
    """Encode (name, RGB uint8 H×W×3) pairs, all of one size, into ``path`` (written whole, then renamed)."""
    chunks, names, size = [], [], None
    for name, image in images:
        if size is None:
            size = image.shape[:2]
        elif image.shape[:2] != size:
            raise DatasetError(f"a face pack holds one image size; {name} is {image.shape[1]}×{image.shape[0]}, not {size[1]}×{size[0]}")
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="WEBP", quality=quality, method=6)
        chunks.append(np.frombuffer(buffer.getvalue(), dtype=np.uint8))
        names.append(name)
        if on_image:
            on_image()
    if not chunks:
        raise DatasetError("no images to pack")
    offsets = np.cumsum([0] + [len(c) for c in chunks]).astype(np.int64)
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    save_file({"bytes": torch.from_numpy(np.concatenate(chunks)), "offsets": torch.from_numpy(offsets)}, str(partial),
              metadata={"format": FORMAT, "names": json.dumps(names), "size": json.dumps(list(size))})
    partial.replace(path)
    return len(names)


def read_pack(path: str | Path, workers: int = 8) -> tuple[torch.Tensor, list[str]]:
    """All images of a pack as one uint8 tensor N×3×H×W, and their names."""
    try:
        with safe_open(str(path), framework="pt") as pack:
            metadata = pack.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise DatasetError(f"{path} is not a toonbridge face pack (make one with `toonbridge data pack`)")
            encoded, offsets = pack.get_tensor("bytes").numpy(), pack.get_tensor("offsets").tolist()
    except (OSError, ValueError, SafetensorError) as error:  # a missing or damaged file
        raise DatasetError(f"cannot read the face pack {path}: {error}") from None
    names = json.loads(metadata["names"])
    height, width = json.loads(metadata["size"])
    images = torch.empty(len(names), 3, height, width, dtype=torch.uint8)

    def decode(index: int) -> None:
        data = encoded[offsets[index]:offsets[index + 1]].tobytes()
        images[index] = torch.from_numpy(np.array(Image.open(io.BytesIO(data)).convert("RGB"))).permute(2, 0, 1)

    with ThreadPoolExecutor(workers) as pool:  # Pillow's decoder releases the GIL
        list(pool.map(decode, range(len(names))))
    return images, names


class PackedImages(Dataset):
    """A face pack as training items ``{"image": 3×H×W in [-1, 1], "name"}``, x-flipped with ``flip_probability``
    by a coin that depends only on (seed, epoch, index), like :class:`~toonbridge.data.DomainImages`."""

    def __init__(self, path: str | Path, flip_probability: float = 0.5, seed: int = 0):
        self.images, self.names = read_pack(path)
        self.flip_probability = flip_probability
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.names)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _flipped(self, index: int) -> bool:
        return bool(np.random.default_rng([self.seed, self.epoch, index]).random() < self.flip_probability)

    def __getitem__(self, index: int) -> dict:
        return {"image": self.batch([index])["image"][0], "name": self.names[index]}

    def batch(self, indices: list[int]) -> dict:
        """Items ``indices`` already collated, in one gather (what the training loop asks for)."""
        images = self.images[torch.as_tensor(indices)]
        flips = torch.tensor([self._flipped(i) for i in indices])
        images[flips] = images[flips].flip(-1)
        return {"image": images.float().div_(127.5).sub_(1.0), "name": [self.names[i] for i in indices]}
