"""TwinGAN speed ([twingan]): one aligned face in each kind of direction, the whole cartoonize path on the sample,
and `lookalike` indexing (aligned cartoons and located ones), scaled to a gallery of 10,000.

    python benchmarks/twingan_speed.py [--threads 2] [--repeats 10] [--gallery 500] [--no-write]

The gallery is the first ``--gallery`` Bitmoji of ../shared/data (celeba2bitmoji/cartoon), indexed into a fresh
temporary cache each time, so nothing is read from an earlier run's cache.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from _report import markdown_table, print_table, timed_ms, update_section
from toonbridge.api import load, load_domains
from toonbridge.data import load_split
from toonbridge.lookalike import Encoder, index_gallery

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "toonbridge" / "assets" / "astronaut.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--gallery", type=int, default=500)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    face = load("twingan-bitmoji", backend="torch").translate(SAMPLE, "cartoonize").faces[0].aligned
    rows = []
    for precision in ("fp32", "bf16"):
        bitmoji = load("twingan-bitmoji", precision=precision, backend="torch")
        to_anime = load_domains("bitmoji", "anime", precision=precision, backend="torch")
        for label, call in ((f"photo → Bitmoji, one aligned face, {precision}", lambda: bitmoji.translate(face, "cartoonize", aligned=True)),
                            (f"Bitmoji → anime, one aligned face, {precision}", lambda: to_anime.translate(face, "realize", aligned=True)),
                            (f"cartoonize the sample photo (detect, align, translate, paste), {precision}", lambda: bitmoji.translate(SAMPLE, "cartoonize"))):
            ms = timed_ms(call, args.repeats)
            rows.append([label, f"{np.median(ms):.0f}", f"{np.percentile(ms, 95):.0f}", args.repeats])
    paths = [sample.path for sample in load_split("celeba2bitmoji/cartoon", "all").samples[:args.gallery]]
    encoder = Encoder("bitmoji")
    for aligned, count in ((True, len(paths)), (False, min(len(paths), 50))):
        with tempfile.TemporaryDirectory() as cache:
            start = time.perf_counter()
            index_gallery(paths[:count], encoder, aligned=aligned, cache_dir=Path(cache))
            seconds = time.perf_counter() - start
        per_image = 1000 * seconds / count
        kind = "aligned crops" if aligned else "located (landmark passes)"
        rows.append([f"lookalike: index {count} Bitmoji, {kind}; ×10,000 = {per_image * 10:.0f} s", f"{per_image:.1f} per image", "", 1])
    header = [f"twingan ({args.threads} threads)", "median ms", "p95 ms", "runs"]
    print_table("twingan", header, rows)
    if not args.no_write:
        update_section("twingan-speed", markdown_table(header, rows), f"python benchmarks/twingan_speed.py --threads {args.threads}")


if __name__ == "__main__":
    main()
