"""The U-GAT-IT / photo2cartoon family: the networks, and its training method on a tiny synthetic dataset."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from test_train import SIZE, _quiet, tiny_config  # noqa: F401  (the fixture and its synthetic domains)
from toonbridge.models import build, load_network
from toonbridge.models.ugatit import AdaLIN
from toonbridge.train import config_from_dict, train
from toonbridge.train.export import export_run

TINY_MODEL = {"ngf": 4, "n_blocks": 1, "n_hourglass": 1, "ndf": 4, "global_layers": 4, "local_layers": 3}


def _ugatit(make_config, run: str, **overrides) -> dict:
    raw = make_config(run, **overrides)
    raw.update(method="ugatit", model=dict(TINY_MODEL))
    raw.pop("loss")
    return raw


@pytest.mark.parametrize("options", [{}, {"adalin": "plain", "n_hourglass": 0, "light": False, "upsample": "transpose"}])
def test_generator_gives_an_image_a_cam_logit_and_a_heatmap(options):
    generator = build("ugatit_generator", ngf=4, n_blocks=2, image_size=32, **options)
    image, cam_logit, heatmap = generator.forward_with_cam(torch.rand(2, 3, 32, 32) * 2 - 1)
    assert image.shape == (2, 3, 32, 32) and image.abs().max() <= 1
    assert cam_logit.shape == (2, 2) and heatmap.shape == (2, 1, 8, 8)
    assert torch.equal(generator(torch.zeros(1, 3, 32, 32)), generator.forward_with_cam(torch.zeros(1, 3, 32, 32))[0])


def test_discriminator_has_a_patch_map_and_a_cam_logit():
    patches, cam_logit = build("ugatit_discriminator", ndf=4, n_layers=5)(torch.rand(2, 3, 64, 64))
    assert patches.shape == (2, 1, 6, 6) and cam_logit.shape == (2, 2)


def test_rho_is_clipped_into_0_1():
    generator = build("ugatit_generator", ngf=4, n_blocks=1, n_hourglass=0)
    for module in generator.modules():
        if isinstance(module, AdaLIN):
            module.rho.data.fill_(1.7)
    generator.clip_rho()
    assert all(float(m.rho.detach().max()) == 1.0 for m in generator.modules() if isinstance(m, AdaLIN))


def test_options_are_checked():
    with pytest.raises(ValueError, match="adalin"):
        build("ugatit_generator", adalin="hard")


def test_ugatit_trains_resumes_exactly_and_exports(tiny_config, tmp_path):  # noqa: F811
    straight = train(config_from_dict(_ugatit(tiny_config, "straight", steps=4, checkpoint_every=2)), progress=False, log=_quiet)
    first = train(config_from_dict(_ugatit(tiny_config, "halves", steps=2, checkpoint_every=2)), progress=False, log=_quiet)
    assert first.step == 2
    resumed = train(config_from_dict(_ugatit(tiny_config, "halves", steps=4, checkpoint_every=2)), resume=True, progress=False, log=_quiet)
    assert straight.step == resumed.step == 4
    a, b = (load_file(str(r.checkpoint / "weights.safetensors")) for r in (straight, resumed))
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    files = export_run(tmp_path / "straight", tmp_path / "style")
    assert sorted(p.name for p in files) == ["to_cartoon.safetensors", "to_photo.safetensors"]
    generator = load_network(tmp_path / "style" / "to_photo.safetensors")
    assert generator(torch.zeros(1, 3, SIZE, SIZE)).shape == (1, 3, SIZE, SIZE)


def test_ugatit_generator_exports_to_onnx_with_the_same_results(tmp_path):
    pytest.importorskip("onnxruntime")
    from toonbridge.models.onnx import OnnxNetwork, export_onnx

    torch.manual_seed(0)
    generator = build("ugatit_generator", ngf=8, n_blocks=2, n_hourglass=1, image_size=64).eval()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        expected = generator(x)
    runner = OnnxNetwork(export_onnx(generator, 64, tmp_path / "g.onnx"))
    assert float((runner(x) - expected).abs().max()) <= 1e-4
