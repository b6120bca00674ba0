"""dlib face embeddings: one person stays close to themselves and far from a different image."""

import numpy as np

from conftest import HOSTILE, SAMPLE
from toonbridge.eval.identity import SAME_PERSON_DISTANCE, face_embedding, identity_preservation
from toonbridge.imageio import load_image


def test_embedding_of_the_same_face_under_small_changes_stays_close(sample_rgb):
    original = face_embedding(sample_rgb)
    assert original.shape == (128,) and np.isfinite(original).all()
    darker = (sample_rgb * 0.8).astype(np.uint8)
    mirrored = np.ascontiguousarray(sample_rgb[:, ::-1])
    for changed in (darker, mirrored):
        assert np.linalg.norm(face_embedding(changed) - original) < SAME_PERSON_DISTANCE


def test_identity_preservation_counts_missing_faces(sample_rgb):
    scrambled = np.ascontiguousarray(np.random.default_rng(0).permutation(sample_rgb.reshape(-1, 3)).reshape(sample_rgb.shape))
    result = identity_preservation([SAMPLE, SAMPLE], [sample_rgb, scrambled])
    assert result.pairs == 2 and result.found_share == 0.5
    assert result.same_person_share == 1.0 and result.mean_distance < 1e-6
    assert face_embedding(load_image(HOSTILE / "no_face.png")) is None
