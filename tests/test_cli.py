import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import HOSTILE, SAMPLE
from toonbridge.cli import app
from toonbridge.data import read_manifest
from toonbridge.faces import get_template

runner = CliRunner()


def test_detect_json_schema():
    result = runner.invoke(app, ["detect", str(SAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [entry["file"] for entry in data] == [str(SAMPLE)]
    (face,) = data[0]["faces"]
    assert set(face) >= {"box", "score", "landmarks68"}
    assert len(face["box"]) == 4 and face["box"][0] < face["box"][2]
    assert np.array(face["landmarks68"]).shape == (68, 2)


def test_detect_table_and_no_face_is_not_a_failure():
    result = runner.invoke(app, ["detect", str(SAMPLE), str(HOSTILE / "no_face.png")])
    assert result.exit_code == 0
    assert "astronaut" in result.stdout
    assert "no_face.png: no face found" in result.stderr


def test_align_writes_one_file_per_face(tmp_path):
    pair = tmp_path / "pair.png"
    rgb = np.asarray(Image.open(SAMPLE))
    Image.fromarray(np.concatenate([rgb, rgb[:, ::-1]], axis=1)).save(pair)
    result = runner.invoke(app, ["align", str(pair), str(SAMPLE), "-o", str(tmp_path / "out"), "--template", "anime"])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["astronaut_0.png", "pair_0.png", "pair_1.png"]
    assert Image.open(tmp_path / "out" / "pair_1.png").size == get_template("anime").size


def test_inputs_with_the_same_stem_do_not_overwrite_each_other(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "me.jpg").write_bytes(SAMPLE.read_bytes())
    result = runner.invoke(app, ["align", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["me-2_0.png", "me_0.png"]
    assert "also named 'me'" in result.stderr


def test_a_folder_without_images_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["detect", str(tmp_path)])
    assert result.exit_code == 2 and f"no image files in {tmp_path}" in result.stderr


def test_a_group_on_a_style_without_groups_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path), "--style", "bitmoji", "--group", "men"])
    assert result.exit_code == 2
    assert "has no groups" in result.stderr and "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_unknown_template_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["align", str(SAMPLE), "-o", str(tmp_path), "--template", "picasso"])
    assert result.exit_code == 2
    assert "unknown template 'picasso'" in result.stderr and "Traceback" not in result.output


def test_templates_command_lists_builtins():
    result = runner.invoke(app, ["templates"])
    assert result.exit_code == 0 and "bitmoji" in result.stdout and "anime" in result.stdout


def test_data_prepare_writes_a_manifest_lists_skips_and_resumes(tmp_path):
    raw = tmp_path / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "sub" / "astronaut.jpg").write_bytes(SAMPLE.read_bytes())
    for name in ("no_face.png", "text_named.jpg", "cmyk.jpg"):
        (raw / name).write_bytes((HOSTILE / name).read_bytes())
    out = tmp_path / "set"
    result = runner.invoke(app, ["data", "prepare", str(raw), "-o", str(out), "--template", "bitmoji"])
    assert result.exit_code == 1  # two inputs could not be used
    assert "no_face.png: no face found" in result.stderr and "text_named.jpg: not an image" in result.stderr
    samples = read_manifest(out / "manifest.csv")
    assert sorted(s.name for s in samples) == ["images/cmyk_0.png", "images/sub__astronaut_0.png"]
    assert all(Image.open(s.path).size == (128, 128) for s in samples)
    template = get_template("bitmoji")
    assert all(np.linalg.norm(s.landmarks5 - template.points5, axis=1).mean() < 5 for s in samples)
    skipped = (out / "skipped.csv").read_text()
    assert "no_face.png" in skipped and "text_named.jpg" in skipped

    # A second run finds everything done except the unreadable file, which is retried (and fails again). The
    # journal's last line was cut short by a kill: it is ignored, not fatal.
    with (out / ".prepare-journal.jsonl").open("a") as journal:
        journal.write('{"source": "late.jp')
    (raw / "late.jpg").write_bytes(SAMPLE.read_bytes())
    again = runner.invoke(app, ["data", "prepare", str(raw), "-o", str(out)])
    assert again.stderr.count("error:") == 1 and "text_named.jpg" in again.stderr
    assert len(read_manifest(out / "manifest.csv")) == 3
    third = runner.invoke(app, ["data", "prepare", str(raw), "-o", str(out)])
    assert third.stderr.count("error:") == 1 and len(read_manifest(out / "manifest.csv")) == 3
    # A journal damaged in the middle (not by a kill) is refused with a clear line, not a traceback.
    journal_path = out / ".prepare-journal.jsonl"
    journal_path.write_text("garbage\n" + journal_path.read_text())
    damaged = runner.invoke(app, ["data", "prepare", str(raw), "-o", str(out)])
    assert damaged.exit_code == 2 and "damaged journal line" in damaged.stderr and "Traceback" not in damaged.output


def test_console_script_reports_bad_input_without_traceback(tmp_path):
    """The installed entry point, as a user runs it."""
    result = subprocess.run([sys.executable, "-m", "toonbridge.cli", "align", str(HOSTILE / "truncated.jpg"),
                             str(SAMPLE), "-o", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {HOSTILE / 'truncated.jpg'}: cannot decode image")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["astronaut_0.png"]


def test_data_prepare_with_two_workers_writes_the_same_set(tmp_path):
    from toonbridge.data.prepare import prepare_folder

    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("cmyk.jpg", "rgba.png", "no_face.png", "empty.jpg"):
        (raw / name).write_bytes((HOSTILE / name).read_bytes())
    (raw / "astronaut.jpg").write_bytes(SAMPLE.read_bytes())
    serial = prepare_folder(raw, tmp_path / "one", show_progress=False)
    parallel = prepare_folder(raw, tmp_path / "two", show_progress=False, workers=2)
    assert serial.faces_written == parallel.faces_written == 3
    assert sorted(serial.skipped) == sorted(parallel.skipped) and len(serial.skipped) == 2
    assert (tmp_path / "one" / "manifest.csv").read_text() == (tmp_path / "two" / "manifest.csv").read_text()
    for sample in read_manifest(tmp_path / "one" / "manifest.csv"):
        other = tmp_path / "two" / sample.name
        assert np.array_equal(np.asarray(Image.open(sample.path)), np.asarray(Image.open(other)))


def test_an_output_that_is_a_file_or_cannot_be_made_is_one_usage_error(tmp_path):
    """[polish] bug: `-o` at an existing file gave `internal error (FileExistsError…)` once per input."""
    existing = tmp_path / "taken.png"
    existing.write_bytes(b"x")
    for command in (["cartoonize", str(SAMPLE), str(SAMPLE)], ["realize", str(SAMPLE), "--aligned"], ["align", str(SAMPLE)]):
        result = runner.invoke(app, [*command, "-o", str(existing)])
        assert result.exit_code == 2, (command, result.output)
        assert result.stderr.count("error:") == 1 and "is a file" in result.stderr and "internal error" not in result.stderr
        result = runner.invoke(app, [*command, "-o", str(existing / "sub")])  # a folder inside a file cannot be made
        assert result.exit_code == 2 and "cannot create the output folder" in result.stderr, (command, result.output)


def test_styles_is_readable_when_piped_and_at_80_columns():
    """[polish]: the rich table wrapped every description into a one-word column at 80 columns."""
    done = subprocess.run([sys.executable, "-m", "toonbridge.cli", "styles"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines and all(len(line) <= 80 for line in lines)
    assert not any(ch in done.stdout for ch in "┃│━")
    assert [line.split(":")[0] for line in lines if not line.startswith(" ")][0] == "bitmoji"  # the default first
    assert any(line.startswith("bitmoji-groups:") for line in lines) and "groups: women, men, elderly" in done.stdout


def test_cartoonize_says_what_it_wrote_and_which_group_each_face_went_to(tmp_path):
    """[polish]: the CLI printed nothing on success, and group styles never said which branch they chose."""
    result = runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{tmp_path / 'a' / 'astronaut.png'}: 1 face"
    grouped = runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path / "b"), "--style", "bitmoji-groups", "--group", "elderly"])
    assert grouped.exit_code == 0 and grouped.stdout.strip().endswith(": 1 face (elderly)"), grouped.output
    automatic = runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path / "c"), "--style", "bitmoji-groups"])
    assert automatic.exit_code == 0 and automatic.stdout.strip().split("(")[-1] in ("women)", "men)", "elderly)")
    quiet = runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path / "d"), "-q"])
    assert quiet.exit_code == 0 and quiet.stdout == "" and (tmp_path / "d" / "astronaut.png").is_file()


def test_eval_report_without_data_names_the_variable_to_set(tmp_path, monkeypatch):
    """[polish]: the error said "pass data_root", which is no CLI option."""
    monkeypatch.setenv("TOONBRIDGE_DATA", str(tmp_path / "nowhere"))
    result = runner.invoke(app, ["eval", "report", "--style", "bitmoji", "-o", str(tmp_path / "report")])
    assert result.exit_code == 2
    assert "set TOONBRIDGE_DATA to the folder that holds celeba2bitmoji/" in result.stderr and "data_root" not in result.stderr


def test_unreadable_folders_are_reported_not_skipped(tmp_path, monkeypatch):
    """[polish] bugs: an unreadable input folder was "no image files in DIR"; an unreadable subfolder was skipped
    silently. (Tests run as root, which reads any folder, so listing is refused by a patched os.scandir.)"""
    import shutil

    (tmp_path / "photos" / "locked").mkdir(parents=True)
    shutil.copy(SAMPLE, tmp_path / "photos" / "a.jpg")
    shutil.copy(SAMPLE, tmp_path / "photos" / "locked" / "b.jpg")
    (tmp_path / "empty").mkdir()
    real_scandir = os.scandir
    locked = {str(tmp_path / "photos" / "locked"), str(tmp_path / "empty")}

    def refusing_scandir(path="."):
        if str(path) in locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refusing_scandir)
    result = runner.invoke(app, ["detect", str(tmp_path / "photos"), "--json"])
    assert result.exit_code == 1
    assert f"error: {tmp_path / 'photos' / 'locked'}: cannot read this folder (Permission denied)" in result.stderr
    assert [entry["file"] for entry in json.loads(result.stdout)] == [str(tmp_path / "photos" / "a.jpg")]
    whole = runner.invoke(app, ["detect", str(tmp_path / "empty")])
    assert whole.exit_code == 1 and "cannot read this folder" in whole.stderr and "no image files" not in whole.stderr


def test_cartoonize_json_lists_each_output_and_the_group_of_each_face(tmp_path):
    """[polish]: report the group choice in --json too."""
    result = runner.invoke(app, ["cartoonize", str(SAMPLE), "-o", str(tmp_path), "--style", "bitmoji-groups", "--group", "men", "--json"])
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert record["file"] == str(SAMPLE) and record["output"] == str(tmp_path / "astronaut.png")
    (face,) = record["faces"]
    assert face["group"] == "men" and len(face["box"]) == 4 and face["output"] == str(tmp_path / "astronaut_0.png")


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_that_would_emulate_it_runs_with_a_note(monkeypatch, capsys, native):
    from toonbridge import cli

    monkeypatch.setattr("toonbridge.precision.bf16_is_native", lambda device: native)
    assert cli._precision(True) == "bf16" and cli._precision(False) == "fp32"
    assert ("no native bfloat16" in capsys.readouterr().err) == (not native)
    assert cli._precision(True, device="cuda") == "bf16" and capsys.readouterr().err == ""
