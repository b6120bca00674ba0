"""Cartoonize every face in every frame of a video, with the alignment smoothed over time so faces do not jitter.

Per frame the faces are detected, matched to the previous frames' faces (nearest centre), and each face's 5 points
go through a One-Euro filter (Casiez et al. 2012): heavy smoothing while the face is still, little lag when it
moves. The smoothed points give the alignment, so the translated face sits still on a still head. A dim video is
brightened before its faces are found and cut out, as a dim photo is, by a gain smoothed over time
(:class:`toonbridge.ops.exposure.SteadyExposure`); the cartoons are pasted onto the frames as they were. Frames are
decoded and written with OpenCV (``mp4v`` for .mp4). When ``ffmpeg`` is on the PATH, an .mp4/.m4v/.mov/.mkv
result is then re-encoded as H.264 (what browsers play; OpenCV's MPEG-4 Part 2 they do not) with the input's audio
track kept; without ffmpeg the video stays ``mp4v`` and has no audio. The output is written to a temporary file
and renamed when complete.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from toonbridge.errors import InvalidImage, ToonbridgeError
from toonbridge.faces import detect, paste_back
from toonbridge.faces.portraits import Portrait
from toonbridge.ops.exposure import STEADY_SECONDS, SteadyExposure, brighten

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm"}
FOURCC = {".avi": "MJPG", ".webm": "VP80"}  # everything else: mp4v


def is_video_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def has_video_header(path: Path) -> bool:
    """Whether the file starts like a container we read (MP4/MOV/M4V, AVI, Matroska/WebM). Checked before OpenCV
    opens it, because its FFmpeg backend prints its own complaint to stderr for anything else."""
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    quicktime = head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
    return quicktime or (head[:4] == b"RIFF" and head[8:12] == b"AVI ") or head[:4] == b"\x1a\x45\xdf\xa3"


class OneEuroFilter:
    """Adaptive low-pass filter for noisy positions: the cut-off rises with speed (``beta``)."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, derivative_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.derivative_cutoff = min_cutoff, beta, derivative_cutoff
        self.value: np.ndarray | None = None
        self.derivative: np.ndarray | None = None

    @staticmethod
    def _alpha(cutoff, dt: float):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, value: np.ndarray, dt: float) -> np.ndarray:
        if self.value is None:
            self.value, self.derivative = value.copy(), np.zeros_like(value)
            return value
        derivative = (value - self.value) / dt
        a = self._alpha(self.derivative_cutoff, dt)
        self.derivative = a * derivative + (1 - a) * self.derivative
        cutoff = self.min_cutoff + self.beta * np.abs(self.derivative)
        a = self._alpha(cutoff, dt)
        self.value = a * value + (1 - a) * self.value
        return self.value


@dataclass
class _Track:
    points: np.ndarray  # last raw 5 points
    smoother: OneEuroFilter
    last_frame: int
    raw_motion: list[float] = field(default_factory=list)  # frame-to-frame mean point motion / inter-ocular distance
    smooth_motion: list[float] = field(default_factory=list)
    smoothed: np.ndarray | None = None
    group: str | None = None  # a group style's branch, chosen once per track so that it cannot flicker
    portrait: Portrait | None = None  # the portrait that pads a cut-off face (gender, hair), chosen once per track likewise


@dataclass
class VideoReport:
    frames: int
    faces: int  # face-frames translated
    seconds: float
    output: Path
    jitter_raw: float | None  # mean frame-to-frame landmark motion of the detections, in inter-ocular distances
    jitter_used: float | None  # the same for the points the alignment used (smoothed unless smoothing was off)
    codec: str = "mp4v"  # "h264" once ffmpeg re-encoded it
    audio: bool = False  # the input's audio track was carried over

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


class FaceTracker:
    """Matches each frame's faces to tracks by nearest eye centre and smooths their points."""

    def __init__(self, fps: float, smoothing: bool, forget_after: int = 5):
        self.dt, self.smoothing, self.forget_after = 1.0 / fps, smoothing, forget_after
        self.tracks: list[_Track] = []
        self.finished: list[_Track] = []
        self.current: list[_Track] = []  # the track of each detection of the last update

    def update(self, frame: int, detections: list[np.ndarray]) -> list[np.ndarray]:
        """The points to align each detection with (same order)."""
        used, result = set(), []
        self.current = []
        for points in detections:
            track = self._nearest(points, used)
            if track is None:
                track = _Track(points, OneEuroFilter(), frame)
                self.tracks.append(track)
            else:
                scale = _eye_distance(points)
                track.raw_motion.append(float(np.linalg.norm(points - track.points, axis=1).mean() / scale))
            used.add(id(track))
            self.current.append(track)
            track.points, track.last_frame = points, frame
            smoothed = track.smoother(points, self.dt) if self.smoothing else points
            if track.smoothed is not None:
                track.smooth_motion.append(float(np.linalg.norm(smoothed - track.smoothed, axis=1).mean() / _eye_distance(points)))
            track.smoothed = smoothed.copy()
            result.append(smoothed)
        self.finished += [t for t in self.tracks if frame - t.last_frame > self.forget_after]
        self.tracks = [t for t in self.tracks if frame - t.last_frame <= self.forget_after]
        return result

    def _nearest(self, points: np.ndarray, used: set) -> _Track | None:
        centre = points[:2].mean(axis=0)
        best, best_distance = None, None
        for track in self.tracks:
            distance = np.linalg.norm(track.points[:2].mean(axis=0) - centre)
            # A face moves less than its eye distance between two frames; anything farther is another face.
            if id(track) not in used and distance < _eye_distance(track.points) and (best is None or distance < best_distance):
                best, best_distance = track, distance
        return best

    def jitter(self) -> tuple[float | None, float | None]:
        tracks = self.tracks + self.finished
        raw = [m for t in tracks for m in t.raw_motion]
        used = [m for t in tracks for m in t.smooth_motion]
        return (float(np.mean(raw)) if raw else None, float(np.mean(used)) if used else None)


def cartoonize_video(style, source: str | Path, target: str | Path, *, smoothing: bool = True, group: str | None = None,
                     on_frame: Callable[[int, int], None] | None = None, steady_light: bool = True) -> VideoReport:
    """Write ``target``: ``source`` with every face cartoonized by ``style`` (a :class:`toonbridge.api.Style`).
    With a group style, each tracked face keeps the branch it was routed to (or ``group``) on its first frame.
    ``steady_light=False`` brightens each dim frame by its own gain instead of the smoothed one (it flickers)."""
    import time

    source, target = Path(source), Path(target)
    if not source.is_file():
        raise InvalidImage(f"cannot read video {source}: no such file")
    if not has_video_header(source):
        raise InvalidImage(f"{source} is not a video (no MP4/MOV, AVI, MKV or WebM header)")
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise InvalidImage(f"cannot read video {source}")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.partial{target.suffix}")
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*FOURCC.get(target.suffix.lower(), "mp4v")), fps, (width, height))
    if not writer.isOpened():
        raise ToonbridgeError(f"cannot write video {target} (unsupported container {target.suffix!r}?)")
    tracker = FaceTracker(fps, smoothing)
    exposure = SteadyExposure(fps, STEADY_SECONDS if steady_light else 0)
    frames = faces = 0
    started = time.perf_counter()
    complete = False
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            rgb = np.ascontiguousarray(bgr[:, :, ::-1])
            gain = exposure(rgb) if style.brighten_dim_photos else 1.0
            seen = brighten(rgb, gain)
            points = tracker.update(frames, [face.landmarks5 for face in detect(seen)])
            aligned = style.align_faces(seen, points, [track.portrait for track in tracker.current], brightened=gain != 1.0)
            for face, track in zip(aligned, tracker.current):
                track.portrait = track.portrait or face.portrait
            if aligned:
                rgb = paste_back(rgb, list(zip(aligned, _translate_tracked(style, aligned, tracker.current, group))),
                                 key_light_background=style.keys_background("cartoonize"))
            writer.write(np.ascontiguousarray(rgb[:, :, ::-1]))
            frames, faces = frames + 1, faces + len(aligned)
            if on_frame is not None:
                on_frame(frames, total)
        complete = frames > 0
    finally:
        capture.release()
        writer.release()
        if not complete:  # an error, an interrupt or an empty video: leave nothing half-written
            partial.unlink(missing_ok=True)
    if frames == 0:
        raise InvalidImage(f"{source}: no frames could be decoded")
    codec, audio = _finish_with_ffmpeg(partial, source, target)
    partial.replace(target)
    jitter_raw, jitter_used = tracker.jitter()
    return VideoReport(frames, faces, time.perf_counter() - started, target, jitter_raw, jitter_used, codec, audio)


H264_CONTAINERS = {".mp4", ".m4v", ".mov", ".mkv"}


def _finish_with_ffmpeg(partial: Path, source: Path, target: Path) -> tuple[str, bool]:
    """Re-encode ``partial`` in place as H.264 with ``source``'s audio, when ffmpeg is there and the container takes
    H.264; returns (codec, whether audio was kept). A failed encode leaves OpenCV's video as it was."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None or target.suffix.lower() not in H264_CONTAINERS:
        return FOURCC.get(target.suffix.lower(), "mp4v").lower(), False
    audio = _has_audio(source)
    encoded = partial.with_name(f".{target.stem}.encoding{target.suffix}")
    command = [ffmpeg, "-y", "-loglevel", "error", "-i", str(partial), "-i", str(source), "-map", "0:v:0",
               *(["-map", "1:a:0", "-c:a", "aac", "-b:a", "160k", "-shortest"] if audio else []),
               "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
               *(["-movflags", "+faststart"] if target.suffix.lower() != ".mkv" else []), str(encoded)]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=3600)
    except (OSError, subprocess.SubprocessError):
        encoded.unlink(missing_ok=True)
        return "mp4v", False
    encoded.replace(partial)
    return "h264", audio


def _has_audio(video: Path) -> bool:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return False
    try:
        found = subprocess.run([ffprobe, "-v", "error", "-select_streams", "a", "-show_entries", "stream=index", "-of", "csv=p=0",
                                str(video)], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(found.stdout.strip())


def _translate_tracked(style, aligned: list, tracks: list[_Track], group: str | None) -> list[np.ndarray]:
    new = [i for i, track in enumerate(tracks) if track.group is None]
    for i, chosen in zip(new, style.route([aligned[i].image for i in new], "cartoonize", group)):
        tracks[i].group = chosen
    return [style.dress(face, style.translate_aligned([face.image], "cartoonize", group=track.group)[0])
            for face, track in zip(aligned, tracks)]


def _eye_distance(points: np.ndarray) -> float:
    return max(float(np.linalg.norm(points[0] - points[1])), 1e-6)
