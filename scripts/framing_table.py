"""[in-the-wild] Cartoons of faces that fill the frame, next to normally framed ones, through the whole pipeline.

    python scripts/framing_table.py [--style bitmoji-groups] [--run runs/bitmoji-wild] [--padding white] [--limit 200]
                                    [--json runs/reports/framing.json] [--grid runs/reports/framing.png]

Inputs are *unaligned* photos, as users send them: the UTKFace validation chips (200 px, the face filling the
frame) per group (kid, teen, young, middle, elderly), HELEN test photos (casual photos: whole scenes, any light),
and CelebA validation photos (the training framing) as the reference; to take the UTKFace gap apart, also 100
women and 100 men of CelebA, whole and cut like UTKFace chips (the framing alone), and UTKFace's 18-59 faces split
by the set's race label; for a style trained on other photos (``anime``: selfie2anime's selfies), its own
validation photos first, as its training framing. Each goes through ``translate`` (detect, align with the usual
padding, translate; ``--group auto`` for group styles), and the aligned cartoon is measured
(``toonbridge.eval.photo_sets``): KID×100 against the style's validation cartoons at the size it delivers (the
Bitmoji at 128 px; the anime faces at 256) and, for Bitmoji, gender kept (the photo's label against our Bitmoji
gender classifier). The goal line of the issue: UTKFace men (young and middle-aged) kept male ≥ 90 %, and KID of
each UTKFace group within 20 % of the training framing's.

For the CelebA sets, where the whole photo shows the person's hair, also hair colour kept: the colour named
from the band above the forehead (``faces.hair``) of the whole photo aligned to the ``bitmoji`` template, against
the cartoon's (styles on that template only). ``--portrait-hair on|off`` overrides style.json's
``portrait_hair``: the mean portrait past the photo's edge with the person's hair colour, or as it is.

``--upscale off`` enlarges the cartoons bicubically instead of by the style's upscaler (anime's 256-px crops).

``--run`` measures a training run's last checkpoint (exported to a scratch style with the given style's settings)
instead of the shipped weights; ``--padding`` overrides how the style pads a photo past its edge (style.json's
``padding``: ``blur``, ``white`` or ``portrait``), ``--backdrop`` whether the photo's background is keyed to white
(``photo`` or ``white``), ``--references`` the cartoons judged against.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from toonbridge.data import load_split
from toonbridge.data.domains import NAMED_DOMAINS
from toonbridge.eval.photo_sets import SIZE, cartoon_figures, cut_like_utkface, delivered_size, largest_face_cartoons, reference_set, style_to_measure
from toonbridge.imageio import load_image, resize_image, save_image, write_atomic

UTK_GROUPS = ("kid", "teen", "young", "middle", "elderly")
CELEBA = "celeba2bitmoji/photo"


def photo_sets(limit: int, training_photos: str = CELEBA, utkface_split: str = "val") -> dict[str, tuple[list, Callable | None]]:
    """Each set's photos and how each photo is changed first (None: sent as it is). ``training_photos``: the set
    the style learned from, whose validation photos are the framing it knows. ``utkface_split``: ``all`` for a
    style that never trained on UTKFace, where its training photos are held out too (more faces per group, less
    noise in KID)."""
    sets = {} if training_photos == CELEBA else {f"{training_photos} (training framing)": (load_split(training_photos, "val").samples[:limit], None)}
    celeba = load_split(CELEBA, "val").samples
    sets["CelebA" + (" (training framing)" if training_photos == CELEBA else "")] = (celeba[:limit], None)
    # The first 200 CelebA validation photos are 86 % women, UTKFace's groups half men. The same number of each,
    # whole and cut, separates what the framing costs from what a different mix of people costs.
    by_gender = [[s for s in celeba if s.labels["gender"] == gender][:limit // 2] for gender in ("female", "male")]
    balanced = [sample for pair in zip(*by_gender) for sample in pair]
    sets["CelebA, half men"] = (balanced, None)
    sets["CelebA, half men, cut like UTKFace chips"] = (balanced, lambda photo, index: cut_like_utkface(photo, balanced[index].landmarks5))
    utkface = load_split("utkface/faces", utkface_split)
    for group in UTK_GROUPS:
        sets[f"UTKFace {group}"] = (utkface.where(f"group={group}").samples[:limit], None)
    sets["UTKFace men, young and middle"] = ([s for s in utkface.samples if s.labels["gender"] == "male"
                                             and s.labels["group"] in ("young", "middle")][:limit], None)
    # UTKFace's people differ from CelebA's in more than framing: most CelebA faces are white, half of UTKFace's
    # are not. Its 18-59 faces split by the set's own race label show what that difference costs.
    adults = [s for s in utkface.samples if s.labels["group"] in ("young", "middle")]
    sets["UTKFace 18-59, white"] = ([s for s in adults if s.labels["race"] == "white"][:limit], None)
    sets["UTKFace 18-59, not white"] = ([s for s in adults if s.labels["race"] != "white"][:limit], None)
    # Casual photos: HELEN test (whole photos, any framing and light, the largest face; no gender labels).
    sets["HELEN test (casual photos)"] = (load_split("helen_test/images", "train", val_fraction=0.0).samples[:limit], None)
    return sets


def hair_kept(samples: list, cartoons: list[np.ndarray]) -> tuple[float | None, float | None]:
    """Of the photos whose hair colour has a name: the share whose cartoon's hair is named the same, over all
    and over the light colours alone (blond, red, white, blue; black and brown are most of the set)."""
    from toonbridge.faces import align_face
    from toonbridge.faces.hair import hair_colour_of

    truth = [hair_colour_of(align_face(load_image(s.path), s.landmarks5, "bitmoji").image) for s in samples]
    pairs = [(named, hair_colour_of(cartoon)) for named, cartoon in zip(truth, cartoons) if named]
    light = [(a, b) for a, b in pairs if a not in ("black", "brown")]
    return _share_same(pairs), _share_same(light)


def _share_same(pairs: list[tuple]) -> float | None:
    return round(float(np.mean([a == b for a, b in pairs])), 3) if pairs else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--style", default="bitmoji-groups")
    parser.add_argument("--run", type=Path, help="measure this run's last checkpoint instead of the shipped weights")
    parser.add_argument("--padding", choices=["blur", "white", "portrait"], help="pad past the photo's edge this way, not as the style says")
    parser.add_argument("--backdrop", choices=["photo", "white"], help="key the photo's background this way, not as the style says")
    parser.add_argument("--references", choices=sorted(NAMED_DOMAINS), metavar="DOMAIN", help="judge against this set's validation cartoons, not the one the style's "
                        "evaluation names (Bitmoji without one), e.g. selfie2anime/anime for twingan-anime")
    parser.add_argument("--utkface-split", choices=["val", "all"], default="val",
                        help="all: UTKFace's training photos too, for a style that never trained on them (e.g. anime)")
    parser.add_argument("--group", default="auto")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--sets", nargs="+", metavar="WORD", help="only the photo sets whose name holds one of these words (e.g. men CelebA)")
    parser.add_argument("--portrait-hair", choices=["on", "off"], help="portrait padding with the person's hair colour or without, not as the style says")
    parser.add_argument("--upscale", choices=["on", "off"], default="on", help="off: cartoons enlarged bicubically, not by the style's upscaler")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--grid", type=Path, help="a PNG: photo | cartoon, 4 faces per set")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        style = style_to_measure(args.style, args.run, scratch)
        if args.padding:
            style.info = dataclasses.replace(style.info, padding=args.padding)
        if args.backdrop:
            style.info = dataclasses.replace(style.info, backdrop=args.backdrop)
        if args.portrait_hair:
            style.info = dataclasses.replace(style.info, portrait_hair=args.portrait_hair == "on")
        style.upscale = args.upscale == "on"
        group = args.group if style.groups else None
        cartoons, size = args.references or reference_set(style), delivered_size(style)
        table, grid_rows = {}, []
        for name, (samples, change) in photo_sets(args.limit, style.info.evaluation.get("photos", CELEBA), args.utkface_split).items():
            if args.sets and not any(word.lower() in name.lower() for word in args.sets):
                continue
            found: list[int] = []
            outputs, genders, routed, missed = largest_face_cartoons(style, samples, group, change, size, found)
            row = cartoon_figures(outputs, genders, len(samples), missed, cartoons, size)
            if name.startswith("CelebA") and style.info.template == "bitmoji":
                row["hair kept"], row["light hair kept"] = hair_kept([samples[i] for i in found], outputs)
            if group:
                row["routed"] = {branch: routed.count(branch) for branch in sorted(set(routed))}
            table[name] = row
            print(name, json.dumps(row, ensure_ascii=False), flush=True)
            shown = [load_image(s.path) if change is None else change(load_image(s.path), i) for i, s in enumerate(samples[:4])]
            grid_rows.append(np.concatenate([np.concatenate([resize_image(p, SIZE), resize_image(o, SIZE)], axis=1)
                                             for p, o in zip(shown, outputs[:4])], axis=1))
    result = {"style": args.style, "references": cartoons, "size": size, "run": str(args.run) if args.run else None, "padding": style.info.padding, "backdrop": style.info.backdrop, "portrait_hair": style.info.portrait_hair, "upscale": style.upscale, "group": group, "table": table}
    if args.json:
        write_atomic(args.json, lambda handle: handle.write(json.dumps(result, indent=1).encode()))
    if args.grid:
        save_image(np.concatenate(grid_rows, axis=0), args.grid)


if __name__ == "__main__":
    main()
