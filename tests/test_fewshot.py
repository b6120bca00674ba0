"""Few-shot group branches: selective backprop changes only the group's branch; the base group is untouched."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from test_train import _quiet, tiny_config  # noqa: F401  (the fixture and its synthetic domains)
from toonbridge.models import build, load_network
from toonbridge.train import config_from_dict, train
from toonbridge.train.export import export_run

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
