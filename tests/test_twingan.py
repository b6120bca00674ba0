"""TwinGAN ([twingan]): the hair-colour measure, the one network with per-domain norms, its training method, styles
that view one file, `translate --from --to` and `lookalike`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import SHARED_DATA, write_synthetic_domain
from toonbridge.cli import app
from toonbridge.errors import ToonbridgeError
from toonbridge.faces.hair import HAIR_COLOURS, HAIR_TARGETS, hair_band, hair_colour_indices, hair_colour_name, hair_colour_of, without_band
from toonbridge.imageio import load_image, save_image
from toonbridge.models import build, save_network
from toonbridge.train import config_from_dict, train
from toonbridge.train.export import export_run

SIZE = 32
DOMAINS = ["photo", "bitmoji", "anime"]
OPTIONS = {"domains": DOMAINS, "channels": 4, "n_blocks": 1, "skips": [8, 16], "hair_colours": list(HAIR_COLOURS), "image_size": SIZE}


def test_each_request_target_is_named_as_itself_and_ordinary_colours_get_the_expected_names():
    assert {name: hair_colour_name(rgb) for name, rgb in HAIR_TARGETS.items()} == {name: name for name in HAIR_TARGETS}
    assert hair_colour_name((10, 10, 12)) == "black"
    assert hair_colour_name((120, 80, 50)) == "brown"
    assert hair_colour_name((235, 205, 140)) == "blond"
    assert hair_colour_name((190, 190, 190)) == "white"
    assert hair_colour_name((140, 60, 200)) == "blue"  # purple counts as the fantasy colour
    assert hair_colour_name((60, 200, 80)) is None  # green is not named
    assert hair_colour_name((240, 120, 200)) is None  # nor pink


def test_the_band_above_the_forehead_decides_and_the_rest_of_the_face_does_not():
    image = np.full((128, 128, 3), 200, np.uint8)  # a pale face everywhere
    x0, y0, x1, y1 = hair_band(128)
    image[y0:y1, x0:x1] = HAIR_TARGETS["red"]
    assert hair_colour_of(image) == "red"
    assert hair_colour_of(image[::2, ::2]) == "red"  # any size: the band scales
    tensors = torch.from_numpy(np.stack([image, np.full_like(image, 20)])).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert hair_colour_indices(tensors).tolist() == [HAIR_COLOURS.index("red"), HAIR_COLOURS.index("black")]


def test_one_network_translates_by_its_norms_alone_and_a_view_fixes_the_direction():
    torch.manual_seed(0)
    network = build("twingan", **OPTIONS).eval()
    with torch.no_grad():
        for module in network.modules():  # random norm parameters, so that domains differ as after training
            if hasattr(module, "gamma"):
                module.gamma.normal_(1, 0.5)
                module.beta.normal_(0, 0.5)
        x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
        zeros = torch.zeros(2, dtype=torch.long)
        to_bitmoji = network(x, zeros, zeros + 1)
        to_anime = network(x, zeros, zeros + 2)
        assert to_bitmoji.shape == x.shape and not torch.allclose(to_bitmoji, to_anime)
        # Hair offsets start at 0: a request changes nothing until trained, and then only through the norms.
        torch.testing.assert_close(network.view("photo", "bitmoji", hair="blue")(x), to_bitmoji)
        network.up[0].norm.hair_beta[HAIR_COLOURS.index("blue")].fill_(1.0)
        assert not torch.allclose(network.view("photo", "bitmoji", hair="blue")(x), to_bitmoji)
        # No request: each input keeps its own colour, as training decodes unrequested translations.
        torch.testing.assert_close(network.view("photo", "bitmoji")(x), network(x, zeros, zeros + 1, hair_colour_indices(x)))
        code = network.view("bitmoji", "photo").code(x)
        torch.testing.assert_close(code, network.encode(x, zeros + 1)[0])  # no mean code kept yet: as encoded
        network.code_means[1].fill_(0.25)  # the search compares codes with their domain's mean taken off
        torch.testing.assert_close(network.view("bitmoji", "photo").code(x), code - 0.25)
        torch.testing.assert_close(network.view("photo", "bitmoji").code(x), network.encode(x, zeros)[0])
        # The search compares unit codes; with no fitted axes that is plain cosine, and a stretched axis weighs its
        # component more (the gender axis: the same kind of face first).
        view = network.view("bitmoji", "photo")
        unit = torch.nn.functional.normalize(view.code(x).flatten(1), dim=1)
        torch.testing.assert_close(view.embedding(x), unit)
        axis = torch.nn.functional.normalize(unit[0] - unit[1], dim=0)
        network.search_axes[0] = axis
        network.search_stretch[0] = 8.0
        apart = lambda e: float(e[0] @ e[1])  # noqa: E731
        assert apart(view.embedding(x)) < apart(unit)
        torch.testing.assert_close(view.embedding(x).norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match="unknown domain 'pixar'"):
        network.view("photo", "pixar")
    with pytest.raises(ValueError, match="unknown hair colour 'green'"):
        network.view("photo", "anime", hair="green")


@pytest.fixture
def twingan_config(tmp_path):
    rng = np.random.default_rng(0)
    folders = {name: write_synthetic_domain(tmp_path / name, colour, rng, 10) for name, colour in zip(DOMAINS, (90, 170, 220))}

    def make(run: str, **changes) -> dict:
        return {"method": "twingan", "run_dir": str(tmp_path / run), "steps": 4, "threads": 1, "batch_size": 2, "ema_half_life": 10,
                "checkpoint_every": 2, "log_every": 1, "sample_every": 2,
                "data": {"size": SIZE, "domains": {name: {"domain": folder} for name, folder in folders.items()}},
                "model": {"channels": 4, "n_blocks": 1, "skips": [8, 16], "ndf": 8, "disc_layers": 2},
                "loss": {"cycle": 1.0, "hair": 1.0, "hair_judge": 1.0, "hair_judge_whole": 1.0, "hair_keeps_face": 1.0,
                         "gender_judge": 1.0, "gender_domains": ["photo", "bitmoji"], "penalty_every": 2},
                "optim": {"decay_start": 1.0}, **changes}  # a constant rate: a shorter first leg has the same schedule

    return make


def test_twingan_trains_every_domain_resumes_exactly_and_ships_one_network(twingan_config, tmp_path):
    config = twingan_config("whole")
    whole = train(config_from_dict(config), progress=False, log=lambda _: None)
    assert whole.step == 4
    interrupted = dict(config, run_dir=str(tmp_path / "resumed"))
    train(config_from_dict(dict(interrupted, steps=3)), progress=False, log=lambda _: None)  # odd: mid penalty cycle
    train(config_from_dict(interrupted), resume=True, progress=False, log=lambda _: None)
    (path_a,), (path_b,) = export_run(whole.checkpoint, tmp_path / "a"), export_run(tmp_path / "resumed", tmp_path / "b")
    from safetensors.torch import load_file

    assert path_a.name == "network.safetensors"
    for key, value in load_file(path_a).items():
        torch.testing.assert_close(load_file(path_b)[key], value, msg=key)  # targets and hair requests resume too
    from toonbridge.models import load_network

    shipped = load_network(path_a)
    assert shipped.domains == DOMAINS
    # Training kept each domain's mean code as a running average: it has moved off zero, differently per domain.
    assert all(float(shipped.code_means[k].abs().sum()) > 0 for k in range(len(DOMAINS)))
    assert not torch.allclose(shipped.code_means[0], shipped.code_means[1])


def test_a_network_file_from_before_the_search_metric_loads_with_plain_uncentred_codes(tmp_path):
    network = build("twingan", **OPTIONS)
    path = save_network(network, "twingan", OPTIONS, tmp_path / "old.safetensors")
    from safetensors.torch import load_file, save_file

    tensors = load_file(path)
    for name in ("code_means", "search_axes", "search_stretch"):
        del tensors[name]
    save_file(tensors, path, metadata={"network": "twingan", "options": json.dumps(OPTIONS), "info": "{}"})
    from toonbridge.models import load_network

    old = load_network(path)
    assert float(old.code_means.abs().sum()) == 0 and float(old.search_axes.abs().sum()) == 0
    assert bool((old.search_stretch == 1).all())


def test_a_warm_start_from_a_run_without_the_judges_starts_them_fresh(twingan_config):
    logs = []
    before = train(config_from_dict(twingan_config("no-judge", steps=2, loss={"penalty_every": 2})), progress=False, log=lambda _: None)
    config = twingan_config("judge", steps=1, init_from=str(before.checkpoint))
    train(config_from_dict(config), progress=False, log=logs.append)
    assert any("hair_judge, gender_judge start fresh" in line for line in logs), logs
    from toonbridge.train.checkpoint import load_checkpoint, restore_networks

    judge = build("attribute_classifier", classes=list(HAIR_COLOURS))
    with pytest.raises(ToonbridgeError, match="does not fit network 'hair_judge'"):  # a resume still needs every network
        restore_networks(load_checkpoint(before.checkpoint), {"hair_judge": judge})


def test_the_hair_judge_never_sees_the_band_its_label_comes_from():
    x0, y0, x1, y1 = hair_band(128)
    blond = torch.tensor(HAIR_TARGETS["blond"], dtype=torch.float32).view(3, 1, 1) / 127.5 - 1
    plain = torch.full((1, 3, 128, 128), -0.8)
    painted = plain.clone()
    painted[..., y0:y1, x0:x1] = blond  # a blond band on a black head: labelled blond, invisible to the judge
    assert [HAIR_COLOURS[i] for i in hair_colour_indices(torch.cat([plain, painted]))] == ["black", "blond"]
    torch.testing.assert_close(without_band(painted), without_band(plain))
    painted[..., y0 - 2:y0, x0:x1] = blond  # hair just above the band it does see
    assert not torch.allclose(without_band(painted), without_band(plain))


def test_the_whole_view_of_the_hair_judge_reaches_the_band_the_masked_view_does_not(twingan_config):
    from toonbridge.train.method import build_method

    with pytest.raises(ValueError, match="set loss.hair_judge too"):
        build_method(config_from_dict(twingan_config("alone", loss={"hair_judge_whole": 1.0})), torch.device("cpu"))
    method = build_method(config_from_dict(twingan_config("views")), torch.device("cpu"))
    x0, y0, x1, y1 = hair_band(SIZE)
    band = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    band[y0:y1, x0:x1] = True
    labels = torch.tensor([HAIR_COLOURS.index("red"), HAIR_COLOURS.index("blond")])
    for whole in (False, True):
        translation = (torch.rand(2, 3, SIZE, SIZE) * 2 - 1).requires_grad_(True)
        method._hair_judge_loss(translation, labels, whole=whole).backward()
        on_band = float(translation.grad[..., band].abs().sum())
        assert float(translation.grad[..., ~band].abs().sum()) > 0
        assert on_band > 0 if whole else on_band == 0


def test_a_hair_request_is_kept_off_the_face_and_only_the_face(twingan_config):
    from toonbridge.faces.hair import face_box
    from toonbridge.train.method import build_method

    method = build_method(config_from_dict(twingan_config("face")), torch.device("cpu"))
    images = torch.rand(3, 3, SIZE, SIZE) * 2 - 1
    source, target = torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0])
    own, asked = torch.tensor([0, 1, 2]), torch.tensor([True, True, False])
    with torch.no_grad():  # hair offsets start at zero, where a request changes nothing: as if trained a little
        for parameter in method.network.conditional_parameters():
            parameter.add_(torch.randn_like(parameter) * 0.5)
    code, features = method.network.encode(images, source)
    # Asked for its own colour, a translation is what the reference decodes: nothing to pay.
    same = method.network.decode(code, features, target, own)
    assert float(method._face_change(code, features, target, own, same, asked).detach()) < 1e-6
    requested = method.network.decode(code, features, target, torch.tensor([4, 3, 2])).detach().requires_grad_(True)
    change = method._face_change(code, features, target, own, requested, asked)
    change.backward()
    x0, y0, x1, y1 = face_box(SIZE)
    inside = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    inside[y0:y1, x0:x1] = True
    assert float(change.detach()) > 0 and bool(requested.grad[:2, :, inside].abs().sum() > 0)
    assert float(requested.grad[..., ~inside].abs().sum()) == 0 and float(requested.grad[2].abs().sum()) == 0  # hair, and unasked images: free


def test_the_gender_judge_learns_real_labels_and_keeps_the_source_gender_only_in_the_domains_it_knows(twingan_config):
    from toonbridge.train.loop import _fetch
    from toonbridge.train.method import build_method

    with pytest.raises(ValueError, match="no domain named pixar"):
        build_method(config_from_dict(twingan_config("bad", loss={"gender_judge": 1.0, "gender_domains": ["pixar"]})), torch.device("cpu"))
    method = build_method(config_from_dict(twingan_config("gender")), torch.device("cpu"))
    seen, drawn = [], []
    judge_loss, draw_targets = method._judge_loss, method._draw_targets

    def spy_judge(judge, images, labels, train_judge=False):
        if judge is method.gender_judge:
            seen.append((labels.clone(), train_judge))
        return judge_loss(judge, images, labels, train_judge)

    def spy_targets(source, hair):
        drawn.append(draw_targets(source, hair))
        return drawn[-1]

    method._judge_loss, method._draw_targets = spy_judge, spy_targets
    batch = _fetch(method.dataset(), [0, 1])
    terms = method.train_step(batch, 0)
    assert "gender_judge" in terms and "d_gender_judge" in terms
    (asked_of_translations, trains_then), (of_reals, trains_now) = seen
    own = torch.cat([torch.as_tensor(batch[name]["gender"]) for name in DOMAINS])
    assert sorted(set(own.tolist())) == [0, 1] and not trains_then and trains_now
    torch.testing.assert_close(of_reals, own)  # every real image with a label teaches the judge
    target = drawn[0][0]
    expected = torch.where(target == DOMAINS.index("anime"), -1, own)  # anime was not named: no label asked there
    torch.testing.assert_close(asked_of_translations, expected)


def test_a_domain_of_its_own_can_be_cut_to_the_face_and_padded_as_its_style_pads(twingan_config):
    """[in-the-wild] The photo domain learns frame-filling faces padded with the portrait the styles use at inference;
    the cartoon domains are left as they are, and a bad value is a config error, not a crash in a worker."""
    from toonbridge.faces.portraits import mean_portraits
    from toonbridge.train.config import ConfigError, MultiDomainData, section

    def data_section(config: dict) -> MultiDomainData:
        return section(MultiDomainData, config_from_dict(config).data, "data")

    config = twingan_config("tight")
    config["data"]["augment"] = {"flip_probability": 0.0, "max_scale": 0.0, "max_rotation_degrees": 0.0, "max_shift": 0.0}
    plain = data_section(config).dataset(seed=0)
    config["data"]["domains"]["photo"].update(tight_framing=1.0, tight_framing_padding="portrait")
    tight = data_section(config).dataset(seed=0)
    portraits = mean_portraits()[1]
    for index in range(4):
        before, after = plain[index], tight[index]
        torch.testing.assert_close(after["bitmoji"]["image"], before["bitmoji"]["image"])
        gender = ("female", "male")[index % 2]  # the synthetic labels alternate
        portrait = torch.from_numpy(np.asarray(portraits[gender], np.float32) / 127.5 - 1).permute(2, 0, 1)
        portrait = torch.nn.functional.interpolate(portrait[None], size=SIZE, mode="area")[0]
        corner = (slice(None), slice(0, 2), slice(0, 2))  # far from the synthetic face: padding after the cut
        assert not torch.allclose(after["photo"]["image"][corner], before["photo"]["image"][corner])
        assert float((after["photo"]["image"][corner] - portrait[corner]).abs().max()) < 0.1
    for bad in ({"tight_framing": 2.0}, {"tight_framing_padding": "pink"}):
        config["data"]["domains"]["photo"].update({"tight_framing": 0.5, "tight_framing_padding": "portrait", **bad})
        with pytest.raises(ConfigError, match="data.domains.photo.tight_framing"):
            data_section(config)


def test_a_domain_can_be_read_on_the_template_its_faces_really_sit_on(twingan_config):
    """As UnpairedData.framed_b (selfie2anime's anime faces sit looser than its selfies): the domain is read on
    that template, the others on their own, and an unknown template is a config error before any loading."""
    from toonbridge.train.config import ConfigError, MultiDomainData, section

    config = twingan_config("framed")
    config["data"]["domains"]["anime"]["framed"] = "anime-cartoon"
    data = section(MultiDomainData, config_from_dict(config).data, "data")
    assert data.load("anime").template == "anime-cartoon"
    assert data.load("bitmoji").template != "anime-cartoon"
    for bad in ("no-such-template", ["anime-cartoon"]):
        config["data"]["domains"]["anime"]["framed"] = bad
        with pytest.raises(ConfigError, match="data.domains.anime.framed"):
            section(MultiDomainData, config_from_dict(config).data, "data")


def test_two_domains_at_least_are_required(twingan_config):
    from toonbridge.train.config import ConfigError

    config = twingan_config("one")
    config["data"]["domains"] = {"photo": config["data"]["domains"]["photo"]}
    with pytest.raises(ConfigError, match="at least two domains"):
        train(config_from_dict(config), progress=False, log=lambda _: None)


@pytest.fixture
def twingan_folder(tmp_path, monkeypatch):
    """A many-domain folder (domains.json and a small random network) and a style that views it."""
    monkeypatch.setenv("TOONBRIDGE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "twingan"
    folder.mkdir()
    torch.manual_seed(0)
    options = dict(OPTIONS, image_size=128)
    save_network(build("twingan", **options), "twingan", options, folder / "network.safetensors")
    spec = {"network": "network.safetensors", "template": "bitmoji", "size": 128, "photo_domain": "photo",
            "domains": {"photo": {"template": "bitmoji"}, "bitmoji": {"template": "bitmoji-cartoon", "light_background": True},
                        "anime": {"template": "anime"}}}
    (folder / "domains.json").write_text(json.dumps(spec))
    style = tmp_path / "twingan-anime"
    style.mkdir()
    (style / "style.json").write_text(json.dumps({
        "name": "twingan-anime", "template": "bitmoji", "cartoon_template": "anime", "size": 128, "reframe_cartoons": True,
        "networks": {"to_cartoon": "../twingan/network.safetensors", "to_photo": "../twingan/network.safetensors"},
        "views": {"to_cartoon": {"source": "photo", "target": "anime"}, "to_photo": {"source": "anime", "target": "photo"}}}))
    return folder, style


def test_a_style_views_one_file_both_ways_and_can_be_asked_for_a_hair_colour(twingan_folder):
    from toonbridge.api import load

    folder, style_folder = twingan_folder
    style = load(style_folder, backend="torch")
    face = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    assert style.cartoonize(face, aligned=True).shape == face.shape
    assert style.realize(face, aligned=True).shape == face.shape
    assert style.network("to_cartoon").network is style.network("to_photo").network  # one set of weights in memory
    assert load(style_folder, backend="torch", hair="blond").cartoonize(face, aligned=True).shape == face.shape
    with pytest.raises(ToonbridgeError, match="unknown hair colour 'green'"):
        load(style_folder, backend="torch", hair="green").network("to_cartoon")
    with pytest.raises(ToonbridgeError, match="cannot choose a hair colour"):
        load("bitmoji", hair="blond")
    # The views read each input's hair colour in numpy, so they run in PyTorch whatever backend is asked for.
    assert isinstance(load(style_folder, backend="onnx").generator("cartoonize"), torch.nn.Module)
    result = CliRunner().invoke(app, ["export", "onnx", "--style", str(style_folder), "-o", str(style_folder.parent / "onnx")])
    assert result.exit_code != 0 and "PyTorch only" in result.output and "Traceback" not in result.output


def test_translate_names_both_domains_and_refuses_unknown_ones(twingan_folder, tmp_path, monkeypatch):
    from toonbridge import api

    folder, _ = twingan_folder
    monkeypatch.setattr(api, "_domains_file", lambda network: (folder, json.loads((folder / "domains.json").read_text())))
    cartoon = tmp_path / "cartoon.png"
    save_image(np.random.default_rng(1).integers(0, 255, (128, 128, 3), dtype=np.uint8), cartoon)
    result = CliRunner().invoke(app, ["translate", str(cartoon), "--from", "bitmoji", "--to", "anime", "--aligned",
                                      "-o", str(tmp_path / "out"), "--hair", "blue"])
    assert result.exit_code == 0, result.output
    assert load_image(tmp_path / "out" / "cartoon.png").shape == (128, 128, 3)
    result = CliRunner().invoke(app, ["translate", str(cartoon), "--from", "bitmoji", "--to", "pixar", "-o", str(tmp_path / "x")])
    assert result.exit_code != 0 and "unknown domain 'pixar'" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["translate", str(cartoon), "--from", "bitmoji", "--to", "anime", "--hair", "green", "-o", str(tmp_path / "y")])
    assert result.exit_code != 0 and "unknown hair colour 'green'" in result.output


def test_lookalike_ranks_a_gallery_caches_its_codes_and_writes_a_contact_sheet(twingan_folder, tmp_path, monkeypatch):
    from toonbridge import api, lookalike

    folder, _ = twingan_folder
    monkeypatch.setattr(api, "_domains_file", lambda network: (folder, json.loads((folder / "domains.json").read_text())))
    rng = np.random.default_rng(2)
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    photo = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
    save_image(photo, gallery / "same.png")  # the photo itself, read as a cartoon: shares most of the code
    for index in range(4):
        save_image(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8), gallery / f"other{index}.png")
    (gallery / "broken.png").write_text("not an image")
    save_image(photo, tmp_path / "me.png")
    args = ["lookalike", str(tmp_path / "me.png"), "--aligned", "--gallery", str(gallery), "-k", "3", "--json",
            "--sheet", str(tmp_path / "sheet.png")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    matches = json.loads(result.output)
    assert len(matches) == 3 and [m["distance"] for m in matches] == sorted(m["distance"] for m in matches)
    assert load_image(tmp_path / "sheet.png").shape[1] == 4 * 128
    monkeypatch.setattr(lookalike, "_encode_chunk", lambda *a: pytest.fail("the gallery was encoded again"))
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and json.loads(again.output) == matches


@pytest.mark.shared_data
def test_the_shipped_twingan_turns_a_bitmoji_into_an_anime_face_with_the_requested_hair():
    from toonbridge.api import load_domains
    from toonbridge.data import load_split

    assert SHARED_DATA.is_dir()
    bitmoji = load_split("celeba2bitmoji/cartoon", "val").samples[:8]
    style = load_domains("bitmoji", "anime", hair="blond", backend="torch")
    outputs = [style.translate(sample.path, "realize", aligned=True).image for sample in bitmoji]
    framed = [style._to_model(output, "realize") for output in outputs]  # back on the network's framing, to read the hair
    assert sum(hair_colour_of(image) == "blond" for image in framed) >= 6


@pytest.mark.shared_data
@pytest.mark.parametrize("colour", ["brown", "white", "red"])
def test_the_shipped_twingan_gives_photos_the_bitmoji_hair_colour_asked_for(colour):
    """The [twingan] hair goal, on the colours the network shipped before 2026-12-06 failed by the band (brown 78 %,
    white 1 %, red 81 %; the one shipped since: 100 / 95 / 99 % on 100 photos, docs/models.md)."""
    from toonbridge.api import load_domains
    from toonbridge.data import load_split

    assert SHARED_DATA.is_dir()
    photos = load_split("celeba2bitmoji/photo", "val").samples[:8]
    style = load_domains("photo", "bitmoji", hair=colour, backend="torch")
    outputs = [style.translate(sample.path, "cartoonize", aligned=True).image for sample in photos]
    assert sum(hair_colour_of(image) == colour for image in outputs) >= 6


@pytest.mark.shared_data
def test_the_shipped_lookalike_search_finds_bitmoji_of_the_photos_gender():
    """Top-5 Bitmoji neighbours of validation photos share the photo's gender label far above chance (docs: 89.4 %
    on all 1,129 photos, chance 51.4 %); the metric's axes are what lifts it (plain cosine: 78 %)."""
    from toonbridge.data import load_split
    from toonbridge.lookalike import Encoder

    assert SHARED_DATA.is_dir()
    photos = load_split("celeba2bitmoji/photo", "val").samples[:150]
    gallery = load_split("celeba2bitmoji/cartoon", "val").samples
    photo_codes = Encoder("photo").codes([load_image(s.path) for s in photos])
    gallery_codes = Encoder("bitmoji").codes([load_image(s.path) for s in gallery])
    top = torch.argsort(photo_codes @ gallery_codes.T, dim=1, descending=True)[:, :5]
    agree = [photos[i].labels["gender"] == gallery[j].labels["gender"] for i in range(len(photos)) for j in top[i].tolist()]
    assert np.mean(agree) >= 0.8


@pytest.mark.shared_data
def test_lookalike_reads_a_face_that_fills_the_frame_by_its_gender():
    """[in-the-wild] A tight chip's crop runs past the photo's edge; the photo domain fills that with the portrait
    of the face's gender (domains.json ``padding``), not a blurred mirror that reads as long light hair. UTKFace
    young and middle-aged chips, unaligned (docs: 236 of them 91.5 %, with the blurred padding 76.1 %; chance 47 %)."""
    from toonbridge.data import load_split
    from toonbridge.lookalike import Encoder

    assert SHARED_DATA.is_dir()
    adults = [s for s in load_split("utkface/faces", "val").samples if s.labels["group"] in ("young", "middle")]
    photos = [s for s in adults if s.labels["gender"] == "male"][:30] + [s for s in adults if s.labels["gender"] == "female"][:30]
    gallery = load_split("celeba2bitmoji/cartoon", "val").samples
    encoder = Encoder("photo")
    assert encoder.style.info.padding == "portrait"
    photo_codes = encoder.codes([encoder.frame(load_image(s.path)) for s in photos])
    gallery_codes = Encoder("bitmoji").codes([load_image(s.path) for s in gallery])
    top = torch.argsort(photo_codes @ gallery_codes.T, dim=1, descending=True)[:, :5]
    agree = [photos[i].labels["gender"] == gallery[j].labels["gender"] for i in range(len(photos)) for j in top[i].tolist()]
    assert np.mean(agree) >= 0.85
