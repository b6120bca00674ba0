"""[scale] Training under torchrun (torch.distributed, gloo on the CPU): 2 processes with batch b each end with the
weights of 1 process with batch 2b, resume exactly, and a distributed checkpoint resumes in one process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from conftest import write_synthetic_domain
from toonbridge.models import build, save_network
from toonbridge.train import config_from_dict, train
from toonbridge.train.checkpoint import latest_checkpoint
from toonbridge.train.method import method_class

SIZE = 32


@pytest.fixture(scope="module")
def recipes(tmp_path_factory):
    """Two tiny recipes: the landmark-assisted CycleGAN (spectral-norm discriminators, image pools, local parts)
    and the supervised landmark regressor (batch normalisation)."""
    root = tmp_path_factory.mktemp("distributed")
    rng = np.random.default_rng(0)
    photos, cartoons = write_synthetic_domain(root / "photos", 90, rng, 16), write_synthetic_domain(root / "cartoons", 170, rng, 16)
    regressors = {}
    for side in ("a", "b"):
        path = root / f"regressor_{side}.safetensors"
        save_network(build("landmark_regressor", width=4, input_size=SIZE), "landmark_regressor", {"width": 4, "input_size": SIZE}, path)
        regressors[side] = str(path)
    common = {"steps": 4, "threads": 1, "precision": "fp32", "checkpoint_every": 2, "log_every": 1, "sample_every": 2}
    cyclegan = {"method": "landmark_cyclegan", **common,
                "data": {"domain_a": photos, "domain_b": cartoons, "size": SIZE},
                "model": {"ngf": 4, "n_blocks": 1, "ndf": 4, "local_ndf": 4, "local_patch": 16,
                          "regressor_a": regressors["a"], "regressor_b": regressors["b"]},
                "loss": {"local_start_step": 1, "pool_size": 3}}
    # No colour jitter: its draws come from each rank's own generator (docs/training.md), so they are not the draws
    # of one process; everything else in the step is deterministic.
    regressor = {"method": "landmark_regressor", **common, "data": {"domain": photos, "size": SIZE, "colour_jitter": 0.0},
                 "model": {"width": 4}}
    return root, {"cyclegan": cyclegan, "regressor": regressor}


def _torchrun(config: dict, path, processes: int, *extra: str) -> subprocess.CompletedProcess:
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
               "-m", "toonbridge", "train", str(path), "--no-progress", *extra]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _weights(run_dir) -> dict[str, torch.Tensor]:
    checkpoint = latest_checkpoint(run_dir)
    return load_file(checkpoint.path / "weights.safetensors")


def _noise_only(config: dict, run_dir) -> set[str]:
    """Parameters whose gradient is float noise (RMS under 1e-6 by the run's Adam second moment; e.g. conv biases an
    instance norm removes): Adam's first steps scale any gradient to about the learning rate, so their values
    differ between any two runs, distributed or not. Every other parameter must match."""
    from toonbridge.train.method import build_method

    method = build_method(config_from_dict({**config, "run_dir": "unused"}), torch.device("cpu"))
    names = {id(p): f"{network}.{name}" for network, module in method.networks.items() for name, p in module.named_parameters()}
    moments = load_file(latest_checkpoint(run_dir).path / "optimizers.safetensors")
    found = set()
    for optimizer_name, optimizer in method.optimizers.items():
        for index, parameter in enumerate(p for group in optimizer.param_groups for p in group["params"]):
            if moments[f"{optimizer_name}/{index}/exp_avg_sq"].sqrt().max() < 1e-6:
                found.add(names[id(parameter)])
    return found


def _assert_same(a: dict, b: dict, noise: set[str]) -> None:
    assert a.keys() == b.keys()
    compared = [key for key in a if key not in noise]
    assert len(compared) > 0.6 * len(a)
    for key in compared:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6, msg=key)


def _assert_same_up_to_summation_order(a: dict, b: dict, noise: set[str], config: dict) -> None:
    """One batch of 2b and two batches of b sum their gradients in another order, and Adam's first steps magnify
    that float noise in a few elements of the tensors whose gradients are small (up to 2.5e-5 on a 2-core AMD EPYC,
    2026-12-07, where an element-wise rtol of 1e-4 failed). So each tensor's error is measured as a whole, in the
    units Adam moves weights by: its root mean square must stay under 1 % of the learning rate times the steps
    (measured: at most 0.5 % on that machine; a single process with batch b instead of 2b misses by 27 %)."""
    assert a.keys() == b.keys()
    compared = [key for key in a if key not in noise]
    assert len(compared) > 0.6 * len(a)
    reach = method_class(config["method"]).parse_sections(config_from_dict({**config, "run_dir": "unused"}))["optim"].lr * config["steps"]
    for key in compared:
        error = float((a[key].double() - b[key].double()).square().mean().sqrt()) / reach
        assert error < 0.01, f"{key}: the error is {error:.1%} of the learning rate times the steps"


@pytest.mark.parametrize("recipe", ["cyclegan", "regressor"])
def test_two_processes_with_batch_b_train_what_one_process_with_batch_2b_trains(recipes, recipe):
    root, configs = recipes
    config = configs[recipe]
    alone = train(config_from_dict({**config, "run_dir": str(root / f"{recipe}-alone"), "batch_size": 4}), progress=False, log=lambda _: None)
    assert alone.step == 4
    result = _torchrun({**config, "run_dir": str(root / f"{recipe}-two"), "batch_size": 2}, root / f"{recipe}.yaml", 2)
    assert "stopped at step 4" in result.stderr and result.stderr.count("stopped at step") == 1  # rank 0 alone speaks
    _assert_same_up_to_summation_order(_weights(root / f"{recipe}-two"), _weights(root / f"{recipe}-alone"),
                                       _noise_only(config, root / f"{recipe}-alone"), config)
    # Only rank 0 writes: one checkpoint folder per saved step, one log.
    assert [p.name for p in sorted((root / f"{recipe}-two" / "checkpoints").iterdir())] == ["step-00000002", "step-00000004"]
    state = latest_checkpoint(root / f"{recipe}-two").state
    assert state["world_size"] == 2 and len(state["rng_by_rank"]) == 2 and "2 processes" in state["device"]


def test_a_distributed_run_resumes_exactly_and_in_one_process(recipes):
    root, configs = recipes
    config = {**configs["cyclegan"], "batch_size": 2}
    _torchrun({**config, "run_dir": str(root / "whole")}, root / "whole.yaml", 2)
    _torchrun({**config, "run_dir": str(root / "halves"), "steps": 2}, root / "halves.yaml", 2)
    _torchrun({**config, "run_dir": str(root / "halves")}, root / "halves.yaml", 2, "--resume")
    _assert_same(_weights(root / "halves"), _weights(root / "whole"), _noise_only(config, root / "whole"))
    # One process takes the distributed checkpoint on (not bit-exact: its global batch is smaller; said so).
    notes = []
    more = train(config_from_dict({**config, "run_dir": str(root / "whole"), "steps": 6}), resume=True, progress=False, log=notes.append)
    assert more.step == 6
    assert any("not bit-exactly" in note for note in notes)


def test_global_batch_norm_matches_one_process_in_place_of_each_rank_alone():
    from toonbridge.train.distributed import GlobalBatchNorm

    norm = GlobalBatchNorm(3)
    x = torch.randn(4, 3, 5, 5)
    torch.testing.assert_close(norm(x), torch.nn.BatchNorm2d(3)(x))  # alone, it is plain batch norm


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_smoke(recipes):
    root, configs = recipes
    result = train(config_from_dict({**configs["cyclegan"], "run_dir": str(root / "cuda"), "batch_size": 2, "precision": "bf16"}),
                   device="cuda", progress=False, log=lambda _: None)
    assert result.step == 4


def test_ctrl_c_to_torchrun_stops_every_process_at_one_step_with_a_checkpoint(recipes):
    root, configs = recipes
    config = {**configs["cyclegan"], "run_dir": str(root / "interrupted"), "batch_size": 2, "steps": 100_000, "checkpoint_every": 100_000}
    (root / "interrupted.yaml").write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "toonbridge", "train", str(root / "interrupted.yaml"), "--no-progress"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while not (root / "interrupted" / "logs").is_dir() and time.monotonic() < deadline:  # rank 0 is training
        time.sleep(0.5)
    time.sleep(3)
    process.send_signal(signal.SIGINT)  # what a Ctrl-C in the terminal sends torchrun
    _, stderr = process.communicate(timeout=120)
    stopped = [line for line in stderr.splitlines() if line.startswith("stopped at step")]
    assert len(stopped) == 1 and "(interrupt;" in stopped[0], stderr[-2000:]
    checkpoint = latest_checkpoint(root / "interrupted")
    assert checkpoint is not None and checkpoint.step > 0 and stopped[0].startswith(f"stopped at step {checkpoint.step} ")


def test_a_process_that_fails_ends_the_run_and_keeps_whole_checkpoints(recipes, tmp_path):
    root, configs = recipes
    photos = tmp_path / "photos"
    photos.mkdir()
    source = Path(configs["cyclegan"]["data"]["domain_a"]).parent
    for image in source.glob("*.png"):
        (photos / image.name).write_bytes(image.read_bytes())
    (photos / "manifest.csv").write_text((source / "manifest.csv").read_text())
    config = {**configs["cyclegan"], "run_dir": str(tmp_path / "run"), "batch_size": 2, "steps": 2, "checkpoint_every": 1,
              "data": {**configs["cyclegan"]["data"], "domain_a": str(photos / "manifest.csv")}}
    _torchrun(config, tmp_path / "first.yaml", 2)
    (photos / "05.png").write_bytes(b"not an image")  # whichever rank reads it next fails (within 4 steps)
    (tmp_path / "failing.yaml").write_text(yaml.safe_dump({**config, "steps": 40}))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "toonbridge", "train", str(tmp_path / "failing.yaml"), "--no-progress", "--resume"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode != 0
    assert "stopped at step 40" not in result.stderr
    assert "not an image" in result.stderr or "another process of this run stopped" in result.stderr, result.stderr[-2000:]
    last = latest_checkpoint(tmp_path / "run")
    assert 2 <= last.step < 40
    assert all(not path.name.startswith(".") for path in (tmp_path / "run" / "checkpoints").iterdir())  # whole ones only
