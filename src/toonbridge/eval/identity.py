"""Identity: dlib's 128-d face embeddings and the 0.6 same-person rule.

Used to ask whether a photo → cartoon → photo round trip still shows the same person. dlib's model is trained
so that two photos of one person lie closer than 0.6 (99.38 % on LFW), which is the threshold reported here. The
network runs as our PyTorch copy (:mod:`toonbridge.faces.features`), which gives dlib's own descriptors (cosine
> 0.9999 on HELEN and CelebA faces, tests/test_face_features.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toonbridge.faces import detect
from toonbridge.faces.detection import Face
from toonbridge.faces.features import face_descriptor
from toonbridge.imageio import ImageInput, load_image

SAME_PERSON_DISTANCE = 0.6


def face_embedding(image: ImageInput, face: Face | None = None) -> np.ndarray | None:
    """The 128-d embedding of ``face`` (default: the largest detected face); None if no face is found."""
    image = load_image(image)
    if face is None:
        faces = detect(image, "dlib")  # the detector every published identity figure was measured with
        if not faces:
            return None
        face = max(faces, key=lambda f: f.width)
    return face_descriptor(image, face).astype(np.float64)


@dataclass
class IdentityResult:
    mean_distance: float  # over pairs where both faces were found
    same_person_share: float  # distance < 0.6, over the same pairs
    found_share: float  # pairs where both faces were found, over all pairs
    pairs: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def identity_distances(originals: list[ImageInput], results: list[ImageInput],
                       original_embeddings: list[np.ndarray | None] | None = None) -> list[float | None]:
    """Embedding distance between each original and its result (e.g. a round trip); None where a face is missing.
    ``original_embeddings`` (:func:`face_embedding` of each original) spares the work when the originals recur."""
    if len(originals) != len(results) or not originals:
        raise ValueError("give the same (non-zero) number of originals and results")
    if original_embeddings is None:
        original_embeddings = [face_embedding(original) for original in originals]
    distances: list[float | None] = []
    for a, result in zip(original_embeddings, results):
        b = face_embedding(result)
        distances.append(None if a is None or b is None else float(np.linalg.norm(a - b)))
    return distances


def summarise_identity(distances: list[float | None]) -> IdentityResult:
    found = np.array([d for d in distances if d is not None])
    return IdentityResult(
        mean_distance=float(found.mean()) if len(found) else float("nan"),
        same_person_share=float((found < SAME_PERSON_DISTANCE).mean()) if len(found) else 0.0,
        found_share=len(found) / len(distances) if distances else 0.0,
        pairs=len(distances),
    )


def identity_preservation(originals: list[ImageInput], results: list[ImageInput]) -> IdentityResult:
    """Compare each original with its result (e.g. a round trip): embedding distance and same-person share."""
    return summarise_identity(identity_distances(originals, results))
