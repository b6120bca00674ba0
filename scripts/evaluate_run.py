"""Evaluate a training run (or one checkpoint) exactly as `toonbridge eval report` evaluates a shipped style.

    python scripts/evaluate_run.py runs/bitmoji [--style bitmoji | --style configs/styles/anime.json]
                                   [--limit 400] [--reference 500] [--identity 100] [--group-limit 0]
                                   [-o REPORT_DIR] [--json out.json]

The run's generators are exported next to a copy of the shipped style's other files (style.json, landmark
regressors, locator), and that temporary style is measured by `toonbridge.eval.style_eval`: KID×100 both ways,
landmark NME, gender kept, round-trip identity and, with --group-limit, the UTKFace groups.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from toonbridge.api import Style
from toonbridge.eval.report import write_report
from toonbridge.eval.style_eval import EvalOptions, evaluate_style
from toonbridge.style_files import read_style
from toonbridge.train.export import style_from_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="run folder, checkpoint folder, or a style folder")
    parser.add_argument("--style", default="bitmoji",
                        help="the shipped style whose data and regressors to use, or a style.json for one not shipped yet "
                             "(configs/styles/anime.json)")
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
