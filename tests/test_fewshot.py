"""Few-shot group branches: selective backprop changes only the group's branch; the base group is untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import toonbridge
from test_train import _quiet, tiny_config  # noqa: F401  (the fixture and its synthetic domains)
from toonbridge.errors import ToonbridgeError, UnknownName
from toonbridge.models import build, load_network, save_network
from toonbridge.train import config_from_dict, train
from toonbridge.train.export import export_run, merge_branch_runs

GROUPS = ["women", "men", "elderly"]


def test_branched_generator_reproduces_the_plain_one_in_every_branch():
    plain = build("resnet_generator", ngf=4, n_blocks=2).eval()
    branched = build("branched_resnet_generator", groups=GROUPS, ngf=4, n_blocks=2).eval()
    branched.load_plain(plain.state_dict())
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    for group in GROUPS:
        assert torch.equal(branched.select(group)(x), plain(x))
    with pytest.raises(ValueError, match="unknown group"):
        branched.select("teens")


def _fewshot(tiny_config, run: str, base: str, train_what: str) -> dict:  # noqa: F811
    raw = tiny_config(run, steps=3)
    raw["method"] = "fewshot_branch"
    raw["model"].update(groups=GROUPS, group="men", base=base, train=train_what)
    return raw


@pytest.fixture
def base_run(tiny_config):  # noqa: F811
    raw = tiny_config("base", steps=2)
    train(config_from_dict(raw), progress=False, log=_quiet)
    return raw["run_dir"]


@pytest.mark.parametrize("train_what", ["branch", "all"])
def test_selective_backprop_trains_only_the_groups_branch(tiny_config, base_run, train_what, tmp_path):  # noqa: F811
    result = train(config_from_dict(_fewshot(tiny_config, f"men-{train_what}", base_run, train_what)), progress=False, log=_quiet)
    assert result.step == 3
    base = load_file(str(sorted((tmp_path / "base" / "checkpoints").iterdir())[-1] / "weights.safetensors"))
    weights = load_file(str(result.checkpoint / "weights.safetensors"))

    def same(key_here: str, key_base: str) -> bool:
        return torch.equal(weights[key_here], base[key_base])

    head_conv, body_conv = "to_cartoon.heads.{}.1.weight", "to_cartoon.body.0.weight"  # body.0: the first downsampling
    assert same(head_conv.format("women"), "to_cartoon.layers.1.weight")  # the base group's branch never moves
    assert same(head_conv.format("elderly"), "to_cartoon.layers.1.weight")
    assert not same(head_conv.format("men"), "to_cartoon.layers.1.weight")
    assert same(body_conv, "to_cartoon.layers.4.weight") == (train_what == "branch")

    (tmp_path / "shipped").mkdir(exist_ok=True)
    export_run(result.checkpoint, tmp_path / "shipped" / train_what)
    generator = load_network(tmp_path / "shipped" / train_what / "to_cartoon.safetensors")
    assert generator.active == "men" and generator.groups == GROUPS


def test_a_group_outside_the_list_is_refused(tiny_config, base_run):  # noqa: F811
    raw = _fewshot(tiny_config, "bad", base_run, "branch")
    raw["model"]["group"] = "teens"
    with pytest.raises(ValueError, match="unknown group 'teens'"):
        train(config_from_dict(raw), progress=False, log=_quiet)


@pytest.fixture
def branch_runs(tiny_config, base_run):  # noqa: F811
    runs = {}
    for group, train_what in (("men", "branch"), ("elderly", "branch"), ("men", "all")):
        raw = _fewshot(tiny_config, f"{group}-{train_what}", base_run, train_what)
        raw["model"]["group"] = group
        raw["seed"] = len(runs)  # same data: a different seed so the two branches learn different weights
        runs[group, train_what] = train(config_from_dict(raw), progress=False, log=_quiet).checkpoint
    return runs


def test_branches_merge_into_one_generator_and_whole_model_finetunes_do_not(branch_runs, base_run, tmp_path):
    written = merge_branch_runs([branch_runs["men", "branch"], branch_runs["elderly", "branch"]], tmp_path / "merged")
    assert sorted(path.name for path in written) == ["to_cartoon.safetensors", "to_photo.safetensors"]
    merged = load_network(tmp_path / "merged" / "to_cartoon.safetensors")
    base = load_file(str(sorted((tmp_path / "base" / "checkpoints").iterdir())[-1] / "weights.safetensors"))
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    for group, run in (("men", branch_runs["men", "branch"]), ("elderly", branch_runs["elderly", "branch"])):
        trained = load_file(str(run / "weights.safetensors"))
        assert torch.equal(merged.heads[group][1].weight, trained[f"to_cartoon.heads.{group}.1.weight"])
    assert torch.equal(merged.heads["women"][1].weight, base["to_cartoon.layers.1.weight"])
    assert merged.active == "women"
    assert not torch.equal(merged.branch("men")(x), merged.branch("elderly")(x))

    with pytest.raises(ToonbridgeError, match="only branch runs can be merged"):
        merge_branch_runs([branch_runs["elderly", "branch"], branch_runs["men", "all"]], tmp_path / "bad")
    with pytest.raises(ToonbridgeError, match="same group"):
        merge_branch_runs([branch_runs["men", "branch"], branch_runs["men", "branch"]], tmp_path / "bad")


def _biased_classifier(path, classes: list[str], winner: str) -> None:
    """A classifier that always answers ``winner``, so that routing is predictable."""
    network = build("attribute_classifier", classes=classes, width=4, input_size=32)
    with torch.no_grad():
        network.head[1].weight.zero_()
        network.head[1].bias.copy_(torch.tensor([10.0 if c == winner else 0.0 for c in classes]))
    save_network(network, "attribute_classifier", {"classes": classes, "width": 4, "input_size": 32}, path)


def _group_style(folder, merged, gender: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem in ("to_cartoon", "to_photo"):
        shutil.copy(merged / f"{stem}.safetensors", folder)
    _biased_classifier(folder / "age.safetensors", ["young", "elderly"], "young")
    _biased_classifier(folder / "gender.safetensors", ["female", "male"], gender)
    style = {"name": "tiny-groups", "template": "bitmoji", "size": 32,
             "networks": {"to_cartoon": "to_cartoon.safetensors", "to_photo": "to_photo.safetensors",
                          "age": "age.safetensors", "gender": "gender.safetensors"},
             "groups": {"names": GROUPS, "default": "women",
                        "route": {"cartoonize": [{"network": "age", "class": "elderly", "group": "elderly"},
                                                 {"network": "gender", "class": "male", "group": "men"}]}}}
    (folder / "style.json").write_text(json.dumps(style))
    return folder


def test_a_group_style_routes_each_face_to_its_branch(branch_runs, tmp_path):
    merge_branch_runs([branch_runs["men", "branch"], branch_runs["elderly", "branch"]], tmp_path / "merged")
    style = toonbridge.load(_group_style(tmp_path / "male", tmp_path / "merged", "male"), backend="torch")
    faces = [np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8) for i in range(3)]
    assert style.groups == GROUPS
    assert style.route(faces, "cartoonize") == ["men"] * 3  # not elderly (rule 1), male (rule 2)
    assert style.route(faces, "cartoonize", "elderly") == ["elderly"] * 3
    assert style.route(faces, "realize") == ["women"] * 3  # no rule for this direction: the default
    female = toonbridge.load(_group_style(tmp_path / "female", tmp_path / "merged", "female"), backend="torch")
    assert female.route(faces, "cartoonize", "auto") == ["women"] * 3

    result = style.translate(faces[0], "cartoonize", aligned=True)
    assert result.faces[0].group == "men"
    assert np.array_equal(result.image, style.translate_aligned([faces[0]], "cartoonize", group="men")[0])
    assert not np.array_equal(result.image, style.translate_aligned([faces[0]], "cartoonize", group="elderly")[0])
    with pytest.raises(UnknownName, match="unknown group 'teens'.*known: auto, women, men, elderly"):
        style.route(faces, "cartoonize", "teens")
    with pytest.raises(ToonbridgeError, match="has no groups"):
        toonbridge.load("bitmoji", backend="torch").route(faces, "cartoonize", "men")


def test_each_branch_exports_to_its_own_onnx_file(branch_runs, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("TOONBRIDGE_CACHE", str(tmp_path / "cache"))
    merge_branch_runs([branch_runs["men", "branch"], branch_runs["elderly", "branch"]], tmp_path / "merged")
    folder = _group_style(tmp_path / "style", tmp_path / "merged", "male")
    on_torch, on_onnx = toonbridge.load(folder, backend="torch"), toonbridge.load(folder, backend="onnx")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    for group in GROUPS:
        expected = on_torch.generator("cartoonize", group)(x).detach()
        with torch.no_grad():
            assert float((on_onnx.generator("cartoonize", group)(x) - expected).abs().max()) < 1e-4
    assert len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 3
