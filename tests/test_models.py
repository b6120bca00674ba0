"""Networks, the face-part crops of the local discriminators, landmark losses, and self-describing weight files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toonbridge.errors import ToonbridgeError, UnknownName
from toonbridge.losses import landmark_consistency_loss, lsgan_discriminator_loss, lsgan_generator_loss, normalised_mean_error
from toonbridge.models import build, load_network, names, save_network
from toonbridge.models.face_parts import PARTS, crop_parts
from toonbridge.models.landmark_regressor import to_fractions, to_pixels


def test_registry_lists_and_rejects_names():
    assert {"resnet_generator", "patch_discriminator", "landmark_regressor"} <= set(names())
    with pytest.raises(UnknownName, match="unknown network 'unet'"):
        build("unet")


@pytest.mark.parametrize("upsample", ["resize", "transpose"])
def test_generator_keeps_size_and_range(upsample):
    generator = build("resnet_generator", ngf=8, n_blocks=2, upsample=upsample)
    out = generator(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert out.shape == (2, 3, 64, 64) and out.abs().max() <= 1


def test_patch_discriminator_gives_a_score_map():
    scores = build("patch_discriminator", ndf=8)(torch.rand(1, 3, 128, 128))
    assert scores.shape == (1, 1, 14, 14)


def test_regressor_outputs_fractions_for_any_input_size():
    regressor = build("landmark_regressor", width=4).eval()
    for size in (64, 128, 256):
        assert regressor(torch.zeros(2, 3, size, size)).shape == (2, 5, 2)
    points = torch.tensor([[[0.0, 127.0]]])
    assert torch.allclose(to_pixels(to_fractions(points, 128), 128), points)


def test_part_crops_follow_the_landmarks():
    # A white square on each landmark of a black image: every crop must be white in its centre and dark at its edge.
    points = torch.tensor([[[48.0, 62], [79, 62], [63, 80], [52, 94], [75, 94]]])
    image = -torch.ones(1, 3, 128, 128)
    centres = [points[0, 0], points[0, 1], points[0, 2], (points[0, 3] + points[0, 4]) / 2]
    for x, y in centres:
        image[:, :, int(y) - 2:int(y) + 3, int(x) - 2:int(x) + 3] = 1
    crops = crop_parts(image, points, patch=32)
    assert set(crops) == set(PARTS) and crops["eyes"].shape == (2, 3, 32, 32)
    for part, crop in crops.items():
        assert (crop[:, :, 15:17, 15:17] > 0.5).all(), part
        assert (crop[:, :, 0, :] < -0.9).all(), part


def test_right_eye_crop_is_mirrored():
    points = torch.tensor([[[40.0, 60], [88, 60], [64, 80], [50, 94], [78, 94]]])
    image = -torch.ones(1, 3, 128, 128)
    image[:, :, 55:66, 88:96] = 1  # right of the right eye's centre
    right = crop_parts(image, points, patch=32)["eyes"][1]
    # The bright patch lies right of the eye in the image; mirrored, it is on the crop's left.
    assert (right[:, 16, 10:16] > 0.9).all() and (right[:, 16, 17:] < -0.9).all()


def test_crops_pass_gradients_to_the_image():
    image = torch.zeros(1, 3, 128, 128, requires_grad=True)
    points = torch.tensor([[[48.0, 62], [79, 62], [63, 80], [52, 94], [75, 94]]])
    sum(crop.sum() for crop in crop_parts(image, points).values()).backward()
    assert image.grad.abs().sum() > 0


def test_lsgan_losses():
    assert lsgan_generator_loss(torch.ones(4)) == 0
    assert lsgan_discriminator_loss(torch.ones(4), torch.zeros(4)) == 0
    assert lsgan_discriminator_loss(torch.zeros(4), torch.ones(4)) == 1


def test_landmark_losses():
    target = torch.tensor([[[40.0, 60], [80, 60], [60, 80], [45, 95], [75, 95]]])
    assert landmark_consistency_loss(target, target) == 0
    shifted = target + torch.tensor([4.0, 0])
    assert torch.allclose(normalised_mean_error(shifted, target), torch.tensor([0.1]))  # 4 px / 40 px eyes
    assert torch.allclose(landmark_consistency_loss(shifted, target), torch.tensor(2.0))


def test_weight_files_describe_themselves(tmp_path):
    network = build("resnet_generator", ngf=4, n_blocks=1)
    save_network(network, "resnet_generator", {"ngf": 4, "n_blocks": 1}, tmp_path / "g.safetensors", {"step": 7})
    loaded = load_network(tmp_path / "g.safetensors")
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(loaded(x), network.eval()(x)) and not loaded.training
    save_network(network, "resnet_generator", {"ngf": 4, "n_blocks": 1}, tmp_path / "h.safetensors", half=True)
    assert (tmp_path / "h.safetensors").stat().st_size < 0.6 * (tmp_path / "g.safetensors").stat().st_size
    assert torch.allclose(load_network(tmp_path / "h.safetensors")(x), network(x), atol=2e-2)


def test_damaged_weight_files_fail_clearly(tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(ToonbridgeError, match="cannot load network weights"):
        load_network(tmp_path / "bad.safetensors")
    with pytest.raises(ToonbridgeError, match="cannot load network weights"):
        load_network(tmp_path / "missing.safetensors")


def test_attribute_preservation_counts_per_class():
    from toonbridge.eval.attributes import attribute_preservation

    class Brightness(torch.nn.Module):  # "male" for dark images, "female" for bright ones
        classes = ["female", "male"]

        def predict(self, images):
            return ["male" if float(image.mean()) < 0 else "female" for image in images]

    dark, bright = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)
    result = attribute_preservation(["male", "male", "female", "female"], Brightness(), [dark, bright, bright, bright])
    assert result.preserved == 0.75 and result.by_class == {"female": 1.0, "male": 0.5} and result.count == 4
    with pytest.raises(ValueError):
        attribute_preservation(["male"], Brightness(), [])


def test_a_centre_crop_classifier_ignores_the_border():
    classifier = build("attribute_classifier", classes=["a", "b"], width=4, input_size=32, centre_crop=0.5).eval()
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    changed = image.clone()
    changed[..., :16, :] = -1  # everything outside the central 32×32
    changed[..., :, 48:] = 1
    assert torch.equal(classifier(image), classifier(changed))
    centre = image.clone()
    centre[..., 30:34, 30:34] = 1
    assert not torch.equal(classifier(image), classifier(centre))
    with pytest.raises(ValueError, match="centre_crop"):
        build("attribute_classifier", centre_crop=0)
