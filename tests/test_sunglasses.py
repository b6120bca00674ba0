"""[in-the-wild] Dark sunglasses: found on the aligned crop, hidden from the Bitmoji generators behind the average
portrait's eyes, drawn on the cartoon; faces without sunglasses are left alone."""

from __future__ import annotations

import json

import numpy as np
import pytest

import toonbridge
from toonbridge.errors import ToonbridgeError
from toonbridge.eval.photo_sets import with_sunglasses
from toonbridge.faces.portraits import mean_portraits
from toonbridge.faces.sunglasses import draw_sunglasses, lens_mask
from toonbridge.faces.templates import get_template


@pytest.fixture(scope="module")
def bitmoji():
    return toonbridge.load("bitmoji", backend="torch")


def _template_points(size: int) -> np.ndarray:
    return get_template("bitmoji").points_at(size)


def test_the_average_portraits_and_the_sample_wear_no_sunglasses(bitmoji, sample_rgb, sample_face):
    for portrait in mean_portraits()[1].values():
        assert lens_mask(portrait, _template_points(portrait.shape[0])) is None
    face = bitmoji.align_faces(sample_rgb, [sample_face])[0]
    assert face.lenses is None


@pytest.mark.parametrize("shape", [0, 1, 2])  # round, wayfarer, aviator
def test_drawn_on_sunglasses_are_found_over_the_eyes_only(bitmoji, sample_rgb, sample_face, shape):
    face = bitmoji.align_faces(with_sunglasses(sample_rgb, sample_face.landmarks5, shape), [sample_face])[0]
    assert face.lenses is not None
    points = _template_points(face.image.shape[0])
    eye_distance = np.linalg.norm(points[1] - points[0])
    rows, columns = np.nonzero(face.lenses)
    # Over both eyes, and no further than a lens reaches: not the hair, not the mouth.
    assert face.lenses[round(points[0, 1]), round(points[0, 0])] and face.lenses[round(points[1, 1]), round(points[1, 0])]
    assert rows.max() < points[3:5, 1].min() and rows.min() > points[:2, 1].min() - 0.6 * eye_distance
    assert columns.min() > points[0, 0] - 0.7 * eye_distance and columns.max() < points[1, 0] + 0.7 * eye_distance


def test_the_generator_sees_eyes_and_the_cartoon_gets_sunglasses(bitmoji, sample_rgb, sample_face):
    photo = with_sunglasses(sample_rgb, sample_face.landmarks5, 1)
    try:
        bitmoji.sunglasses = "keep"
        kept = bitmoji.align_faces(photo, [sample_face])[0]
        bitmoji.sunglasses = "draw"
        hidden = bitmoji.align_faces(photo, [sample_face])[0]
        drawn = bitmoji.translate(photo, "cartoonize").faces[0]
        bitmoji.sunglasses = "hide"
        eyes_only = bitmoji.translate(photo, "cartoonize").faces[0]
    finally:
        bitmoji.sunglasses = "draw"
    assert kept.lenses is None
    lens = hidden.lenses > 0
    # What the generator is shown behind the lenses is much lighter than the lenses: the portrait's eyes and skin.
    assert hidden.image[lens].mean() > kept.image[lens].mean() + 40
    assert np.array_equal(hidden.image[~_grown(lens)], kept.image[~_grown(lens)])
    # "draw" puts dark lenses on the cartoon where "hide" left its eyes.
    assert drawn.output[lens].mean() < eyes_only.output[lens].mean() - 40
    assert np.array_equal(drawn.output[~_grown(lens, 8)], eyes_only.output[~_grown(lens, 8)])


def test_an_aligned_crop_behind_sunglasses_is_treated_as_a_detected_face(bitmoji, sample_rgb, sample_face):
    """``cartoonize --aligned`` (``translate(aligned=True)``) on a crop as ``toonbridge align`` writes it."""
    photo = with_sunglasses(sample_rgb, sample_face.landmarks5, 2)
    faces = {}
    try:
        for mode in ("keep", "hide", "draw"):
            bitmoji.sunglasses = mode
            if mode == "keep":
                crop = bitmoji.align_faces(photo, [sample_face])[0].image
            faces[mode] = bitmoji.translate(crop, "cartoonize", aligned=True).faces[0]
    finally:
        bitmoji.sunglasses = "draw"
    lens = lens_mask(crop, _template_points(crop.shape[0])) > 0
    assert faces["keep"].note is None and all("dark sunglasses" in faces[mode].note for mode in ("hide", "draw"))
    assert faces["hide"].output[lens].mean() > faces["keep"].output[lens].mean() + 30  # eyes, not dark lenses
    assert faces["draw"].output[lens].mean() < faces["hide"].output[lens].mean() - 40
    assert np.array_equal(faces["draw"].output[~_grown(lens, 8)], faces["hide"].output[~_grown(lens, 8)])


def _grown(mask: np.ndarray, by: int = 6) -> np.ndarray:
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * by + 1, 2 * by + 1), np.uint8)) > 0


def test_drawn_sunglasses_cover_the_lenses_at_any_output_size():
    points = _template_points(128)
    lenses = np.zeros((128, 128), np.float32)
    for x, y in points[:2]:
        lenses[round(y) - 5:round(y) + 6, round(x) - 8:round(x) + 9] = 1
    cartoon = np.full((256, 256, 3), 230, np.uint8)
    drawn = draw_sunglasses(cartoon, lenses, points)
    inside = np.kron(lenses, np.ones((2, 2))) > 0
    bridge_y = round(2 * (points[:2, 1].mean() - 0.1 * np.linalg.norm(points[1] - points[0])))
    assert drawn[bridge_y, 128].max() < 100  # the bridge between the lenses
    untouched = ~_grown(inside, 4)
    untouched[bridge_y - 4:bridge_y + 5] = False
    assert drawn[inside].mean() < 90 and drawn[untouched].min() == 230


def test_sunglasses_need_the_portrait_padding(tmp_path):
    from toonbridge.style_files import read_style

    (tmp_path / "style.json").write_text(json.dumps({"name": "x", "template": "bitmoji", "size": 128, "networks": {}, "sunglasses": True}))
    with pytest.raises(ToonbridgeError, match="sunglasses needs padding portrait, not blur"):
        read_style(tmp_path)


@pytest.mark.shared_data
def test_faces_without_sunglasses_are_not_given_any_and_drawn_on_ones_are_found(shared_data):
    """300 CelebA and 200 HELEN test faces as taken (their labelled points): at most one false find (2026-12-07:
    one, a backlit man whose eyes lie in deep shadow; 2 among 2,398 CelebA, HELEN and UTKFace faces). The first 60
    CelebA faces with sunglasses drawn on: found on at least 85 % (with detected points 77 % of 150)."""
    import csv

    from toonbridge.data import load_split
    from toonbridge.faces.align import align_face
    from toonbridge.faces.landmarks import five_from_68
    from toonbridge.imageio import load_image

    template = get_template("bitmoji")

    def found(photo, points) -> bool:
        face = align_face(photo, points, template, padding="white")
        return lens_mask(face.image, _template_points(face.image.shape[0])) is not None

    celeba = load_split("celeba2bitmoji/photo", "val").samples[:300]
    helen = [row for row in csv.reader(open(shared_data / "helen_test" / "landmarks68.csv")) if row[0] != "file"][:200]
    false = [s.name for s in celeba if found(load_image(s.path), s.landmarks5)]
    false += [row[0] for row in helen
              if found(load_image(shared_data / "helen_test" / row[0]), five_from_68(np.array(row[2:], float).reshape(68, 2)))]
    assert len(false) <= 1, false
    worn = [found(with_sunglasses(load_image(s.path), s.landmarks5, i), s.landmarks5) for i, s in enumerate(celeba[:60])]
    assert np.mean(worn) >= 0.85, np.mean(worn)


def test_the_command_line_draws_hides_or_keeps_sunglasses(tmp_path, sample_rgb, sample_face):
    from typer.testing import CliRunner

    from toonbridge.cli import app
    from toonbridge.imageio import load_image, save_image

    photo = save_image(with_sunglasses(sample_rgb, sample_face.landmarks5, 1), tmp_path / "shades.png")
    faces = {}
    for mode in ("draw", "hide", "keep"):
        result = CliRunner().invoke(app, ["cartoonize", str(photo), "-o", str(tmp_path / mode), "--json", "--sunglasses", mode])
        assert result.exit_code == 0, result.output
        face = json.loads(result.stdout)[0]["faces"][0]
        faces[mode] = load_image(face["output"])
        assert ("dark sunglasses" in (face["note"] or "")) == (mode != "keep"), face["note"]
    assert not np.array_equal(faces["draw"], faces["hide"]) and not np.array_equal(faces["hide"], faces["keep"])
    result = CliRunner().invoke(app, ["cartoonize", str(photo), "-o", str(tmp_path / "bad"), "--sunglasses", "paint"])
    assert result.exit_code == 2 and "--sunglasses must be one of draw, hide, keep" in result.output
    result = CliRunner().invoke(app, ["cartoonize", str(photo), "-o", str(tmp_path / "anime"), "--style", "anime", "--sunglasses", "hide"])
    assert result.exit_code == 0 and "style 'anime' does not look for sunglasses" in result.stderr
