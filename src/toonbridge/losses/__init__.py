"""Training criteria, one file per family: adversarial, reconstruction, landmark, face features (identity, perceptual),
smoothness (total variation)."""

from toonbridge.losses.adversarial import lsgan_discriminator_loss, lsgan_generator_loss
from toonbridge.losses.face_features import face_identity_loss, face_perceptual_loss
from toonbridge.losses.landmark import landmark_consistency_loss, normalised_mean_error
from toonbridge.losses.reconstruction import l1_loss
from toonbridge.losses.smoothness import total_variation_loss

__all__ = ["face_identity_loss", "face_perceptual_loss", "l1_loss", "landmark_consistency_loss", "lsgan_discriminator_loss", "lsgan_generator_loss", "normalised_mean_error", "total_variation_loss"]
