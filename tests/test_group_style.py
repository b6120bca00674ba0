"""The shipped bitmoji-groups style: one multi-branch model, each face routed to its group's branch."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import toonbridge
from conftest import SAMPLE
from toonbridge.cli import app
from toonbridge.eval.attributes import GREY_HAIR_THRESHOLD, grey_hair_fraction

runner = CliRunner()


@pytest.fixture(scope="module")
def groups():
    return toonbridge.load("bitmoji-groups", backend="torch")


def test_the_group_style_is_shipped_with_three_branches_and_small_files(groups):
    assert groups.groups == ["women", "men", "elderly"] and groups.info.directions == ["cartoonize", "realize"]
    for role in ("to_cartoon", "to_photo"):
        assert groups.info.network_path(role).stat().st_size < 10 * 2**20
        assert groups.network(role).groups == groups.groups


def test_the_sample_photo_is_routed_and_each_branch_draws_differently(groups, sample_rgb):
    result = groups.translate(SAMPLE, "cartoonize")
    face = result.faces[0].aligned
    # The routing follows the routers. The CNN gender router called her male (0.64: short hair, no make-up, a space
    # suit); the descriptor router ([in-the-wild]) reads her face alone and gets it right.
    assert [f.group for f in result.faces] == groups.route([face], "cartoonize") == ["women"]
    outputs = {group: groups.translate_aligned([face], "cartoonize", group=group)[0] for group in groups.groups}
    assert np.array_equal(outputs["women"], result.faces[0].output)
    for one, other in (("women", "men"), ("women", "elderly"), ("men", "elderly")):
        assert np.abs(outputs[one].astype(int) - outputs[other]).mean() > 2, (one, other)
    # The elderly branch learned grey hair from its 20 cartoons; the women branch did not.
    assert grey_hair_fraction(outputs["elderly"]) >= GREY_HAIR_THRESHOLD > grey_hair_fraction(outputs["women"])


def test_cli_group_choice(tmp_path):
    result = runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path), "--style", "bitmoji-groups", "--group", "elderly"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "astronaut.png").is_file() and (tmp_path / "astronaut_0.png").is_file()
    bad = runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path / "bad"), "--style", "bitmoji-groups", "--group", "teens"])
    assert bad.exit_code == 2 and "unknown group 'teens'" in bad.stderr


@pytest.mark.shared_data
def test_routing_sends_held_out_men_and_elderly_to_their_branches(groups):
    from toonbridge.data import load_split
    from toonbridge.data.aligned import aligned_domain
    from toonbridge.imageio import load_image

    def routed(domain, count: int = 40) -> list[str]:
        return groups.route([load_image(s.path) for s in domain.samples[:count]], "cartoonize")

    men = routed(load_split("celeba2bitmoji/photo", "val", ["gender=male"]))
    women = routed(load_split("celeba2bitmoji/photo", "val", ["gender=female"]))
    elderly = routed(aligned_domain(load_split("utkface", "val", ["group=elderly"]), "bitmoji"))
    assert men.count("men") >= 36 and women.count("women") >= 36  # the gender classifier: 97 % on validation
    assert elderly.count("elderly") >= 26  # the elderly classifier: 76 % recall on UTKFace validation
