"""The style evaluation and its HTML report; aligning a domain of unaligned photos on demand."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import HOSTILE, REPO, SAMPLE
from toonbridge.data import Domain, Sample
from toonbridge.data.aligned import aligned_domain
from toonbridge.eval.identity import face_embedding, identity_distances, summarise_identity
from toonbridge.faces import get_template
from toonbridge.imageio import load_image


def test_aligned_domain_keeps_labels_and_order_and_drops_faceless_photos(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SAMPLE, raw / "b.jpg")
    shutil.copy(HOSTILE / "no_face.png", raw / "a.png")
    shutil.copy(SAMPLE, raw / "c.jpg")
    samples = [Sample(raw / name, name, {"who": name[0]}) for name in ("c.jpg", "a.png", "b.jpg")]
    aligned = aligned_domain(Domain(samples, "mine"), "bitmoji", cache_dir=tmp_path / "cache", show_progress=False)
    assert [s.labels["who"] for s in aligned] == ["c", "b"]
    assert aligned.template == "bitmoji" and aligned.image_size == 128
    image = load_image(aligned.samples[0].path)
    assert image.shape == (128, 128, 3)
    # The stored landmarks are the template's points, give or take the fit's residual.
    assert np.abs(aligned.samples[0].landmarks5 - np.asarray(get_template("bitmoji").points5)).max() < 4
    assert "a.png" in (tmp_path / "cache" / "skipped.csv").read_text()
    # Cached: a second call aligns nothing again (the images keep their modification time).
    stamp = aligned.samples[0].path.stat().st_mtime_ns
    again = aligned_domain(Domain(samples, "mine"), "bitmoji", cache_dir=tmp_path / "cache", show_progress=False)
    assert again.samples[0].path.stat().st_mtime_ns == stamp


def test_identity_distances_mark_missing_faces(sample_rgb):
    blank = np.full_like(sample_rgb, 128)
    distances = identity_distances([SAMPLE, SAMPLE], [sample_rgb, blank])
    assert distances[0] < 1e-6 and distances[1] is None
    known = [face_embedding(SAMPLE), None]  # the originals' embeddings given: the second original "has no face"
    assert identity_distances([SAMPLE, SAMPLE], [sample_rgb, sample_rgb], known) == [distances[0], None]
    summary = summarise_identity(distances)
    assert summary.found_share == 0.5 and summary.same_person_share == 1.0


@pytest.mark.shared_data
def test_eval_report_measures_the_shipped_style_both_ways_and_per_group(tmp_path):
    out = tmp_path / "report"
    command = [sys.executable, "-m", "toonbridge.cli", "eval", "report", "-o", str(out), "--style", "bitmoji",
               "--limit", "16", "--reference", "40", "--identity", "4", "--group-limit", "2"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["directions"]) == {"cartoonize", "realize"}
    for name, result in metrics["directions"].items():
        assert result["n_inputs"] == 16 and result["n_reference"] == 40
        assert 0 < result["kid"] < 25, name  # photos vs Bitmoji score ~28; a working model is well below
        assert 0 < result["nme"] < 0.1, name  # ~0.05 for the shipped model
        assert 0.5 <= result["attribute_kept"] <= 1
        assert len(metrics["faces"][name]) == 16
    assert metrics["directions"]["cartoonize"]["identity_found"] > 0
    labels = [group["label"] for group in metrics["groups"]]
    assert labels[:2] == ["kid female", "kid male"] and len(labels) == 10
    page = (out / "report.html").read_text()
    assert page.count("<img") >= 16 + 16 + 20 and "worst 8 by landmark error" in page and "elderly male" in page


def test_eval_report_rejects_a_style_without_evaluation_data(tmp_path):
    style = tmp_path / "style"
    shutil.copytree(REPO / "src" / "toonbridge" / "weights" / "bitmoji", style)
    for shared in ("classifiers", "upscaler"):  # its ../classifiers and ../upscaler
        shutil.copytree(REPO / "src" / "toonbridge" / "weights" / shared, tmp_path / shared)
    raw = json.loads((style / "style.json").read_text())
    del raw["evaluation"]
    (style / "style.json").write_text(json.dumps(raw))
    done = subprocess.run([sys.executable, "-m", "toonbridge.cli", "eval", "report", "-o", str(tmp_path / "out"),
                           "--style", str(style)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "names no evaluation data" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
