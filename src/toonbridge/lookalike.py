""""Which cartoon looks like me": a gallery ranked by distance to a photo in a many-domain network's shared code.

TwinGAN encodes every domain with the same convolutions (only the norms differ), so a photo's code and a cartoon's
are comparable. Each image is framed as the network reads it (a photo's largest face aligned; a cartoon as
``realize`` frames one: its domain's template, located by the domain's landmark networks where it has them),
encoded with its own domain's norms, and the 8×8 code, less its domain's mean, flattened and scaled to unit length,
is stretched along the attribute axes the network file carries (gender and hair colour, so that a lookalike is first
of all the same kind of face; ``TwinGAN.search_embedding``) and compared by cosine distance. A gallery's codes are
cached in chunks of :data:`CHUNK` images under ``<cache>/lookalike/``, keyed by the network's weights and each
chunk's files (paths, sizes, times): a second search is instant, a changed gallery re-encodes only its changed
chunks, and an interrupted indexing resumes at its last finished chunk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from toonbridge.errors import ToonbridgeError

CHUNK = 500
NAMED_GALLERIES = {"bitmoji": ("celeba2bitmoji/cartoon", "bitmoji"), "anime": ("selfie2anime/anime", "anime")}


@dataclass
class Match:
    path: Path
    distance: float  # cosine distance of the codes, 0 (same) to 2


class Encoder:
    """Frames images of one domain and encodes them (a TwinGAN view from that domain)."""

    def __init__(self, domain: str, network: str | Path = "twingan", device: str = "cpu"):
        from toonbridge.api import domains, load_domains

        known = domains(network)
        other = next(name for name in known if name != domain) if domain in known else domain  # unknown: load_domains says so
        self.style = load_domains(domain, other, network=network, device=device, backend="torch")
        self.domain = domain
        self.direction = self.style.info.directions[0]

    @property
    def translator(self):
        return self.style.network(next(iter(self.style.info.views)))

    def frame(self, image, aligned: bool = False) -> np.ndarray:
        return self.style.model_input(image, self.direction, aligned=aligned)

    @torch.no_grad()
    def codes(self, framed: Sequence[np.ndarray]) -> torch.Tensor:
        """Unit-length search embeddings, N×D float32 (the code in bfloat16 where the hardware has it, the metric in
        float32). A CPU without native bfloat16 would emulate it, tens of times slower: there the code is fp32."""
        from toonbridge.data.unpaired import image_to_tensor
        from toonbridge.precision import bf16_is_native

        x = torch.stack([image_to_tensor(image) for image in framed]).to(self.style.device)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16_is_native(x.device)):
            code = self.translator.code(x)
        return self.translator.network.search_embedding(code).cpu()

    def weights_digest(self) -> str:
        path = self.style.info.network_path(next(iter(self.style.info.views)))
        return hashlib.sha1(path.read_bytes()).hexdigest()[:16]


@dataclass
class GalleryIndex:
    paths: list[Path]
    codes: torch.Tensor  # N×D, unit rows
    skipped: list[tuple[Path, str]]

    def nearest(self, code: torch.Tensor, k: int) -> list[Match]:
        distances = 1 - self.codes @ code.view(-1)
        order = torch.argsort(distances)[:k]
        return [Match(self.paths[i], round(float(distances[i]), 4)) for i in order]


def gallery_files(gallery: str | Path, domain: str | None = None) -> tuple[list[Path], str, bool]:
    """A named gallery (``bitmoji``, ``anime``: every image of that set in ../shared/data) or a folder of images,
    the domain its images are encoded as (a folder's: ``domain``, default bitmoji), and whether they are aligned
    crops already (the named sets are: they sit on their templates)."""
    from toonbridge.data import load_split
    from toonbridge.data.domains import domain_from_folder

    if str(gallery) in NAMED_GALLERIES and not Path(gallery).is_dir():
        spec, named_domain = NAMED_GALLERIES[str(gallery)]
        return [sample.path for sample in load_split(spec, "all")], domain or named_domain, True
    if not Path(gallery).is_dir():
        raise ToonbridgeError(f"gallery {gallery!r} is neither {' nor '.join(NAMED_GALLERIES)} nor a folder")
    return [sample.path for sample in domain_from_folder(gallery)], domain or "bitmoji", False


def index_gallery(paths: Sequence[Path], encoder: Encoder, aligned: bool = False, cache_dir: Path | None = None,
                  progress: Callable[[int, int], None] | None = None) -> GalleryIndex:
    """The codes of ``paths`` (cached by chunk); unreadable images are skipped with their reason. ``aligned``: the
    images are crops on their domain's template; otherwise each face is located first (the domain's landmark
    networks, several passes: ~10× the time of encoding it)."""
    from toonbridge.cache import cache_root
    from toonbridge.imageio import write_atomic

    folder = cache_dir or cache_root() / "lookalike"
    digest = encoder.weights_digest()
    kept, codes, skipped = [], [], []
    for start in range(0, len(paths), CHUNK):
        chunk = list(paths[start:start + CHUNK])
        cached = folder / f"{encoder.domain}-{'aligned' if aligned else 'located'}-{digest}-{_chunk_key(chunk)}.npz"
        if cached.is_file():
            stored = np.load(cached, allow_pickle=False)
            found = json.loads(str(stored["meta"]))
        else:
            found, chunk_codes = _encode_chunk(chunk, encoder, aligned)
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(cached, lambda handle: np.savez(handle, codes=chunk_codes.half().numpy(), meta=json.dumps(found)))
            stored = {"codes": chunk_codes.half().numpy()}
        kept += [chunk[i] for i in found["kept"]]
        skipped += [(chunk[i], reason) for i, reason in found["skipped"]]
        codes.append(torch.from_numpy(np.asarray(stored["codes"])).float())
        if progress:
            progress(min(start + CHUNK, len(paths)), len(paths))
    all_codes = torch.cat(codes) if codes else torch.zeros(0, 1)
    return GalleryIndex(kept, torch.nn.functional.normalize(all_codes, dim=1) if len(kept) else all_codes, skipped)


def _chunk_key(chunk: list[Path]) -> str:
    hasher = hashlib.sha1()
    for path in chunk:
        stat = path.stat() if path.exists() else None
        hasher.update(f"{path.resolve()}|{stat.st_size if stat else -1}|{stat.st_mtime_ns if stat else -1}\n".encode())
    return hasher.hexdigest()[:16]


def _encode_chunk(chunk: list[Path], encoder: Encoder, aligned: bool) -> tuple[dict, torch.Tensor]:
    framed, kept, skipped = [], [], []
    for i, path in enumerate(chunk):
        try:
            framed.append(encoder.frame(path, aligned=aligned))
            kept.append(i)
        except ToonbridgeError as error:
            skipped.append((i, str(error)))
    codes = torch.cat([encoder.codes(framed[j:j + 64]) for j in range(0, len(framed), 64)]) if framed else torch.zeros(0, 1)
    return {"kept": kept, "skipped": skipped}, codes


def contact_sheet(query: np.ndarray, matches: Sequence[Match], size: int = 128) -> np.ndarray:
    """The query face, then each match's whole image (resized), each captioned with its rank and distance."""
    from PIL import Image, ImageDraw

    from toonbridge.imageio import load_image, resize_image

    tiles = [resize_image(query, size)] + [resize_image(load_image(match.path), size) for match in matches]
    captions = ["you"] + [f"{k + 1}: {match.distance:.3f}" for k, match in enumerate(matches)]
    sheet = Image.new("RGB", (size * len(tiles), size + 18), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (tile, caption) in enumerate(zip(tiles, captions)):
        sheet.paste(Image.fromarray(tile), (k * size, 0))
        draw.text((k * size + 4, size + 3), caption, fill="black")
    return np.asarray(sheet)
