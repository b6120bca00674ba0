"""Step time of a shipped recipe on 1 and 2 CPU processes (torchrun, gloo) on this machine ([scale]).

    python benchmarks/distributed_step.py [--config configs/bitmoji.yaml] [--steps 30] [--no-write]

Each setting trains the recipe from scratch in a temporary run folder for ``--steps`` steps (checkpoints every 10)
and reports the seconds per step between the first and the last checkpoint (the first steps, which build caches,
are left out), and the faces per second of the global batch. Settings: one process with 1 and 2 threads, and two
processes of 1 thread each under torchrun (global batch = 2 × batch_size). Needs ../shared/data (the recipe's
data) and quiet cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from _report import markdown_table, print_table, update_section
from toonbridge.train import load_config
from toonbridge.train.checkpoint import list_checkpoints, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def seconds_per_step(run_dir: Path) -> float:
    checkpoints = [load_checkpoint(path) for path in list_checkpoints(run_dir)]
    first, last = checkpoints[0], checkpoints[-1]
    return (last.state["wall_seconds"] - first.state["wall_seconds"]) / (last.step - first.step)


def run(config: dict, folder: Path, processes: int) -> float:
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)] if processes > 1 else []
    command = [sys.executable, *launcher, "-m", "toonbridge", "train", str(path), "--no-progress"]
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": str(config["threads"])})
    return seconds_per_step(Path(config["run_dir"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "bitmoji.yaml")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    recipe = load_config(args.config).to_dict()
    batch = recipe["batch_size"]
    rows = []
    for processes, threads in ((1, 1), (1, 2), (2, 1)):
        with tempfile.TemporaryDirectory() as temporary:
            folder = Path(temporary)
            config = {**recipe, "run_dir": str(folder / "run"), "steps": args.steps, "threads": threads, "checkpoint_every": 10,
                      "keep_checkpoints": args.steps, "sample_every": 10 * args.steps, "init_from": None, "max_wall_minutes": None}
            seconds = run(config, folder, processes)
        faces = processes * batch
        rows.append([f"{processes} × {threads} thread{'s' if threads > 1 else ''}", faces, f"{seconds:.2f}", f"{faces / seconds:.2f}"])
        print(rows[-1], flush=True)
    header = [f"{args.config.name}: processes × threads", "faces per step", "s per step", "faces per s"]
    print_table("step time", header, rows)
    if not args.no_write:
        update_section("distributed-step", markdown_table(header, rows),
                       f"python benchmarks/distributed_step.py --config {os.path.relpath(args.config.resolve(), ROOT)} --steps {args.steps}")


if __name__ == "__main__":
    main()
