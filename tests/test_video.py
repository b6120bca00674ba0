"""Video: every face per frame, alignment smoothed over time, the output written whole or not at all."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import toonbridge
from conftest import REPO
from toonbridge.errors import InvalidImage
from toonbridge.faces import detect
from toonbridge.video import OneEuroFilter, cartoonize_video


def write_still_clip(path, photo: np.ndarray, frames: int, noise: float = 6.0, fps: float = 25.0):
    """A still face filmed by a noisy sensor: the same photo with fresh noise in every frame."""
    rng = np.random.default_rng(0)
    height, width = photo.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for _ in range(frames):
        noisy = np.clip(photo.astype(np.float32) + rng.normal(0, noise, photo.shape), 0, 255).astype(np.uint8)
        writer.write(np.ascontiguousarray(noisy[:, :, ::-1]))
    writer.release()


@pytest.fixture(scope="module")
def still_clip(tmp_path_factory, sample_rgb):
    path = tmp_path_factory.mktemp("video") / "still.mp4"
    write_still_clip(path, sample_rgb[::2, ::2].copy(), frames=10)
    return path


def _size(path) -> tuple[int, int]:
    capture = cv2.VideoCapture(str(path))
    size = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    capture.release()
    return size


@pytest.fixture(scope="module")
def style():
    return toonbridge.load("bitmoji")


def test_every_frame_is_cartoonized_and_smoothing_steadies_a_still_face(tmp_path, still_clip, style):
    smooth = cartoonize_video(style, still_clip, tmp_path / "smooth.mp4")
    raw = cartoonize_video(style, still_clip, tmp_path / "raw.mp4", smoothing=False)
    assert smooth.frames == raw.frames == 10 and smooth.faces == 10
    capture = cv2.VideoCapture(str(smooth.output))
    ok, frame = capture.read()
    assert ok and frame.shape[:2] == _size(still_clip)
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    assert raw.jitter_used == pytest.approx(raw.jitter_raw)  # no smoothing: the alignment follows the detections
    assert smooth.jitter_used < 0.5 * smooth.jitter_raw, (smooth.jitter_used, smooth.jitter_raw)
    assert not list(tmp_path.glob(".*partial*"))


def test_a_tracked_face_keeps_one_padding_portrait(tmp_path, sample_rgb, sample_face, style):
    """A face that fills the frame is padded with the average portrait of its gender, judged once per track and
    not per frame, so that the head around it cannot flicker between the two portraits."""
    x0, y0, x1, y1 = (int(round(v)) for v in sample_face.box)
    clip = tmp_path / "tight.mp4"
    write_still_clip(clip, np.ascontiguousarray(sample_rgb[y0:y1, x0:x1]), frames=6)
    judge = style.network("portrait_gender")
    judged = []
    original = judge.predict
    judge.predict = lambda images: judged.append(len(images)) or original(images)
    try:
        report = cartoonize_video(style, clip, tmp_path / "tight-out.mp4")
    finally:
        del judge.predict
    assert report.faces == 6
    assert judged == [1], judged


def test_a_dim_videos_faces_are_cut_out_brightened_like_a_dim_photos(tmp_path, sample_rgb, style):
    """The crops the style translates are at a normal exposure; the frame around the pasted face stays dim."""
    small = np.ascontiguousarray(sample_rgb[::2, ::2])
    clip = tmp_path / "dim.mp4"
    write_still_clip(clip, np.clip(small * 0.35, 0, 255).astype(np.uint8), frames=4, noise=3.0)
    crops = []
    original = style.translate_aligned
    face_area = (slice(44, 108), slice(36, 92))  # brows to chin of the 128-px crop (the backdrop around it is keyed white)
    style.translate_aligned = lambda images, *args, **kwargs: crops.append(images[0][face_area].mean()) or original(images, *args, **kwargs)

    def mean_crop(name: str) -> float:
        crops.clear()
        report = cartoonize_video(style, clip, tmp_path / name)
        assert report.faces == 4
        return float(np.mean(crops))

    try:
        brightened = mean_crop("bright.mp4")
        style.brighten_dim_photos = False
        kept_dim = mean_crop("dim-out.mp4")
    finally:
        style.brighten_dim_photos = True
        del style.translate_aligned
    normal = style.align_faces(small, [face.landmarks5 for face in detect(small)])[0].image[face_area].mean()
    assert abs(brightened - normal) < 20 and normal - kept_dim > 60, (brightened, kept_dim, normal)
    capture = cv2.VideoCapture(str(tmp_path / "bright.mp4"))
    ok, frame = capture.read()
    capture.release()
    assert ok and frame[-40:, -40:].mean() < 0.5 * small[-40:, -40:].mean()  # far from the face: still dim


def test_one_euro_filter_follows_a_real_move():
    smoother = OneEuroFilter()
    for _ in range(10):
        smoother(np.zeros((5, 2)), 1 / 25)
    for _ in range(25):  # one second after a 50-pixel jump the filter has (nearly) arrived
        value = smoother(np.full((5, 2), 50.0), 1 / 25)
    assert abs(value.mean() - 50) < 2


def test_an_unreadable_video_is_a_clear_error_and_writes_nothing(tmp_path, style):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(InvalidImage):
        cartoonize_video(style, fake, tmp_path / "out.mp4")
    assert not list(tmp_path.glob("*out*")) and not list(tmp_path.glob(".*"))


def test_cartoonize_command_takes_a_video(tmp_path, still_clip):
    done = subprocess.run([sys.executable, "-m", "toonbridge.cli", "cartoonize", str(still_clip), "-o", str(tmp_path / "out.mp4")],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "10 frames" in done.stderr and (tmp_path / "out.mp4").stat().st_size > 1000
    refused = subprocess.run([sys.executable, "-m", "toonbridge.cli", "realize", str(still_clip), "-o", str(tmp_path / "x.mp4")],
                             cwd=REPO, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and "cartoonized" in refused.stderr


def test_video_output_that_is_not_a_video_container_and_a_fake_video_are_one_clean_line(tmp_path, still_clip):
    """[polish] bugs: `-o out.gif` silently made a folder out.gif/; a text file named .mp4 printed ffmpeg's own line."""
    gif = subprocess.run([sys.executable, "-m", "toonbridge.cli", "cartoonize", str(still_clip), "-o", str(tmp_path / "out.gif")],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert gif.returncode == 2 and ".gif" in gif.stderr and not (tmp_path / "out.gif").exists()
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    done = subprocess.run([sys.executable, "-m", "toonbridge.cli", "cartoonize", str(fake), "-o", str(tmp_path / "out.mp4")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error:") and "not a video" in lines[0], done.stderr
    assert len(lines) == 2 and "1 of 1 input(s) failed" in lines[1]


def test_with_ffmpeg_the_result_is_h264_and_keeps_the_audio(tmp_path, still_clip, style):
    """[polish]: browsers do not play OpenCV's MPEG-4 Part 2, and the audio was dropped. In CI ffmpeg is installed
    (.ci/run); elsewhere the test is skipped without it."""
    import shutil

    if not shutil.which("ffmpeg"):
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail("CI must run the ffmpeg test, but ffmpeg is missing (apt-get install ffmpeg)")
        pytest.skip("needs ffmpeg (apt-get install ffmpeg); runs in CI")
    with_audio = tmp_path / "with_audio.mp4"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(still_clip), "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    "-c:v", "copy", "-c:a", "aac", "-shortest", str(with_audio)], check=True, timeout=120)
    report = cartoonize_video(style, with_audio, tmp_path / "out.mp4")
    assert (report.codec, report.audio) == ("h264", True)
    streams = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "csv=p=0",
                              str(tmp_path / "out.mp4")], capture_output=True, text=True, check=True).stdout.split()
    assert sorted(streams) == ["aac,audio", "h264,video"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial files left
