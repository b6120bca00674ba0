"""The generic training loop with the landmark-assisted CycleGAN on a tiny synthetic dataset (no shared data)."""

from __future__ import annotations

import json
import math
from pathlib import Path
import shutil
import signal

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from toonbridge.cli import app
from toonbridge.errors import ToonbridgeError
from conftest import write_synthetic_domain
from toonbridge.models import build, load_network, save_network
from toonbridge.train import ConfigError, TrainingDiverged, config_from_dict, load_config, train
from toonbridge.train.checkpoint import list_checkpoints
from toonbridge.train.export import export_run
from toonbridge.train.landmark_cyclegan import LandmarkCycleGANTraining
from toonbridge.train.method import check_config

SIZE = 32


@pytest.fixture
def tiny_config(tmp_path):
    rng = np.random.default_rng(0)
    regressors = {}
    for side in ("a", "b"):
        path = tmp_path / f"regressor_{side}.safetensors"
        save_network(build("landmark_regressor", width=4, input_size=SIZE), "landmark_regressor", {"width": 4, "input_size": SIZE}, path)
        regressors[side] = str(path)

    def make(run: str = "run", **overrides) -> dict:
        raw = {
            "method": "landmark_cyclegan", "run_dir": str(tmp_path / run), "steps": 6, "threads": 1,
            "checkpoint_every": 3, "log_every": 1, "sample_every": 2,
            "data": {"domain_a": domains[0], "domain_b": domains[1], "size": SIZE},
            "model": {"ngf": 4, "n_blocks": 1, "ndf": 4, "local_ndf": 4, "local_patch": 16,
                      "regressor_a": regressors["a"], "regressor_b": regressors["b"]},
            "loss": {"local_start_step": 2},
        }
        raw.update(overrides)
        return raw

    domains = (write_synthetic_domain(tmp_path / "photos", 90, rng), write_synthetic_domain(tmp_path / "cartoons", 170, rng))
    return make


def _quiet(message):
    pass


def test_resume_after_interrupt_continues_exactly(tiny_config, monkeypatch):
    straight = train(config_from_dict(tiny_config("straight")), progress=False, log=_quiet)
    assert straight.step == 6 and straight.stopped_by == "steps"

    original = LandmarkCycleGANTraining.train_step

    def ctrl_c_during_step_4(self, batch, step):
        if step == 3:
            signal.raise_signal(signal.SIGINT)  # as if the user pressed Ctrl-C while step 4 runs
        return original(self, batch, step)

    monkeypatch.setattr(LandmarkCycleGANTraining, "train_step", ctrl_c_during_step_4)
    killed = train(config_from_dict(tiny_config("killed")), progress=False, log=_quiet)
    assert (killed.step, killed.stopped_by) == (4, "interrupt")  # step 4 finished, then it stopped
    monkeypatch.setattr(LandmarkCycleGANTraining, "train_step", original)
    resumed = train(config_from_dict(tiny_config("killed")), resume=True, progress=False, log=_quiet)
    assert resumed.step == 6

    for name in ("weights", "optimizers", "extra"):
        a = load_file(str(straight.checkpoint / f"{name}.safetensors"))
        b = load_file(str(resumed.checkpoint / f"{name}.safetensors"))
        assert a.keys() == b.keys() and a, name
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}: {key} differs after resume"


def test_an_interrupt_inside_a_step_keeps_the_last_whole_checkpoint(tiny_config, monkeypatch):
    original = LandmarkCycleGANTraining.train_step

    def die_in_step_5(self, batch, step):
        if step == 4:
            raise KeyboardInterrupt  # a second Ctrl-C, mid-step: this step's state must not be saved
        return original(self, batch, step)

    monkeypatch.setattr(LandmarkCycleGANTraining, "train_step", die_in_step_5)
    result = train(config_from_dict(tiny_config()), progress=False, log=_quiet)
    assert result.stopped_by == "interrupt" and result.checkpoint.name == "step-00000003"


def test_checkpoints_are_pruned_and_logs_written(tiny_config, tmp_path):
    result = train(config_from_dict(tiny_config(steps=9)), progress=False, log=_quiet)
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["step-00000006", "step-00000009"]
    assert result.checkpoint.name == "step-00000009"
    assert list((tmp_path / "run" / "logs").glob("events.out.tfevents.*"))
    assert not list((tmp_path / "run" / "checkpoints").glob(".partial-*"))


def test_a_run_with_checkpoints_needs_resume(tiny_config):
    config = config_from_dict(tiny_config(steps=3))
    train(config, progress=False, log=_quiet)
    with pytest.raises(Exception, match="--resume"):
        train(config, progress=False, log=_quiet)


def test_resume_refuses_a_changed_config(tiny_config):
    train(config_from_dict(tiny_config(steps=3)), progress=False, log=_quiet)
    changed = tiny_config(steps=3)
    changed["loss"] = {"cycle": 1.0}
    with pytest.raises(Exception, match="loss"):
        train(config_from_dict(changed), resume=True, progress=False, log=_quiet)


def test_resume_accepts_a_section_key_spelled_out_at_its_default(tiny_config):
    # A key added to a section after a checkpoint was written (here spelled out at its default) changes nothing.
    train(config_from_dict(tiny_config(steps=3)), progress=False, log=_quiet)
    spelled_out = tiny_config(steps=6)
    spelled_out["loss"] = {"local_start_step": 2, "landmark_frame": "domain_mean"}
    assert train(config_from_dict(spelled_out), resume=True, progress=False, log=_quiet).step == 6
    not_default = tiny_config(steps=9)
    not_default["loss"] = {"local_start_step": 2, "landmark_frame": "same"}
    with pytest.raises(Exception, match="loss"):
        train(config_from_dict(not_default), resume=True, progress=False, log=_quiet)


def test_resume_may_change_the_thread_count(tiny_config):
    train(config_from_dict(tiny_config(steps=3)), progress=False, log=_quiet)
    assert train(config_from_dict(tiny_config(steps=6, threads=2)), resume=True, progress=False, log=_quiet).step == 6


def test_a_run_ships_the_moving_average_of_its_weights_resumes_it_exactly_and_keeps_the_live_ones(tiny_config, tmp_path):
    straight = train(config_from_dict(tiny_config("straight", ema_half_life=50)), progress=False, log=_quiet)
    first = train(config_from_dict(tiny_config("resumed", ema_half_life=50)), progress=False, log=_quiet)
    shutil.rmtree(first.checkpoint)  # as if stopped after step 3 (fewer steps would change the learning-rate schedule)
    resumed = train(config_from_dict(tiny_config("resumed", ema_half_life=50)), resume=True, progress=False, log=_quiet)
    a, b = (load_file(str(run.checkpoint / "weights.safetensors")) for run in (straight, resumed))
    assert any(key.startswith("to_cartoon_ema.") for key in a) and a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after resume"
    export_run(straight.checkpoint, tmp_path / "avg"), export_run(straight.checkpoint, tmp_path / "live", live=True)
    average, live = (load_file(str(tmp_path / folder / "to_cartoon.safetensors")) for folder in ("avg", "live"))
    for key, value in live.items():  # --live is the trained network; the default is its average, a step behind
        assert torch.equal(value, a[f"to_cartoon.{key}"]), key
    assert any(not torch.equal(average[key], live[key]) for key in live)
    assert all(torch.equal(average[key], a[f"to_cartoon_ema.{key}"]) for key in average)


def test_the_moving_average_halves_the_distance_each_half_life_and_copies_buffers():
    from toonbridge.train.method import TrainingMethod

    class OneLayer(TrainingMethod):
        def __init__(self):
            self.layer = torch.nn.BatchNorm1d(2)
            self.networks = {"layer": self.layer}

        def shipped(self):
            return {"layer": (self.layer, "none", {})}

    method = OneLayer()
    method.keep_average(4)
    with torch.no_grad():
        method.layer.weight.fill_(3.0)  # from 1
        method.layer.running_mean.fill_(7.0)
    for _ in range(4):
        method.update_average(steps_done=1_000)  # late in a run: the full half-life of 4 steps
    torch.testing.assert_close(method.averages["layer"].weight, torch.full((2,), 2.0))
    torch.testing.assert_close(method.averages["layer"].running_mean, torch.full((2,), 7.0))
    method.update_average(steps_done=0)  # the first step: a half-life of one step
    torch.testing.assert_close(method.averages["layer"].weight, torch.full((2,), 2.5))
    method.restart_average()
    torch.testing.assert_close(method.averages["layer"].weight, method.layer.weight)
    assert method.released()["layer"][0] is method.averages["layer"] and method.released(live=True)["layer"][0] is method.layer


def test_init_from_starts_a_new_run_from_another_runs_weights(tiny_config, tmp_path):
    source = train(config_from_dict(tiny_config("source", steps=3)), progress=False, log=_quiet)
    messages = []
    changed_recipe = tiny_config("warm", steps=1, init_from=str(source.checkpoint), loss={"local_start_step": 2, "cycle": 1.0})
    # One step at learning rate 0 leaves the networks exactly as loaded, so what was loaded can be compared.
    changed_recipe["optim"] = {"lr": 0.0}
    warm = train(config_from_dict(changed_recipe), progress=False, log=messages.append)
    assert warm.step == 1 and any("starting" in m and source.checkpoint.name in m for m in messages)
    before, after = (load_file(str(c / "weights.safetensors")) for c in (source.checkpoint, warm.checkpoint))
    generators = [key for key in before if key.startswith(("to_cartoon.", "to_photo."))]
    assert generators and all(torch.equal(before[key], after[key]) for key in generators)
    # A run folder means its latest checkpoint; a folder without one is a clear error.
    assert train(config_from_dict(tiny_config("warm2", steps=1, init_from=str(tmp_path / "source"))),
                 progress=False, log=_quiet).step == 1
    with pytest.raises(Exception, match="init_from"):
        train(config_from_dict(tiny_config("warm3", steps=1, init_from=str(tmp_path / "nothing"))), progress=False, log=_quiet)


def test_init_from_exported_networks_loads_them_and_starts_the_others_fresh(tiny_config, tmp_path):
    source = train(config_from_dict(tiny_config("source", steps=3)), progress=False, log=_quiet)
    export_run(source.checkpoint, tmp_path / "style")
    messages = []
    raw = tiny_config("from-style", steps=1, init_from=str(tmp_path / "style"))
    raw["optim"] = {"lr": 0.0}
    warm = train(config_from_dict(raw), progress=False, log=messages.append)
    assert any("from the exported to_cartoon, to_photo" in m and "d_cartoon" in m for m in messages)
    before, after = (load_file(str(c / "weights.safetensors")) for c in (source.checkpoint, warm.checkpoint))
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(("to_cartoon.", "to_photo.")))
    assert not all(torch.equal(before[k], after[k]) for k in before if k.startswith("d_cartoon."))
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception, match="folder of exported networks"):
        train(config_from_dict(tiny_config("none", steps=1, init_from=str(tmp_path / "empty"))), progress=False, log=_quiet)


def test_critics_first_steps_train_only_the_discriminators_then_everything(tiny_config, tmp_path):
    source = train(config_from_dict(tiny_config("source", steps=3)), progress=False, log=_quiet)
    export_run(source.checkpoint, tmp_path / "style")
    held = train(config_from_dict(tiny_config("held", steps=2, init_from=str(tmp_path / "style"), critics_first_steps=2)),
                 progress=False, log=_quiet)
    before, after = (load_file(str(c / "weights.safetensors")) for c in (source.checkpoint, held.checkpoint))
    generators = [k for k in before if k.startswith(("to_cartoon.", "to_photo."))]
    assert generators and all(torch.equal(before[k], after[k]) for k in generators)
    # Past those steps the generators learn again (resumed: the hold is by step, not by run).
    moved = train(config_from_dict(tiny_config("held", steps=3, init_from=str(tmp_path / "style"), critics_first_steps=2)),
                  resume=True, progress=False, log=_quiet)
    after = load_file(str(moved.checkpoint / "weights.safetensors"))
    assert not all(torch.equal(before[k], after[k]) for k in generators)


def test_init_from_a_different_architecture_names_the_network(tiny_config):
    source = train(config_from_dict(tiny_config("source", steps=3)), progress=False, log=_quiet)
    wider = tiny_config("wider", steps=1, init_from=str(source.checkpoint))
    wider["model"] = {**wider["model"], "ngf": 8}
    with pytest.raises(Exception, match="does not fit network 'to_cartoon'"):
        train(config_from_dict(wider), progress=False, log=_quiet)


def test_nan_guard_stops_with_a_clear_message(tiny_config, monkeypatch):
    monkeypatch.setattr(LandmarkCycleGANTraining, "train_step", lambda self, batch, step: {"cycle": torch.tensor(math.nan)})
    with pytest.raises(TrainingDiverged, match="cycle became nan at step 1"):
        train(config_from_dict(tiny_config()), progress=False, log=_quiet)


def test_wall_time_budget_stops_and_checkpoints(tiny_config):
    result = train(config_from_dict(tiny_config(steps=1000, max_wall_minutes=1e-6)), progress=False, log=_quiet)
    assert result.stopped_by == "wall time" and result.step == 1 and result.checkpoint is not None
    again = train(config_from_dict(tiny_config(steps=1000, max_wall_minutes=1e-6)), resume=True, progress=False, log=_quiet)
    assert again.stopped_by == "wall time" and again.step == 1  # resumed at its budget: no step more


def test_plain_cyclegan_needs_no_regressors(tiny_config):
    raw = tiny_config(steps=2)
    raw["model"] = {"ngf": 4, "n_blocks": 1, "ndf": 4}
    raw["loss"] = {"landmark": 0, "local_gan": 0}
    assert train(config_from_dict(raw), progress=False, log=_quiet).step == 2
    raw["loss"] = {"landmark": 1.0}
    with pytest.raises(ValueError, match="regressor_a"):
        train(config_from_dict(dict(raw, run_dir=raw["run_dir"] + "2")), progress=False, log=_quiet)


def test_export_writes_self_describing_generators(tiny_config, tmp_path):
    result = train(config_from_dict(tiny_config(steps=2)), progress=False, log=_quiet)
    files = export_run(tmp_path / "run", tmp_path / "shipped")
    assert sorted(p.name for p in files) == ["to_cartoon.safetensors", "to_photo.safetensors"]
    generator = load_network(tmp_path / "shipped" / "to_cartoon.safetensors")
    weights = load_file(str(result.checkpoint / "weights.safetensors"))
    expected = build("resnet_generator", ngf=4, n_blocks=1, upsample="resize")
    expected.load_state_dict({k[len("to_cartoon."):]: v for k, v in weights.items() if k.startswith("to_cartoon.")})
    x = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    assert torch.equal(generator(x), expected.eval()(x))


def test_a_style_json_template_makes_an_evaluation_style_of_an_unshipped_run(tiny_config, tmp_path):
    from toonbridge.style_files import read_style
    from toonbridge.train.export import style_from_run

    run = train(config_from_dict(tiny_config(steps=3)), progress=False, log=_quiet)
    folder = style_from_run(run.checkpoint, "configs/styles/anime.json", tmp_path / "style")
    info = read_style(folder)
    assert info.name == "anime" and info.directions == ["cartoonize", "realize"]
    assert Path(info.evaluation["classifier_photo"]).is_file()  # resolved against the shipped classifiers


def test_a_run_exported_as_a_shipped_style_keeps_the_networks_it_shares_with_other_styles(tiny_config, tmp_path):
    from toonbridge.style_files import read_style
    from toonbridge.train.export import style_from_run

    run = train(config_from_dict(tiny_config(steps=1)), progress=False, log=_quiet)
    info = read_style(style_from_run(run.checkpoint, "bitmoji-groups", tmp_path / "style"))  # ../bitmoji/, ../classifiers/
    assert all(info.network_path(role).is_file() for role in info.networks)
    assert info.network_path("to_cartoon").parent == tmp_path / "style"  # the run's own generators


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="unknown key.*stepz"):
        config_from_dict({"method": "landmark_cyclegan", "run_dir": "x", "steps": 1, "stepz": 2})
    with pytest.raises(ConfigError, match="steps: expected int"):
        config_from_dict({"method": "landmark_cyclegan", "run_dir": "x", "steps": "many"})
    with pytest.raises(ConfigError, match="precision"):
        config_from_dict({"method": "landmark_cyclegan", "run_dir": "x", "steps": 1, "precision": "fp8"})


def test_a_photo_sides_framing_and_damage_are_checked_when_the_config_is_read():
    """Not in a data worker after the networks are loaded: the key at fault is named before anything runs."""
    from toonbridge.train.config import UnpairedData, section

    with pytest.raises(ConfigError, match="data.tight_framing_padding must be one of"):
        section(UnpairedData, {"tight_framing_a": 0.3, "tight_framing_padding": "pink"}, "data")
    with pytest.raises(ConfigError, match="data.degrade_a is a probability"):
        section(UnpairedData, {"degrade_a": 1.5}, "data")
    assert section(UnpairedData, {"tight_framing_a": 0.3, "tight_framing_padding": "portrait"}, "data").tight_framing_a == 0.3


def test_cli_train_reports_bad_configs(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["train", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "cannot read config" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: landmark_cyclegan\nrun_dir: x\nsteps: 5\nloss: {cycel: 3}\n")
    result = runner.invoke(app, ["train", str(bad)])
    assert result.exit_code == 2 and "loss: unknown key(s) cycel" in result.stderr
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("method: stylegan9\nrun_dir: x\nsteps: 5\n")
    result = runner.invoke(app, ["train", str(unknown)])
    assert result.exit_code == 2 and "unknown training method 'stylegan9'" in result.stderr


def test_cli_resume_may_take_more_threads(tiny_config, tmp_path):
    import yaml

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(steps=6)))
    runner = CliRunner()
    first = runner.invoke(app, ["train", str(config), "--steps", "3", "--no-progress"])
    assert first.exit_code == 0, first.stderr
    resumed = runner.invoke(app, ["train", str(config), "--resume", "--threads", "2", "--no-progress"])
    assert resumed.exit_code == 0 and "stopped at step 6" in resumed.stderr
    assert runner.invoke(app, ["train", str(config), "--threads", "0"]).exit_code == 2


def test_attribute_classifier_trains_and_exports(tiny_config, tmp_path):
    raw = tiny_config("classifier", steps=3, batch_size=4)
    raw.update(method="attribute_classifier", model={"width": 4},
               data={"domain": raw["data"]["domain_a"], "label": "gender", "classes": ["female", "male"], "size": SIZE})
    raw.pop("loss")
    result = train(config_from_dict(raw), progress=False, log=_quiet)
    assert result.step == 3
    (path,) = export_run(tmp_path / "classifier", tmp_path / "shipped")
    classifier = load_network(path)
    assert classifier.classes == ["female", "male"]
    assert set(classifier.predict(torch.zeros(2, 3, SIZE, SIZE))) <= {"female", "male"}
    raw["data"]["classes"] = ["young", "old"]
    with pytest.raises(ValueError, match=r"\[gender=old,young\]' is empty"):
        train(config_from_dict(dict(raw, run_dir=str(tmp_path / "other"))), progress=False, log=_quiet)


def test_a_classifier_can_merge_label_values_and_add_domains(tiny_config, tmp_path):
    from toonbridge.train.attribute_classifier import AttributeClassifierTraining

    raw = tiny_config("merged", steps=2, batch_size=4)
    photos, cartoons = raw["data"]["domain_a"], raw["data"]["domain_b"]
    raw.update(method="attribute_classifier", model={"width": 4, "centre_crop": 0.5},
               data={"domain": photos, "label": "gender", "classes": ["photo", "cartoon"], "size": SIZE,
                     "merge": {"female": "photo", "male": "photo"},
                     "also": [{"domain": cartoons, "labels": {"gender": "cartoon"}}]})
    raw.pop("loss")
    config = config_from_dict(raw)
    dataset = AttributeClassifierTraining(config, torch.device("cpu")).dataset()
    classes = [dataset.item(sample, np.random.default_rng(0))["class"] for sample in dataset.domain]
    from toonbridge.data import load_split

    assert classes.count(0) == len(load_split(photos, "train")) and classes.count(1) == len(load_split(cartoons, "train"))
    assert train(config, progress=False, log=_quiet).step == 2
    raw["data"]["also"] = [{"domian": cartoons}]
    with pytest.raises(ConfigError, match="data.also entries take"):
        AttributeClassifierTraining(config_from_dict(raw), torch.device("cpu")).dataset()


def test_unpaired_data_adds_the_first_samples_of_more_domains(tiny_config):
    from toonbridge.data import load_split
    from toonbridge.train.config import UnpairedData, section

    raw = tiny_config()["data"]
    photos, cartoons = raw["domain_a"], raw["domain_b"]
    data = section(UnpairedData, {**raw, "also_a": [{"domain": cartoons, "limit": 5}]}, "data")
    side_a, side_b = data.domains()
    first_cartoons = [s.path for s in load_split(cartoons, "train").samples[:5]]
    assert [s.path for s in side_a.samples] == [s.path for s in load_split(photos, "train").samples] + first_cartoons
    assert len(side_b) == len(load_split(cartoons, "train"))
    with pytest.raises(ConfigError, match="data.also_a entries take"):
        section(UnpairedData, {**raw, "also_a": [{"domain": cartoons, "first": 5}]}, "data").domains()
    with pytest.raises(ConfigError, match="limit must be a whole number"):
        section(UnpairedData, {**raw, "also_a": [{"domain": cartoons, "limit": "five"}]}, "data").domains()


def test_face_feature_terms_train_and_are_logged(tiny_config, monkeypatch):
    logged = []
    original = LandmarkCycleGANTraining.train_step

    def record(self, batch, step):
        losses = original(self, batch, step)
        logged.append(losses)
        return losses

    monkeypatch.setattr(LandmarkCycleGANTraining, "train_step", record)
    raw = tiny_config(steps=2, loss={"local_start_step": 2, "face_identity": 1.0, "face_perceptual": 0.5})
    result = train(config_from_dict(raw), progress=False, log=_quiet)
    assert result.step == 2
    assert all(0 < float(losses["face_identity"]) <= 2 and float(losses["face_perceptual"]) > 0 for losses in logged)


def test_face_feature_terms_read_whole_crops_where_no_landmarks_are_known(tiny_config):
    raw = tiny_config(steps=2)
    folders = [str(Path(raw["data"][key]).parent) for key in ("domain_a", "domain_b")]  # folders: no landmarks
    raw["data"].update(domain_a=folders[0], domain_b=folders[1])
    raw["model"] = {"ngf": 4, "n_blocks": 1, "ndf": 4}
    raw["loss"] = {"landmark": 0, "local_gan": 0, "face_identity": 1.0, "face_perceptual": 1.0}
    assert train(config_from_dict(raw), progress=False, log=_quiet).step == 2  # the NaN guard would stop it


REPO_CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", REPO_CONFIGS, ids=lambda path: path.name)
def test_every_config_in_the_repository_loads_and_checks(path):
    """A recipe recorded in docs/models.md must still load, or nobody can rerun it: its chain of bases exists, its
    top-level keys are known, and its method parses every section (data, model, loss, optim) and the checks across
    them, without building networks or reading data."""
    config = load_config(path)
    assert config.run_dir
    check_config(config)


@pytest.mark.parametrize("method, where, key", [("landmark_cyclegan", "loss", "cylce"), ("fewshot_branch", "model", "base_run"),
                                                ("ugatit", "optim", "learning_rate"), ("attribute_classifier", "data", "clases")])
def test_a_misspelt_section_key_is_named_before_a_run_starts(method, where, key):
    with pytest.raises(ConfigError, match=f"{where}: unknown key.*{key}"):
        check_config(config_from_dict({"method": method, "run_dir": "unused", "steps": 1, where: {key: 1}}))


def test_checks_across_a_sections_values_run_before_a_run_starts():
    with pytest.raises(ConfigError, match="model.train must be"):
        check_config(config_from_dict({"method": "fewshot_branch", "run_dir": "unused", "steps": 1, "model": {"train": "everything"}}))
    with pytest.raises(ConfigError, match="every weight is 0"):
        zero = dict.fromkeys(("reconstruction", "surface", "texture", "structure", "content", "tv", "landmark", "face_identity"), 0)
        check_config(config_from_dict({"method": "whitebox", "run_dir": "unused", "steps": 1, "loss": zero}))


@pytest.mark.parametrize("native", [True, False])
def test_bf16_is_used_where_the_hardware_has_it_and_fp32_said_where_it_would_be_emulated(tiny_config, monkeypatch, native):
    """bf16 autocast emulated on an AVX2 CPU ran a generator's forward and backward 36x slower than fp32
    (toonbridge/precision.py): a recipe asking for bf16 trains in fp32 there, and says so once."""
    monkeypatch.setattr("toonbridge.train.method.bf16_is_native", lambda device: native)
    used = []
    monkeypatch.setattr(LandmarkCycleGANTraining, "train_step", _recording_autocast(LandmarkCycleGANTraining.train_step, used))
    notes = []
    assert train(config_from_dict(tiny_config(steps=2, precision="bf16")), progress=False, log=notes.append).step == 2
    assert used == [native, native]
    said = [note for note in notes if "no native bfloat16" in note]
    assert len(said) == (0 if native else 1) and all("training in fp32" in note for note in said)


@pytest.mark.parametrize("native", [True, False])
def test_resuming_compares_the_precision_the_steps_ran_in_not_the_one_written(tiny_config, monkeypatch, native):
    """A run trained with "precision: fp32" on an AVX2 CPU resumes there under its bf16 recipe, which trains in fp32
    on that CPU too; where bf16 is native the same resume would switch arithmetic mid-run, and is refused."""
    monkeypatch.setattr("toonbridge.train.method.bf16_is_native", lambda device: native)
    train(config_from_dict(tiny_config(steps=3, precision="fp32")), progress=False, log=_quiet)
    resumed = config_from_dict(tiny_config(steps=6, precision="bf16"))
    if native:
        with pytest.raises(ToonbridgeError, match=r"differs .*\(precision\)"):
            train(resumed, resume=True, progress=False, log=_quiet)
    else:
        assert train(resumed, resume=True, progress=False, log=_quiet).step == 6


def test_a_checkpoint_that_records_only_the_configs_precision_resumes_under_the_same_words(tiny_config, monkeypatch):
    monkeypatch.setattr("toonbridge.train.method.bf16_is_native", lambda device: False)
    train(config_from_dict(tiny_config(steps=3, precision="bf16")), progress=False, log=_quiet)  # ran in fp32
    state_path = list_checkpoints(tiny_config()["run_dir"])[-1] / "state.json"
    state = json.loads(state_path.read_text())
    del state["precision"]  # as written before the arithmetic was recorded
    state_path.write_text(json.dumps(state))
    assert train(config_from_dict(tiny_config(steps=6, precision="bf16")), resume=True, progress=False, log=_quiet).step == 6


def _recording_autocast(train_step, used: list):
    def step(self, batch, step):
        with self.autocast():
            used.append(torch.is_autocast_enabled("cpu"))
        return train_step(self, batch, step)
    return step
