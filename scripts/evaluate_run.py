"""Evaluate a training run (or one checkpoint) exactly as `toonbridge eval report` evaluates a shipped style.

    python scripts/evaluate_run.py runs/bitmoji [--style bitmoji] [--limit 400] [--reference 500]
                                   [--identity 100] [--group-limit 0] [-o REPORT_DIR] [--json out.json]

The run's generators are exported next to a copy of the shipped style's other files (style.json, landmark
regressors, locator), and that temporary style is measured by `toonbridge.eval.style_eval`: KID×100 both ways,
landmark NME, gender kept, round-trip identity and, with --group-limit, the UTKFace groups.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from toonbridge.api import Style
from toonbridge.eval.report import write_report
from toonbridge.eval.style_eval import EvalOptions, evaluate_style
from toonbridge.style_files import find_style, read_style
from toonbridge.train.export import export_run


def style_from_run(run: Path, base_style: str, folder: Path) -> Path:
    """A style folder with the run's generators and the base style's other networks and settings."""
    base = find_style(base_style)
    shutil.copytree(base.folder, folder)
    raw = json.loads((folder / "style.json").read_text())
    for key, value in raw.get("evaluation", {}).items():  # classifier paths are relative to the original folder
        if key.startswith("classifier_"):
            raw["evaluation"][key] = str((base.folder / value).resolve())
    (folder / "style.json").write_text(json.dumps(raw))
    export_run(run, folder)  # overwrites to_cartoon/to_photo.safetensors
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="run folder, checkpoint folder, or a style folder")
    parser.add_argument("--style", default="bitmoji", help="the shipped style whose data and regressors to use")
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--reference", type=int, default=500)
    parser.add_argument("--identity", type=int, default=100)
    parser.add_argument("--group-limit", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, help="also write report.html and metrics.json here")
    parser.add_argument("--json", type=Path, help="write the summary JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.run if (args.run / "style.json").is_file() else style_from_run(args.run, args.style, Path(scratch) / "style")
        evaluation = evaluate_style(Style(read_style(folder)), EvalOptions(args.limit, args.reference, args.identity, args.group_limit),
                                    progress=print)
    summary = evaluation.to_dict()
    summary.pop("faces")
    summary["source"] = str(args.run)
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if args.output:
        write_report(evaluation, args.output)


if __name__ == "__main__":
    main()
