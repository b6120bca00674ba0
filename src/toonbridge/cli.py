"""The ``toonbridge`` command line. Each command is a thin layer over the Python API."""

from __future__ import annotations

import json
from dataclasses import dataclass
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from toonbridge.batch import expand_inputs, report_failure, run_batch
from toonbridge.errors import ToonbridgeError

app = typer.Typer(help="toonbridge: face photos to cartoon faces and back.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
data_app = typer.Typer(help="Prepare and inspect training data.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()

Photos = Annotated[list[str], typer.Argument(help="Image files, folders (searched recursively) or glob patterns.",
                                             show_default=False)]
Detector = Annotated[str, typer.Option(help="auto (BlazeFace over tiles when installed, else dlib), blazeface, "
                                                 "thorough (finer tiles plus HOG: slower, finds more), dlib (HOG with "
                                                 "the CNN where HOG is unsure), hog or cnn.")]
Progress = Annotated[Optional[bool], typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal).")]


def _inputs(photos: list[str]) -> list[Path]:
    paths = expand_inputs(photos)
    if not paths:
        _fail(f"no image files in {', '.join(photos)}")
    return paths


def _finish(failed: int, total: int) -> None:
    if failed:
        print(f"{failed} of {total} input(s) failed", file=sys.stderr)
        raise typer.Exit(1)


@app.command()
def detect(
    photos: Photos,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: per file its faces (box, score, 68 landmarks).")] = False,
    detector: Detector = "auto",
    progress: Progress = None,
) -> None:
    """Find every face in each photo, with a box, a score and 68 landmarks."""
    from toonbridge.faces import DetectorConfig, FaceDetector

    find_faces = _make(lambda: FaceDetector(DetectorConfig(method=detector)))
    paths = _inputs(photos)
    results: list[dict] = []

    def work(path: Path) -> None:
        entry = {"file": str(path), "faces": []}
        results.append(entry)
        try:
            entry["faces"] = [face.to_dict() for face in find_faces(path)]
        except ToonbridgeError as error:
            entry["error"] = str(error)
            raise
        if not entry["faces"]:
            # Not a failure (the answer is "no faces"), but worth saying where a person reads it.
            print(f"note: {path}: no face found", file=sys.stderr)

    report = run_batch(paths, work, description="detecting", show_progress=progress)
    if as_json:
        print(json.dumps(results))
    else:
        _print_faces_table(results)
    _finish(len(report.failures), len(paths))


def _print_faces_table(results: list[dict]) -> None:
    table = Table("face", "box (x0, y0, x1, y1)", "score", "detector")
    table.add_column("file", overflow="fold")
    for entry in results:
        for index, face in enumerate(entry["faces"]):
            table.add_row(str(index), ", ".join(f"{v:.0f}" for v in face["box"]), f"{face['score']:.2f}",
                          face["detector"], entry["file"])
    if table.row_count:
        console.print(table)


@app.command()
def align(
    photos: Photos,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for DIR/<stem>_<face-index>.png.")],
    template: Annotated[str, typer.Option(help="Template name (see `toonbridge templates`) or a .json file.")] = "bitmoji",
    detector: Detector = "auto",
    progress: Progress = None,
) -> None:
    """Detect every face and write each aligned to a style's template."""
    from toonbridge.faces import DetectorConfig, FaceDetector, align_faces, get_template
    from toonbridge.imageio import load_image, save_image

    chosen = _make(lambda: get_template(template))
    find_faces = _make(lambda: FaceDetector(DetectorConfig(method=detector)))
    paths = _inputs(photos)
    _output_folder(output)
    stems = _unique_stems(paths)

    def work(path: Path) -> None:
        image = load_image(path)
        for index, aligned in enumerate(align_faces(image, find_faces(image), chosen)):
            save_image(aligned.image, output / f"{stems[path]}_{index}.png")

    report = run_batch(paths, work, description=f"aligning to '{template}'", show_progress=progress)
    _finish(len(report.failures), len(paths))


def _output_folder(output: Path) -> Path:
    """Make sure ``-o`` is a folder we can write to, before any work: a usage error (exit 2) otherwise."""
    if output.exists() and not output.is_dir():
        _fail(f"-o {output} is a file; give a folder")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _fail(f"cannot create the output folder {output}: {error.strerror or error}")
    if not os.access(output, os.W_OK | os.X_OK):
        _fail(f"cannot write to the output folder {output} (permission denied)")
    return output


def _unique_stems(paths: list[Path]) -> dict[Path, str]:
    """Output stems: the file's stem, or ``stem-2``, ``stem-3``… when several inputs share one (said on stderr)."""
    stems: dict[Path, str] = {}
    seen: dict[str, int] = {}
    for path in paths:
        count = seen[path.stem] = seen.get(path.stem, 0) + 1
        stems[path] = path.stem if count == 1 else f"{path.stem}-{count}"
        if count > 1:
            print(f"note: {path}: another input is also named '{path.stem}'; writing '{stems[path]}_*'", file=sys.stderr)
    return stems


Aligned = Annotated[bool, typer.Option("--aligned", help="Inputs are already aligned crops like the training images; "
                                                       "write OUTDIR/<stem>.png at the same size.")]
StyleName = Annotated[str, typer.Option(help="A style (see `toonbridge styles`) or a style folder.")]
OutDir = Annotated[Path, typer.Option("-o", "--output", help="Output folder.", show_default=False)]
Bf16 = Annotated[bool, typer.Option("--bf16", help="bfloat16 autocast: faster on AVX-512-BF16 CPUs (1.4-1.8x for bitmoji, docs/benchmarks.md), slower elsewhere (said on stderr), slightly less exact.")]
Int8 = Annotated[bool, typer.Option("--int8", help="int8 models (LiteRT for the whitebox styles, onnxruntime for the rest), quantised on first use: faster on AVX-512-VNNI CPUs (docs/benchmarks.md), slightly less exact.")]
Backend = Annotated[str, typer.Option(help="auto (onnxruntime when installed, fp32 only; else PyTorch), torch or onnx.")]
Group = Annotated[str, typer.Option(help="Group styles (bitmoji-groups): the branch for every face, or auto to pick "
                                         "one per face with the style's classifiers.")]


@dataclass
class _TranslateOptions:
    style: str
    aligned: bool
    bf16: bool
    backend: str
    group: str
    progress: Optional[bool]
    quiet: bool = False
    strength: float = 1.0
    largest: bool = False
    image_format: str = "png"
    quality: int = 92
    device: str = "cpu"
    cutout: bool = False
    as_json: bool = False
    min_face: float = 24.0
    variants: int = 0  # realize with a style that inverts into the face generator: several faces per cartoon
    seed: int = 0
    whole_photo: bool = False  # fully convolutional styles: the entire photo, not only the faces
    hair: Optional[str] = None  # twingan styles: the hair colour asked for
    domains: Optional[tuple[str, str]] = None  # `translate`: source and target of the many-domain network
    int8: bool = False
    refine: int = 0  # realize with a style that inverts into the face generator: optimisation steps after the encoder
    sunglasses: str = "draw"  # styles that handle dark sunglasses (faces.sunglasses): draw, hide or keep
    upscale: bool = True  # styles with a cartoon upscaler: enlarge cartoons with it (models/cartoon_upscaler.py)


Cutout = Annotated[bool, typer.Option("--cutout", help="Also write each face as a transparent PNG avatar (DIR/<stem>_<i>_cutout.png; 512 px for styles with an upscaler).")]
Quiet = Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing on success (errors still go to stderr).")]
TranslateJson = Annotated[bool, typer.Option("--json", help="Print a JSON list: per input its output and faces (box, landmarks5, group).")]
Strength = Annotated[float, typer.Option(min=0.0, max=1.0, help="1: the full style; 0: the input face; in between, a blend.")]
Largest = Annotated[bool, typer.Option("--largest", help="Only the largest face of each photo (the others stay as they are).")]
ImageFormat = Annotated[str, typer.Option("--format", help="Output files: png, jpg or webp.")]
Quality = Annotated[int, typer.Option(min=1, max=100, help="JPEG/WebP quality.")]
InferenceDevice = Annotated[str, typer.Option("--device", help="cpu or cuda.")]
WholePhoto = Annotated[bool, typer.Option("--whole-photo", help="Cartoonize the entire picture, background and all (whitebox styles), not only the faces.")]
Hair = Annotated[Optional[str], typer.Option("--hair", help="twingan styles: the hair colour to give (black, brown, blond, red, white, blue).")]
MinFace = Annotated[float, typer.Option("--min-face", min=0.0, help="Leave faces narrower than this many pixels as they are (said on stderr).")]
Sunglasses = Annotated[str, typer.Option("--sunglasses", help="Bitmoji styles, faces behind dark sunglasses: draw cartoon "
                                                             "sunglasses over clean eyes, hide them (eyes only), or keep the lenses in what the model sees.")]
Upscale = Annotated[bool, typer.Option("--upscale/--no-upscale", help="Styles with a cartoon upscaler: cartoons shown larger than "
                                                                   "the model draws them (big faces, anime's 256-px crops) are enlarged by it, not bicubically.")]
OUTPUT_FORMATS = ("png", "jpg", "webp")


@app.command()
def cartoonize(photos: Photos, output: OutDir, style: StyleName = "bitmoji", aligned: Aligned = False, bf16: Bf16 = False,
               backend: Backend = "auto", group: Group = "auto", progress: Progress = None, quiet: Quiet = False,
               strength: Strength = 1.0, largest: Largest = False, image_format: ImageFormat = "png", quality: Quality = 92,
               device: InferenceDevice = "cpu", cutout: Cutout = False, as_json: TranslateJson = False,
               min_face: MinFace = 24.0, whole_photo: WholePhoto = False, hair: Hair = None, int8: Int8 = False,
               sunglasses: Sunglasses = "draw", upscale: Upscale = True) -> None:
    """Turn the faces in photos into cartoon faces.

    Writes OUTDIR/<stem>.png (the photo with every face replaced) and OUTDIR/<stem>_<i>.png (each translated face,
    aligned); with --aligned, OUTDIR/<stem>.png only. Videos (.mp4, .mov, .avi, .mkv, .webm): -o OUT.mp4 or a
    folder; every face in every frame, alignment smoothed over time; H.264 with the input's audio when ffmpeg is
    installed, else mp4v without audio. --whole-photo (whitebox styles): OUTDIR/<stem>.png is the entire picture
    cartoonized, no face search.
    """
    _translate("cartoonize", photos, output, _TranslateOptions(
        style=style, aligned=aligned, bf16=bf16, backend=backend, group=group, progress=progress, quiet=quiet,
        strength=strength, largest=largest, image_format=image_format, quality=quality, device=device, cutout=cutout,
        as_json=as_json, min_face=min_face, whole_photo=whole_photo, hair=hair, int8=int8, sunglasses=sunglasses,
        upscale=upscale))


@app.command()
def realize(cartoons: Photos, output: OutDir, style: StyleName = "bitmoji", aligned: Aligned = False, bf16: Bf16 = False,
            backend: Backend = "auto", group: Group = "auto", progress: Progress = None, quiet: Quiet = False,
            strength: Strength = 1.0, image_format: ImageFormat = "png", quality: Quality = 92,
            device: InferenceDevice = "cpu", as_json: TranslateJson = False,
            variants: Annotated[int, typer.Option(min=0, help="Several realistic faces per cartoon (psp style): OUTDIR/<stem>_v<K>.png.")] = 0,
            seed: Annotated[int, typer.Option(min=0, help="With --variants: the seed of the random faces mixed in (same seed, same faces).")] = 0,
            refine: Annotated[int, typer.Option(min=0, help="psp styles: finish each inversion with N optimisation steps towards the input (~20 keep a real photo's person; seconds per face).")] = 0,
            hair: Hair = None, int8: Int8 = False) -> None:
    """Turn cartoon faces into realistic ones (the reverse of cartoonize).

    Without --aligned, the style's cartoon landmark regressors locate the face (starting from the image's
    centred square), align it, translate it and paste it back; OUTDIR/<stem>_0.png is the aligned result.
    """
    _translate("realize", cartoons, output, _TranslateOptions(
        style=style, aligned=aligned, bf16=bf16, backend=backend, group=group, progress=progress, quiet=quiet,
        strength=strength, image_format=image_format, quality=quality, device=device, as_json=as_json,
        variants=variants, seed=seed, hair=hair, int8=int8, refine=refine))


@app.command()
def translate(inputs: Photos, output: OutDir,
              source: Annotated[str, typer.Option("--from", help="The inputs' domain: photo, bitmoji or anime.", show_default=False)],
              target: Annotated[str, typer.Option("--to", help="The domain to translate into.", show_default=False)],
              aligned: Aligned = False, bf16: Bf16 = False, progress: Progress = None, quiet: Quiet = False,
              strength: Strength = 1.0, image_format: ImageFormat = "png", quality: Quality = 92,
              device: InferenceDevice = "cpu", as_json: TranslateJson = False, hair: Hair = None) -> None:
    """Any domain to any other with the one TwinGAN network (e.g. --from bitmoji --to anime).

    Photos are searched for faces as `cartoonize` does; cartoons are framed as `realize` frames them. Writes
    OUTDIR/<stem>.png and, unless --aligned, OUTDIR/<stem>_<i>.png (each aligned result).
    """
    _translate("cartoonize" if source == "photo" else "realize", inputs, output, _TranslateOptions(
        style="twingan", aligned=aligned, bf16=bf16, backend="torch", group="auto", progress=progress, quiet=quiet,
        strength=strength, image_format=image_format, quality=quality, device=device, as_json=as_json, hair=hair,
        domains=(source, target)))


@app.command()
def lookalike(photo: Annotated[Path, typer.Argument(help="A photo with a face.", show_default=False)],
              gallery: Annotated[str, typer.Option(help="bitmoji or anime (those sets in TOONBRIDGE_DATA), or a folder of cartoons.")] = "bitmoji",
              k: Annotated[int, typer.Option("-k", min=1, help="How many cartoons to list.")] = 5,
              domain: Annotated[Optional[str], typer.Option(help="How a folder's cartoons are read: bitmoji or anime (default bitmoji).")] = None,
              sheet: Annotated[Optional[Path], typer.Option("--sheet", help="Write a contact sheet (the face, then the matches) here.")] = None,
              gallery_aligned: Annotated[bool, typer.Option("--gallery-aligned", help="The folder's cartoons are aligned crops (as `align` writes them): skip locating each face, ~10x faster.")] = False,
              aligned: Aligned = False, as_json: TranslateJson = False, progress: Progress = None) -> None:
    """Which cartoons look like you: rank a gallery by distance to the photo's face in TwinGAN's shared code.

    A gallery's codes are cached, so only the first search of a gallery encodes it (docs/benchmarks.md: time per
    10,000 cartoons); an interrupted indexing resumes where it stopped."""
    from toonbridge.api import lookalike as search
    from toonbridge.imageio import save_image
    from toonbridge.lookalike import contact_sheet

    if not photo.is_file():
        _fail(f"not a file: {photo}")
    if sheet is not None and sheet.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        _fail(f"--sheet must name a .png, .jpg or .webp file, not {sheet}")
    bar = None
    if _want_progress(progress):
        from rich.progress import Progress as Bar

        bar = Bar(transient=True)
        bar.start()
        task = bar.add_task("indexing the gallery", total=None)
    try:
        matches, face = _make(lambda: search(photo, gallery, k=k, domain=domain, aligned=aligned, gallery_aligned=gallery_aligned or None,
                                             progress=(lambda done, total: bar.update(task, completed=done, total=total)) if bar else None))
    finally:
        if bar:
            bar.stop()
    if sheet is not None:
        _make(lambda: save_image(contact_sheet(face, matches), sheet))
    if as_json:
        print(json.dumps([{"path": str(m.path), "distance": m.distance} for m in matches], indent=1))
        return
    for rank, match in enumerate(matches, 1):
        print(f"{rank}. {match.path}  (distance {match.distance:.3f})")
    if sheet is not None:
        print(f"contact sheet: {sheet}", file=sys.stderr)


def _translate(direction: str, inputs: list[str], output: Path, options: _TranslateOptions) -> None:
    from toonbridge.api import load
    from toonbridge.imageio import save_image
    from toonbridge.video import is_video_path

    if options.image_format not in OUTPUT_FORMATS:
        _fail(f"--format must be one of {', '.join(OUTPUT_FORMATS)}, not {options.image_format!r}")
    if options.bf16 and options.int8:
        _fail("choose one of --bf16 and --int8")
    precision = "int8" if options.int8 else _precision(options.bf16, options.device)
    backend = "torch" if options.device != "cpu" else options.backend
    if options.domains:
        from toonbridge.api import load_domains

        chosen = _make(lambda: load_domains(*options.domains, hair=options.hair, device=options.device, precision=precision, backend=backend))
    else:
        chosen = _make(lambda: load(options.style, device=options.device, precision=precision, backend=backend, hair=options.hair,
                                    refine_steps=options.refine))
    if options.hair:
        from toonbridge.api import DIRECTIONS

        _make(lambda: chosen.network(DIRECTIONS[direction]))  # an unknown colour fails here, not once per file
    _make(lambda: chosen.route([], direction, options.group))  # an unknown group fails here, not once per file
    from toonbridge.faces.sunglasses import SUNGLASSES_MODES

    if options.sunglasses not in SUNGLASSES_MODES:
        _fail(f"--sunglasses must be one of {', '.join(SUNGLASSES_MODES)}, not {options.sunglasses!r}")
    if options.sunglasses != "draw" and not chosen.info.sunglasses:
        print(f"note: style {chosen.name!r} does not look for sunglasses; --sunglasses {options.sunglasses} changes nothing",
              file=sys.stderr)
    chosen.sunglasses = options.sunglasses
    chosen.upscale = options.upscale
    if options.whole_photo and (direction != "cartoonize" or not chosen.info.whole_photo):
        from toonbridge.style_files import shipped_styles

        _fail(f"--whole-photo cartoonizes with a fully convolutional style "
              f"({', '.join(s.name for s in shipped_styles() if s.whole_photo) or 'none installed'}); {chosen.name!r} translates faces only")
    aligned, progress = options.aligned, options.progress
    videos = [Path(raw) for raw in inputs if is_video_path(raw)]
    if videos:
        if direction != "cartoonize" or len(videos) != len(inputs):
            _fail("videos are cartoonized on their own: toonbridge cartoonize CLIP.mp4... -o OUT.mp4|DIR")
        _cartoonize_videos(chosen, videos, output, options.group, progress)
        return
    paths = _inputs(inputs)
    _output_folder(output)
    stems = _unique_stems(paths)

    suffix = f".{options.image_format}"
    save_options = {"quality": options.quality} if options.image_format != "png" else {}

    if options.variants and not _make(lambda: chosen.has_variants):
        _fail(f"style {chosen.name!r} draws one face per cartoon; --variants needs a style that inverts into the face generator (psp)")
    if options.refine and not _make(lambda: chosen.has_variants):
        _fail(f"style {chosen.name!r} does not invert into the face generator; --refine needs psp or psp-anime")

    def work(path: Path) -> dict:
        if options.whole_photo:
            written = save_image(chosen.cartoonize_whole(path, strength=options.strength), output / f"{stems[path]}{suffix}", **save_options)
            return {"file": str(path), "output": str(written), "whole_photo": True, "faces": [], "skipped": []}
        if options.variants:
            drawn = chosen.variants(path, options.variants, seed=options.seed, aligned=aligned)
            written = [str(save_image(image, output / f"{stems[path]}_v{k}{suffix}", **save_options)) for k, image in enumerate(drawn)]
            return {"file": str(path), "output": written[0], "variants": written, "faces": [], "skipped": []}
        result = chosen.translate(path, direction, aligned=aligned, group=options.group, strength=options.strength,
                                  largest_face=options.largest, min_face=options.min_face)
        faces = []
        for index, face in enumerate(result.faces):
            entry = {"box": face.box, "landmarks5": face.landmarks5, "group": face.group, "note": face.note}
            if not aligned:
                entry["output"] = str(save_image(face.output, output / f"{stems[path]}_{index}{suffix}", **save_options))
                if options.cutout:  # always PNG: the alpha channel is the point
                    entry["cutout"] = str(save_image(chosen.cutout(face, direction), output / f"{stems[path]}_{index}_cutout.png"))
            faces.append(entry)
        written = save_image(result.image, output / f"{stems[path]}{suffix}", **save_options)
        return {"file": str(path), "output": str(written), "faces": faces,
                "skipped": [{"box": face.box, "note": face.note} for face in result.skipped]}

    records: list[dict] = []
    verb = "cartoonizing" if direction == "cartoonize" else "realizing"
    report = run_batch(paths, work, on_result=lambda _path, record: records.append(record),
                       description=f"{verb} with '{chosen.name}'", show_progress=progress)
    if options.as_json:
        print(json.dumps(records, indent=1))
    elif not options.quiet:
        for record in records:
            if "variants" in record:
                print(f"{record['file']}: {len(record['variants'])} variants, {record['output']} ...")
                continue
            if record.get("whole_photo"):
                print(f"{record['output']}: the whole photo")
                continue
            groups = [face["group"] for face in record["faces"] if face["group"]]  # the branch of each face (group styles)
            count = len(record["faces"])
            print(f"{record['output']}: {count} face{'' if count == 1 else 's'}" + (f" ({', '.join(groups)})" if groups else ""))
    if not options.as_json:  # what was left out or may look wrong, even with -q
        for record in records:
            for index, face in enumerate(record["faces"]):
                if face["note"]:
                    print(f"note: {record['file']}: face {index}: {face['note']}", file=sys.stderr)
            for face in record["skipped"]:
                x0, y0, x1, y1 = face["box"]
                print(f"note: {record['file']}: {face['note']} (at x {x0:.0f}-{x1:.0f}, y {y0:.0f}-{y1:.0f}; --min-face)", file=sys.stderr)
    _finish(len(report.failures), len(paths))


def _cartoonize_videos(style, videos: list[Path], output: Path, group: str, progress: Optional[bool]) -> None:
    from rich.progress import Progress as Bar

    from toonbridge.video import cartoonize_video, is_video_path

    if is_video_path(output) and len(videos) > 1:
        _fail("several videos need an output folder, not one file")
    if not is_video_path(output) and output.suffix and not output.is_dir():
        _fail(f"-o {output}: videos are written as .mp4 (or .mov, .m4v, .avi, .mkv, .webm), or into a folder; not {output.suffix}")
    failed = 0
    for video in videos:
        target = output if is_video_path(output) else output / f"{video.stem}.mp4"
        with Bar(console=Console(stderr=True), disable=not _want_progress(progress)) as bar:
            task = bar.add_task(f"cartoonizing {video.name}", total=None)
            try:
                report = cartoonize_video(style, video, target, group=group, on_frame=lambda done, total: bar.update(task, completed=done, total=total or None))
            except ToonbridgeError as error:
                report_failure(str(video), str(error))
                failed += 1
                continue
        sound = "audio kept" if report.audio else "no audio (ffmpeg missing, or none in the input)"
        print(f"{report.output}: {report.frames} frames, {report.faces} faces, {report.fps:.1f} frames/s, {report.codec}, {sound}",
              file=sys.stderr)
    _finish(failed, len(videos))


@app.command()
def styles() -> None:
    """List the shipped styles."""
    import shutil
    import textwrap

    from toonbridge.style_files import shipped_styles

    # Plain lines, not a table: readable at 80 columns and when piped (grep, less).
    width = min(shutil.get_terminal_size((80, 24)).columns, 100)
    for info in _make(shipped_styles):
        print(f"{info.name}: {', '.join(info.directions)}; {info.size} px; template {info.template}")
        if info.group_names:
            print(f"    groups: {', '.join(info.group_names)} (--group; auto picks one per face)")
        print(textwrap.fill(info.description, width, initial_indent="    ", subsequent_indent="    "))


@app.command()
def templates() -> None:
    """List the alignment templates."""
    from toonbridge.faces import get_template, template_names

    table = Table("name", "size", "source")
    for name in template_names():
        template = get_template(name)
        table.add_row(name, f"{template.size[0]}×{template.size[1]}", template.source)
    console.print(table)


@data_app.command("prepare")
def data_prepare(
    raw_dir: Annotated[Path, typer.Argument(help="Folder of arbitrary photos (searched recursively).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Training-set folder to write (resumable).")],
    template: Annotated[str, typer.Option(help="Alignment template.")] = "bitmoji",
    faces: Annotated[str, typer.Option(help="all faces of each photo, or only the largest.")] = "all",
    max_upscale: Annotated[float, typer.Option(help="Skip faces that would be enlarged more than this.")] = 2.0,
    detector: Detector = "auto",
    workers: Annotated[int, typer.Option(help="Processes aligning in parallel (each costs ~2 s to start).")] = 1,
    progress: Progress = None,
) -> None:
    """Align a folder of photos into a training set with a manifest; unreadable or face-less files are listed."""
    from toonbridge.data.prepare import PrepareOptions, prepare_folder

    if workers < 1:
        _fail("--workers must be at least 1")
    options = _make(lambda: PrepareOptions(template=template, faces=faces, max_upscale=max_upscale, detector=detector))
    result = _make(lambda: prepare_folder(raw_dir, output, options, show_progress=progress, workers=workers))
    print(f"{result.faces_written} aligned faces in {output / 'manifest.csv'}; "
          f"{len(result.skipped)} photo(s) skipped (listed in {output / 'skipped.csv'})")
    _finish(len(result.report.failures), result.photos)


FACE_SET_METHODS = ("stylegan2", "psp")  # the methods whose data section is one set of face images (FaceImagesData)


@data_app.command("pack")
def data_pack(
    config: Annotated[Path, typer.Argument(help="A stylegan2 or psp training config (YAML).", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="The pack file to write.", show_default=False)],
    quality: Annotated[int, typer.Option(min=50, max=100, help="WebP quality of the packed images.")] = 92,
    progress: Progress = None,
) -> None:
    """Write the face images a config trains on (aligned, resized) into one file, for a machine without the data
    (set data.packed to it there)."""
    from rich.progress import Progress as Bar

    from toonbridge.data import tensor_to_image
    from toonbridge.data.packed import write_pack
    from toonbridge.train import load_config
    from toonbridge.train.config import section
    from toonbridge.train.stylegan import FaceImagesData

    if output.exists():
        _fail(f"-o {output} exists; choose a new file")
    parsed = _make(lambda: load_config(config))
    if parsed.method not in FACE_SET_METHODS:
        _fail(f"only {' and '.join(FACE_SET_METHODS)} configs (one set of face images) can be packed, not {parsed.method}")
    data = _make(lambda: section(FaceImagesData, parsed.data, "data"))
    if data.packed:
        _fail(f"{config} already reads the pack {data.packed}")
    images = _make(lambda: data.images(parsed.seed, flip_probability=0.0))
    with Bar(console=Console(stderr=True), disable=not _want_progress(progress)) as bar:
        task = bar.add_task("packing", total=len(images))
        items = ((item["name"], tensor_to_image(item["image"])) for item in map(images.__getitem__, range(len(images))))
        written = _make(lambda: write_pack(items, output, quality=quality, on_image=lambda: bar.advance(task)))
    print(f"{written} faces of {data.size}×{data.size} px in {output} ({output.stat().st_size / 2**20:.1f} MiB)")


@data_app.command("info")
def data_info(
    domain: Annotated[str, typer.Argument(help="A registered domain (e.g. celeba2bitmoji/photo), manifest or folder.")],
    where: Annotated[Optional[list[str]], typer.Option("--where", help="Label filter key=value (repeatable).")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Root of the named datasets (default ../shared/data).")] = None,
) -> None:
    """Count a domain's images per split and per label value."""
    from collections import Counter

    from toonbridge.data import load_domain

    selected = _make(lambda: load_domain(domain, data_root).where(*(where or [])))
    table = Table("split", "images", *sorted(selected.label_names))
    for split in ("train", "val", "all"):
        part = selected.split(split)
        counts = [_most_common(Counter(s.labels.get(n, "") for s in part)) for n in sorted(selected.label_names)]
        table.add_row(split, str(len(part)), *counts)
    console.print(table)


def _most_common(counter, shown: int = 6) -> str:
    text = ", ".join(f"{value or '(none)'}: {count}" for value, count in counter.most_common(shown))
    return text + (f", … ({len(counter) - shown} more)" if len(counter) > shown else "")


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="A training config (YAML), e.g. configs/bitmoji.yaml.", show_default=False)],
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run's last checkpoint.")] = False,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    steps: Annotated[Optional[int], typer.Option(help="Override the config's total steps.")] = None,
    max_minutes: Annotated[Optional[float], typer.Option(help="Stop after this much accumulated training time.")] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help="Override the config's CPU threads (e.g. 2 when the run has the machine to itself).")] = None,
    progress: Progress = None,
) -> None:
    """Train (or resume) a model from a YAML config; checkpoints and TensorBoard logs go to its run_dir."""
    from toonbridge.train import TrainingDiverged, load_config, train as run_training

    overrides = {key: value for key, value in (("steps", steps), ("max_wall_minutes", max_minutes), ("threads", threads))
                 if value is not None}
    parsed = _make(lambda: load_config(config, overrides))
    try:
        result = run_training(parsed, resume=resume, device=device, progress=_want_progress(progress),
                              log=lambda message: print(message, file=sys.stderr))
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(1)
    except (ToonbridgeError, ValueError) as error:  # bad data, device or config values found at start-up
        _fail(str(error))
    if result.main:
        print(f"stopped at step {result.step} ({result.stopped_by}; {result.wall_seconds / 60:.1f} min trained); "
              f"checkpoint: {result.checkpoint}", file=sys.stderr)
    if result.stopped_by == "interrupt":
        raise typer.Exit(130)


@app.command()
def upscale(
    faces: Photos,
    output: OutDir,
    weights: Annotated[Optional[Path], typer.Option(help="A super-resolution encoder .safetensors (default: the shipped one).")] = None,
    refine: Annotated[int, typer.Option(min=0, help="Then N optimisation steps so that the face, shrunk to the input's size, matches it (seconds per face).")] = 0,
    bf16: Bf16 = False,
    progress: Progress = None,
) -> None:
    """Small face crops (framed like `toonbridge align` writes them, e.g. 16 or 32 px) to 128-px realistic faces.

    pSp super-resolution into the face generator: the detail is invented by the generator, not recovered, so the
    result is a plausible face that may not be the same person. Writes OUTDIR/<stem>.png."""
    from toonbridge.api import SUPER_RESOLUTION, super_resolution_network, upscale as enlarge
    from toonbridge.imageio import save_image

    _make(lambda: super_resolution_network(str(weights or SUPER_RESOLUTION), "cpu"))  # a bad weights file fails once, first
    paths = _inputs(faces)
    _output_folder(output)
    stems = _unique_stems(paths)
    written: list[Path] = []
    report = run_batch(paths, lambda path: save_image(enlarge(path, weights=weights, precision=_precision(bf16), refine_steps=refine),
                                                      output / f"{stems[path]}.png"),
                       on_result=lambda _path, path: written.append(path), description="upscaling", show_progress=progress)
    for path in written:
        print(path)
    _finish(len(report.failures), len(paths))


@app.command("new-style")
def new_style(
    cartoons: Annotated[Path, typer.Argument(help="A folder of your cartoon images (any size; faces are aligned where found).", show_default=False)],
    name: Annotated[str, typer.Option(help="The style's name.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="The style folder to write (default: styles/NAME).")] = None,
    minutes: Annotated[float, typer.Option(min=1.0, help="Training time budget; run the command again to train on.")] = 60.0,
    photos: Annotated[Optional[Path], typer.Option(help="A folder of face photos to learn from (default: the research sets of TOONBRIDGE_DATA).")] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="Checkpoints and logs (default: runs/style-NAME).")] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help="CPU threads (default: torch's).")] = None,
    blend: Annotated[float, typer.Option(min=0.0, max=1.0, help="Install the generator this far from the shared pre-training towards the trained one: below 1 keeps faces a long run has lost (e.g. 0.9).")] = 1.0,
    progress: Progress = None,
) -> None:
    """Train a new whitebox style from your own cartoons, starting from the shared pre-trained generator, and
    write a style folder: then `toonbridge cartoonize photo.jpg --style styles/NAME`. Interrupt with Ctrl-C (a
    checkpoint is kept); the same command resumes, and a larger --minutes trains longer; run again with another
    --blend to reinstall a finished style."""
    from toonbridge.train import TrainingDiverged, config_from_dict, train as run_training
    from toonbridge.train.custom_style import check_name, install_style, prepare_cartoons, style_config

    _make(lambda: check_name(name))
    if not cartoons.is_dir():
        _fail(f"not a folder: {cartoons}")
    folder = output or Path("styles") / name
    runs = run_dir or Path("runs") / f"style-{name}"
    shown = _want_progress(progress)
    prepared = _make(lambda: prepare_cartoons(cartoons, runs / "cartoons", progress=shown))
    print(f"{prepared.aligned + prepared.as_they_are} cartoons: {prepared.aligned} faces aligned, {prepared.as_they_are} used as they are"
          + (f", {prepared.unreadable} unreadable skipped" if prepared.unreadable else ""), file=sys.stderr)
    raw = style_config(name, runs / "cartoons", runs, minutes, photos)
    if threads:
        raw["threads"] = threads
    config = _make(lambda: config_from_dict(raw, f"new-style {name}"))
    resume = (runs / "checkpoints").is_dir() and any((runs / "checkpoints").iterdir())
    try:
        result = run_training(config, resume=resume, progress=shown, log=lambda message: print(message, file=sys.stderr))
    except TrainingDiverged as error:
        _fail(str(error))
    except (ToonbridgeError, ValueError) as error:
        _fail(str(error))
    if result.stopped_by == "interrupt":
        print(f"interrupted at step {result.step}; run the same command to resume", file=sys.stderr)
        raise typer.Exit(130)
    _make(lambda: install_style(runs, folder, name, prepared, blend))
    print(f"style {name!r} written to {folder} ({result.step} steps, {result.wall_seconds / 60:.1f} min trained"
          + (f", blended {blend:g} of the way from the pre-training" if blend < 1 else "") + "): "
          f"toonbridge cartoonize PHOTO -o OUT --style {folder}")


export_app = typer.Typer(help="Export trained models.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@app.command()
def generate(
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder (DIR/seed-<S>.png).", show_default=False)],
    count: Annotated[int, typer.Option("-n", "--count", min=1, help="How many faces.")] = 16,
    seed: Annotated[int, typer.Option(min=0, help="The first seed; face i uses seed + i, so a seed always draws the same face.")] = 0,
    truncation: Annotated[float, typer.Option(min=0.0, max=1.0, help="Pull towards the average face (0.7: fewer odd faces, less variety).")] = 1.0,
    weights: Annotated[Optional[Path], typer.Option(help="A generator .safetensors or a stylegan2 run/checkpoint (default: the shipped one).")] = None,
    bf16: Bf16 = False,
) -> None:
    """Random realistic faces from the style-based face generator (the prior that cartoon -> real inverts into)."""
    from toonbridge.api import generate as draw
    from toonbridge.imageio import save_image

    _output_folder(output)
    faces = _make(lambda: draw(count, seed, truncation, weights, precision=_precision(bf16)))
    for index, face in enumerate(faces):
        print(save_image(face, output / f"seed-{seed + index:06d}.png"))


@export_app.command("weights")
def export_weights(
    run: Annotated[Path, typer.Argument(help="A run folder (its latest checkpoint) or one checkpoint folder.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the network files.", show_default=False)],
    half: Annotated[bool, typer.Option("--half", help="Store float16 weights (half the size).")] = False,
    name: Annotated[Optional[str], typer.Option(help="File name (no extension) for a run that ships one network.")] = None,
    live: Annotated[bool, typer.Option("--live", help="The trained weights, not their moving average (runs with ema_half_life).")] = False,
) -> None:
    """Write a run's shipped networks (e.g. both generators) as self-describing safetensors files."""
    from toonbridge.train.export import export_run

    for path in _make(lambda: export_run(run, output, half=half, name=name, live=live)):
        print(path)


@export_app.command("branches")
def export_branches(
    runs: Annotated[list[Path], typer.Argument(help="fewshot_branch run folders on the same base, one per group.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the merged generators.", show_default=False)],
    half: Annotated[bool, typer.Option("--half", help="Store float16 weights (half the size).")] = False,
) -> None:
    """Merge few-shot group branches (selective backprop runs) into one pair of multi-branch generators."""
    from toonbridge.train.export import merge_branch_runs

    for path in _make(lambda: merge_branch_runs(runs, output, half=half)):
        print(path)


@export_app.command("blend")
def export_blend(
    first: Annotated[Path, typer.Argument(help="A network file (.safetensors), e.g. an earlier checkpoint's generator.", show_default=False)],
    second: Annotated[Path, typer.Argument(help="A network file of the same architecture, e.g. a later checkpoint's.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="The blended network file.", show_default=False)],
    weight: Annotated[float, typer.Option(help="0 gives FIRST, 1 gives SECOND.")] = 0.5,
    half: Annotated[bool, typer.Option("--half", help="Store float16 weights (half the size).")] = False,
) -> None:
    """Interpolate two networks' weights (network interpolation): a point between two checkpoints, untrained."""
    from toonbridge.train.export import blend_networks

    print(_make(lambda: blend_networks(first, second, weight, output, half=half)))


@export_app.command("onnx")
def export_onnx_files(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the .onnx files.", show_default=False)],
    style: StyleName = "bitmoji",
    group: Annotated[Optional[str], typer.Option(help="Group styles: only this branch (default: every branch).")] = None,
) -> None:
    """Write a style's generators as ONNX (opset 17, dynamic batch; N×3×H×W in [-1, 1] in and out).

    A group style (bitmoji-groups) has one network per branch: ROLE.GROUP.onnx for each (or for --group only)."""
    from toonbridge.api import DIRECTIONS, load
    from toonbridge.models.onnx import export_onnx

    chosen = _make(lambda: load(style, backend="torch"))
    if chosen.info.views:
        _fail(f"style {chosen.name!r} views a many-domain network that reads each input's hair colour as it runs; "
              "it runs in PyTorch only (toonbridge.load or `toonbridge serve`)")
    if group is not None and group not in chosen.groups:
        _fail(f"style {chosen.name!r} has no group {group!r}" + (f"; its groups: {', '.join(chosen.groups)}" if chosen.groups else ""))
    groups = [group] if group else chosen.groups or [None]
    _output_folder(output)
    for direction in chosen.info.directions:
        role = DIRECTIONS[direction]
        for branch in groups:
            name = f"{role}.onnx" if branch is None else f"{role}.{branch}.onnx"
            print(_make(lambda: export_onnx(chosen.generator(direction, branch), chosen.info.size, output / name)))


eval_app = typer.Typer(help="Measure image sets and models.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
ImageDir = Annotated[Path, typer.Argument(help="A folder of images (searched recursively).", show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _set_features(folder: Path):
    from toonbridge.eval.inception import cached_path_features

    paths = expand_inputs([str(folder)]) if folder.is_dir() else []
    if not paths:
        _fail(f"{folder} is not a folder with images")
    return _make(lambda: cached_path_features(paths))


@eval_app.command("kid")
def eval_kid(dir_a: ImageDir, dir_b: ImageDir, as_json: AsJson = False) -> None:
    """Kernel Inception Distance ×100 (mean ± std over 100 subsets of 100), TF-Inception pool3 features."""
    from toonbridge.eval import kid

    result = _make(lambda: kid(_set_features(dir_a), _set_features(dir_b)))
    print(json.dumps(result.to_dict()) if as_json else f"KID×100 {result.mean:.2f} ± {result.std:.2f} ({result.n_a} vs {result.n_b} images)")


@eval_app.command("fid")
def eval_fid(dir_a: ImageDir, dir_b: ImageDir, as_json: AsJson = False) -> None:
    """Fréchet Inception Distance, TF-Inception pool3 features."""
    from toonbridge.eval import fid

    features_a, features_b = _set_features(dir_a), _set_features(dir_b)
    value = _make(lambda: fid(features_a, features_b))
    print(json.dumps({"fid": value, "n_a": len(features_a), "n_b": len(features_b)}) if as_json
          else f"FID {value:.2f} ({len(features_a)} vs {len(features_b)} images)")


@eval_app.command("report")
def eval_report(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for report.html and metrics.json.", show_default=False)],
    style: Annotated[str, typer.Option(help="A shipped style name or a style folder.")] = "bitmoji",
    limit: Annotated[int, typer.Option(help="Validation inputs per direction.")] = 400,
    reference: Annotated[int, typer.Option(help="Target-domain validation images for KID.")] = 500,
    identity: Annotated[int, typer.Option(help="Photo round trips measured with dlib (0: skip).")] = 100,
    group_limit: Annotated[int, typer.Option(help="Faces per age group × gender (0: skip the groups).")] = 100,
    bf16: Bf16 = False,
) -> None:
    """Run a style both ways on its validation data and its groups; write report.html and metrics.json."""
    from toonbridge.api import load
    from toonbridge.eval.inception import weights_path
    from toonbridge.eval.report import require_plotting, write_report
    from toonbridge.eval.style_eval import EvalOptions, evaluate_style

    options = _make(lambda: EvalOptions(limit, reference, identity, group_limit))
    _make(require_plotting)
    _make(weights_path)
    loaded = _make(lambda: load(style, precision=_precision(bf16)))
    evaluation = _make(lambda: evaluate_style(loaded, options, progress=lambda message: print(message, file=sys.stderr)))
    for path in write_report(evaluation, output):
        print(path)
    for name, result in evaluation.directions.items():
        nme = "–" if result.nme is None else f"{result.nme:.3f}"
        print(f"{name}: KID×100 {result.kid:.2f} ± {result.kid_std:.2f}, NME {nme}", file=sys.stderr)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Translations running at once.")] = 1,
    queue: Annotated[int, typer.Option(help="Translations allowed to wait; more get 503.")] = 16,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload (413 above).")] = 10.0,
    max_megapixels: Annotated[float, typer.Option(help="Largest image (413 above; checked before decoding).")] = 25.0,
    timeout: Annotated[float, typer.Option(help="Seconds a translation may take (504 above).")] = 60.0,
    bf16: Bf16 = False,
    backend: Backend = "auto",
) -> None:
    """Serve the web page and the REST API (docs at /docs)."""
    try:
        import uvicorn

        from toonbridge.serve.app import ServeConfig, create_app
    except ImportError as error:
        _fail(f"serving needs the serve extra ({error.name} is missing): pip install 'toonbridge[serve]'")
    config = _make(lambda: ServeConfig(max_upload_bytes=int(max_upload_mb * 2**20), max_pixels=int(max_megapixels * 1e6),
                                       workers=workers, queue=queue, timeout_s=timeout, precision=_precision(bf16),
                                       backend=backend))
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")


def _want_progress(flag: Optional[bool]) -> bool:
    return sys.stderr.isatty() if flag is None else flag


def _make(build):
    """Run a setup step; a user error becomes one line and exit code 2."""
    try:
        return build()
    except (ToonbridgeError, ValueError) as error:
        _fail(str(error))


def _precision(bf16: bool, device: str = "cpu") -> str:
    """``--bf16`` as a precision; on a CPU that would emulate bfloat16 it still runs, with a note that fp32 is faster."""
    from toonbridge.precision import bf16_is_native, cpu_description

    if bf16 and device == "cpu" and not bf16_is_native(device):
        print(f"note: this CPU ({cpu_description()}) has no native bfloat16 arithmetic; --bf16 runs slower than fp32 here",
              file=sys.stderr)
    return "bf16" if bf16 else "fp32"


def _fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(2)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    # A user of the command line sees what is wrong and what to do, not a source path and line.
    return f"warning: {message}\n"


def main() -> None:
    warnings.formatwarning = _one_line_warning
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except ToonbridgeError as error:
        report_failure("toonbridge", str(error))
        sys.exit(1)
    except Exception as error:
        if os.environ.get("TOONBRIDGE_DEBUG"):
            raise
        report_failure("toonbridge", f"internal error ({type(error).__name__}: {error}); set TOONBRIDGE_DEBUG=1 for details")
        sys.exit(1)


if __name__ == "__main__":
    main()
