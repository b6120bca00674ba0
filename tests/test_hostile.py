"""The committed corpus of hostile files (tests/hostile/make_corpus.py): each gives a clear one-line reason, or
is read correctly; never a traceback, never a half-written output."""

import importlib.util
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import HOSTILE
from toonbridge.cli import app
from toonbridge.errors import InvalidImage
from toonbridge.faces import detect
from toonbridge.imageio import load_image

spec = importlib.util.spec_from_file_location("make_corpus", HOSTILE.parent / "make_corpus.py")
make_corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_corpus)
EXPECTED = make_corpus.EXPECTED
BAD = sorted(name for name, expected in EXPECTED.items() if isinstance(expected, str))
READABLE = sorted(name for name, expected in EXPECTED.items() if isinstance(expected, int))
runner = CliRunner()


def test_committed_corpus_matches_the_script(tmp_path):
    make_corpus.make(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in HOSTILE.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", BAD)
def test_api_raises_invalid_image_with_the_reason(name):
    with pytest.raises(InvalidImage, match=EXPECTED[name]):
        load_image(HOSTILE / name)


@pytest.mark.parametrize("name", READABLE)
def test_api_reads_odd_but_valid_files(name):
    image = load_image(HOSTILE / name)
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype.name == "uint8"
    assert len(detect(image)) == EXPECTED[name]


@pytest.mark.parametrize("name", BAD + [n for n in READABLE if EXPECTED[n] == 0])
def test_cli_align_gives_one_line_and_writes_nothing(name, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["align", str(HOSTILE / name), "-o", str(out)])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    reason = EXPECTED[name] if isinstance(EXPECTED[name], str) else "no face found"
    assert len(errors) == 1 and errors[0].startswith(f"error: {HOSTILE / name}: ") and reason in errors[0]
    assert "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_cli_batch_goes_on_past_bad_files(tmp_path):
    result = runner.invoke(app, ["align", str(HOSTILE), "-o", str(tmp_path)])
    assert result.exit_code == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(failed) == len(BAD) + 2  # plus the two readable files without a face
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(f"{name.rsplit('.', 1)[0]}_0.png" for name in READABLE if EXPECTED[name] == 1)
    assert f"{len(failed)} of {len(EXPECTED)} input(s) failed" in result.stderr


def test_json_reports_errors_per_file():
    import json

    result = runner.invoke(app, ["detect", "--json", str(HOSTILE / "empty.jpg"), str(HOSTILE / "one_pixel.png")])
    assert result.exit_code == 1
    data = {entry["file"].rsplit("/", 1)[-1]: entry for entry in json.loads(result.stdout)}
    assert "empty file" in data["empty.jpg"]["error"] and data["one_pixel.png"]["faces"] == []


def test_missing_file_is_reported_by_the_real_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "toonbridge.cli", "detect", str(tmp_path / "nope.jpg")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "nope.jpg: file not found" in result.stderr and "Traceback" not in result.stderr
