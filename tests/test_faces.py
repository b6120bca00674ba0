import cv2
import numpy as np
import pytest

from toonbridge.errors import FaceTooSmall, NoFaceFound, UnknownName
from toonbridge.faces import (
    DetectorConfig,
    FaceDetector,
    Template,
    align_face,
    align_faces,
    detect,
    five_from_68,
    flip_landmarks,
    get_template,
    paste_back,
    register_template,
    similarity_transform,
    template_names,
)
from toonbridge.faces.align import apply_transform
from toonbridge.faces.landmarks import FLIP_PERMUTATION_68
from toonbridge.faces.paste import cutout, feather_mask, light_background


def rotation_matrix(angle_degrees, scale, shift):
    angle = np.radians(angle_degrees)
    linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.hstack([linear, np.array(shift, float)[:, None]])


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 100, (5, 2))
    truth = rotation_matrix(23, 1.7, (5, -9))
    estimated = similarity_transform(source, apply_transform(truth, source))
    assert np.allclose(estimated, truth, atol=1e-9)


def test_similarity_transform_never_reflects():
    source = np.array([[0, 0], [10, 1], [4, 6], [1, 12], [9, 10]], float)
    mirrored = source * [-1, 1]
    estimated = similarity_transform(source, mirrored)
    assert np.linalg.det(estimated[:, :2]) > 0


def test_five_points_from_68():
    points = np.arange(136, dtype=float).reshape(68, 2)
    five = five_from_68(points)
    assert np.allclose(five[0], points[36:42].mean(0)) and np.allclose(five[1], points[42:48].mean(0))
    assert np.allclose(five[2:], points[[30, 48, 54]])


def test_flip_permutation_is_an_involution_and_flip_twice_is_identity():
    assert sorted(FLIP_PERMUTATION_68) == list(range(68))
    assert np.array_equal(FLIP_PERMUTATION_68[FLIP_PERMUTATION_68], np.arange(68))
    points = np.random.default_rng(1).uniform(0, 50, (68, 2))
    assert np.allclose(flip_landmarks(flip_landmarks(points, 64), 64), points)


def test_flipped_photo_gives_flipped_landmarks(sample_rgb, sample_face):
    """The real check of the 68-point flip table: detect on the mirrored photo."""
    mirrored = detect(np.ascontiguousarray(sample_rgb[:, ::-1]))
    assert len(mirrored) == 1
    expected = flip_landmarks(sample_face.landmarks68, sample_rgb.shape[1])
    eye_distance = np.linalg.norm(expected[36] - expected[45])
    assert np.linalg.norm(mirrored[0].landmarks68 - expected, axis=1).mean() < 0.08 * eye_distance


def test_sample_has_one_face_and_dlib_mode_rejects_the_weak_hog_hit(sample_rgb, sample_face):
    # The astronaut's mission patch is a weak HOG hit; dlib mode asks the CNN and drops it.
    assert len(FaceDetector(DetectorConfig(method="hog"))(sample_rgb)) == 2
    (face,) = FaceDetector(DetectorConfig(method="dlib"))(sample_rgb)
    assert face.detector == "hog" and face.score > 1
    x0, y0, x1, y1 = sample_face.box
    assert 150 < (x0 + x1) / 2 < 300 and 60 < (y0 + y1) / 2 < 200  # her face, not the patch
    assert sample_face.landmarks68.shape == (68, 2)


def test_cnn_detector_finds_the_same_face(sample_rgb, sample_face):
    faces = FaceDetector(DetectorConfig(method="cnn"))(sample_rgb)
    assert len(faces) == 1 and faces[0].detector == "cnn"
    eye_distance = np.linalg.norm(sample_face.landmarks5[0] - sample_face.landmarks5[1])
    assert np.linalg.norm(faces[0].landmarks5 - sample_face.landmarks5, axis=1).max() < 0.15 * eye_distance


def test_every_face_left_to_right(sample_rgb):
    pair = np.concatenate([sample_rgb[:, ::-1], sample_rgb], axis=1)
    faces = detect(pair)
    assert len(faces) == 2
    assert faces[0].box[0] < faces[1].box[0]


def test_blank_tiny_and_noise_images_have_no_faces():
    assert detect(np.zeros((1, 1, 3), np.uint8)) == []
    assert detect(np.full((200, 300, 3), 128, np.uint8)) == []


def test_face_json_shape(sample_face):
    data = sample_face.to_dict()
    assert len(data["box"]) == 4 and len(data["landmarks68"]) == 68
    assert all(len(point) == 2 for point in data["landmarks68"]) and isinstance(data["score"], float)


def test_builtin_templates_and_registry():
    assert {"anime", "bitmoji"} <= set(template_names())
    assert get_template("bitmoji").size == (128, 128) and get_template("anime").size == (256, 256)
    with pytest.raises(UnknownName, match="unknown template 'nope'"):
        get_template("nope")
    custom = Template("test-square", (64, 64), get_template("bitmoji").points5 / 2)
    register_template(custom)
    assert get_template("test-square") is custom
    with pytest.raises(ValueError, match="already registered"):
        register_template(custom)


def test_template_from_a_json_file(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(Template("mine", (96, 96), get_template("bitmoji").points5 * 0.75).to_json())
    assert get_template(str(path)).size == (96, 96)
    (tmp_path / "bad.json").write_text('{"name": "bad"}')
    with pytest.raises(UnknownName, match="not a valid template"):
        get_template(str(tmp_path / "bad.json"))
    with pytest.raises(UnknownName, match="template file not found"):
        get_template(str(tmp_path / "none.json"))


@pytest.mark.parametrize("template_name", ["bitmoji", "anime"])
def test_aligned_face_lands_on_the_template(sample_rgb, sample_face, template_name):
    template = get_template(template_name)
    aligned = align_face(sample_rgb, sample_face, template_name)
    assert aligned.image.shape == (template.size[1], template.size[0], 3)
    # A similarity cannot absorb her broad smile: the points land near, not exactly on, the template.
    assert np.linalg.norm(aligned.landmarks5 - template.points5, axis=1).mean() < 0.15 * template.eye_distance
    # The real test: detecting again on the aligned image finds the face where the template says.
    again = FaceDetector(DetectorConfig(method="hog"))(aligned.image)
    assert len(again) == 1
    assert np.linalg.norm(again[0].landmarks5 - template.points5, axis=1).mean() < 0.15 * template.eye_distance


def test_downscaling_is_antialiased(sample_rgb):
    """A face from a 4× photo aligned to 128 px matches the one from the original photo (the pyramid path)."""
    import cv2

    big = cv2.resize(sample_rgb, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    face = detect(sample_rgb)[0]
    small = align_face(sample_rgb, face, "bitmoji").image.astype(float)
    from_big = align_face(big, face.landmarks5 * 4 + 1.5, "bitmoji")
    assert from_big.scale < 0.5
    assert np.abs(from_big.image.astype(float) - small).mean() < 6


def test_align_faces_detects_when_not_given_faces(sample_rgb):
    from conftest import SAMPLE

    (aligned,) = align_faces(SAMPLE, template="anime")  # a path works as well as an array
    assert aligned.image.shape == (256, 256, 3)
    with pytest.raises(NoFaceFound, match="no face found"):
        align_faces(np.full((64, 64, 3), 90, np.uint8))


def test_face_too_small_is_refused(sample_rgb, sample_face):
    with pytest.raises(FaceTooSmall, match="face too small"):
        align_face(sample_rgb, sample_face, "anime", max_upscale=1.0)


def test_feather_mask():
    mask = feather_mask(64, 32, 0.25)
    assert mask.shape == (32, 64)
    assert mask[16, 32] == 1.0 and mask[0, 0] < 0.05
    assert np.all(np.diff(mask[16, :32]) >= 0)  # rises monotonically towards the centre


def test_paste_back_of_the_unchanged_face_restores_the_photo(sample_rgb, sample_face):
    aligned = align_face(sample_rgb, sample_face, "anime")
    restored = paste_back(sample_rgb, [(aligned, aligned.image)])
    x0, y0, x1, y1 = (int(v) for v in sample_face.box)
    error = np.abs(restored.astype(int) - sample_rgb.astype(int))
    assert error[y0:y1, x0:x1].mean() < 4  # resampled twice: close, not identical
    assert error[400:, :100].max() == 0  # far from the face nothing moves


def test_paste_back_replaces_the_face_and_accepts_other_resolutions(sample_rgb, sample_face):
    aligned = align_face(sample_rgb, sample_face, "bitmoji")
    green = np.zeros((256, 256, 3), np.uint8)
    green[..., 1] = 255  # a model working at twice the template's resolution
    result = paste_back(sample_rgb, [(aligned, green)])
    nose_x, nose_y = np.round(sample_face.landmarks5[2]).astype(int)
    assert result[nose_y, nose_x].tolist() == [0, 255, 0]
    assert np.array_equal(result[450:, 450:], sample_rgb[450:, 450:])


def _cartoon_on_white(size=128, skin=(250, 238, 228)):
    """A pale, dark-outlined cartoon head on a white backdrop with grey specks, white eyes inside the face."""
    import cv2

    face = np.full((size, size, 3), 255, np.uint8)
    face[np.random.default_rng(0).random((size, size)) < 0.03] = (200, 200, 200)  # sketchy specks in the backdrop
    centre = (size // 2, size // 2)
    cv2.circle(face, centre, size // 3, skin, -1)
    cv2.circle(face, centre, size // 3, (20, 20, 20), 2)
    cv2.circle(face, (size // 2 - 12, size // 2 - 8), 5, (255, 255, 255), -1)  # an eye: white, but inside the outline
    return face


def test_light_background_keys_the_backdrop_not_the_face():
    face = _cartoon_on_white()
    backdrop = light_background(face)
    assert backdrop[5, 5] > 0.99 and backdrop[120, 64] > 0.99  # corners and edges, specks included
    assert backdrop[64, 64] < 0.01 and backdrop[56, 52] < 0.01  # pale skin and the white eye stay
    assert backdrop.dtype == np.float32 and backdrop.shape == (128, 128)


def test_light_background_keys_nothing_when_the_fill_reaches_the_middle():
    unoutlined = np.full((128, 128, 3), 255, np.uint8)
    unoutlined[40:90, 40:90] = (245, 245, 240)  # a near-white face without an outline: the fill would eat it
    assert light_background(unoutlined).max() == 0
    photo_like = np.random.default_rng(1).integers(0, 180, (128, 128, 3)).astype(np.uint8)  # no light pixels
    assert light_background(photo_like).max() == 0


def test_paste_back_lets_the_photo_show_through_a_keyed_backdrop(sample_rgb, sample_face):
    aligned = align_face(sample_rgb, sample_face, "bitmoji")
    cartoon = _cartoon_on_white()
    keyed = paste_back(sample_rgb, [(aligned, cartoon)], key_light_background=True).astype(int)
    square = paste_back(sample_rgb, [(aligned, cartoon)]).astype(int)
    nose_x, nose_y = np.round(sample_face.landmarks5[2]).astype(int)
    assert np.abs(keyed[nose_y, nose_x] - (250, 238, 228)).max() <= 2  # the cartoon face is pasted either way
    to_photo = np.linalg.inv(np.vstack([aligned.matrix, [0, 0, 1]]))[:2]
    # Above the cartoon head but inside the head mask, the unkeyed paste shows white backdrop; the keyed paste
    # shows the photo.
    x, y = np.round(apply_transform(to_photo, np.array([[64.0, 15.0]]))[0]).astype(int)
    assert square[y, x].min() > 240
    assert np.abs(keyed[y, x] - sample_rgb[y, x].astype(int)).max() <= 2
    # Near the crop's corner, outside the head, neither paste touches the photo ([polish]: never a square).
    x, y = np.round(apply_transform(to_photo, np.array([[12.0, 12.0]]))[0]).astype(int)
    assert np.abs(square[y, x] - sample_rgb[y, x].astype(int)).max() <= 2


def test_a_keyed_backdrop_leaves_no_pale_rim_on_a_dark_photo(sample_rgb, sample_face):
    """[in-the-wild] The keyed edge is soft, and half of it lay in the cartoon's white: a pale rim around every
    pasted head on a dark background. The head's own edge colour now fills that half."""
    aligned = align_face(sample_rgb, sample_face, "bitmoji")
    dark = np.zeros_like(sample_rgb)
    pasted = paste_back(dark, [(aligned, _cartoon_on_white())], key_light_background=True).astype(int)
    to_photo = np.linalg.inv(np.vstack([aligned.matrix, [0, 0, 1]]))[:2]
    # Just outside the outline (radius 42 in the crop, 2 px wide), all around the head.
    angles = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    ring = np.stack([64 + 45 * np.cos(angles), 64 + 45 * np.sin(angles)], axis=1)
    xs, ys = np.round(apply_transform(to_photo, ring)).astype(int).T
    assert pasted[ys, xs].max() <= 30  # the outline's 20 fading into black (85 with the white there)
    rgba = cutout(_cartoon_on_white(), np.asarray(aligned.template.points5), key_light_background=True)
    on_black = rgba[..., :3].astype(int) * rgba[..., 3:].astype(int) // 255
    assert on_black[np.round(ring[:, 1]).astype(int), np.round(ring[:, 0]).astype(int)].max() <= 30
    assert (on_black[64, 64] >= (245, 233, 223)).all()  # the face itself is whole


def test_paste_back_leaves_a_neighbours_face_alone(sample_rgb):
    """[polish] bug: the square crop of one face carried its neighbour's face along and half-translated it."""
    import cv2

    (face,) = detect(sample_rgb, "dlib")  # the geometry the figures below were measured with
    x0, _, x1, _ = (int(v) for v in face.box)
    margin = (x1 - x0) // 10  # the two heads close together, as in a group photo
    strip = sample_rgb[:, x0 - margin:x1 + margin]
    small = cv2.resize(strip, None, fx=0.85, fy=0.85, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((strip.shape[0], strip.shape[1] + small.shape[1], 3), np.uint8)
    canvas[:, :strip.shape[1]], canvas[:small.shape[0], strip.shape[1]:] = strip, small
    big, neighbour = sorted(detect(canvas, "dlib"), key=lambda face: face.box[0])
    aligned = align_face(canvas, big, "bitmoji")
    pasted = paste_back(canvas, [(aligned, np.full_like(aligned.image, 128))])
    # The neighbour's eyes, nose and mouth (the box of its 5 points, a few pixels wider).
    (nx0, ny0), (nx1, ny1) = np.floor(neighbour.landmarks5.min(axis=0) - 4).astype(int), np.ceil(neighbour.landmarks5.max(axis=0) + 4).astype(int)
    crop_corner = apply_transform(np.linalg.inv(np.vstack([aligned.matrix, [0, 0, 1]]))[:2], np.array([[128.0, 128.0]]))[0]
    assert crop_corner[0] > nx0 + 10  # the big face's square crop does reach into the neighbour's face
    change = np.abs(pasted[ny0:ny1, nx0:nx1].astype(int) - canvas[ny0:ny1, nx0:nx1]).max(axis=2)
    assert change.mean() < 0.5 and (change > 10).mean() < 0.01  # measured 0.01 and 0; a square paste: 13.7 and 25 %


def test_padding_past_the_photo_edge_is_blurred_not_mirrored(sample_rgb, sample_face):
    left = int(sample_face.landmarks5[0, 0]) - 20  # cut the photo just left of her eye
    cut = np.ascontiguousarray(sample_rgb[:, left:])
    points = sample_face.landmarks5 - [left, 0]
    mirrored = align_face(cut, points, "anime", padding="reflect")
    softened = align_face(cut, points, "anime", padding="blur")
    inside = (apply_transform(np.linalg.inv(np.vstack([mirrored.matrix, [0, 0, 1]]))[:2],
                              np.stack(np.meshgrid(np.arange(256), np.arange(256)), -1).reshape(-1, 2))[:, 0] >= 1).reshape(256, 256)
    assert inside.mean() < 0.9  # the template does reach past the edge
    assert np.array_equal(mirrored.image[inside], softened.image[inside])  # the photo itself is untouched
    outside = ~inside
    outside[:, :8] = False  # the far edge, where the mirrored strip is thinnest
    assert softened.image[outside].std(axis=0).mean() < 0.6 * mirrored.image[outside].std(axis=0).mean()


def test_filling_past_the_photo_edge_fades_inside_the_photo_and_draws_no_pale_line():
    """Past the edge the aligned crop holds white padding: the fill must replace it wholly, and the seam must fade
    photo into fill (never padding into fill, which left a pale line the generators drew as a frame)."""
    from toonbridge.faces.align import fill_past_edge

    inside = np.zeros((128, 128), np.uint8)
    inside[:, :64] = 1  # the photo ends at column 64; the crop's own left border is not an edge
    aligned = np.where(inside[:, :, None] == 1, 100, 255).astype(np.uint8).repeat(3, axis=2)
    fill = np.full((64, 64, 3), 140, np.uint8)  # any size: resized to the crop
    result = fill_past_edge(aligned, inside, fill).astype(int)
    assert result.max() <= 140 and result.min() >= 100  # nothing paler than the fill: no padding shows
    assert (result[:, 64:] == 140).all()  # past the edge: the fill only
    assert (result[:, :40] == 100).all()  # deep in the photo, and along the crop's own border: the photo
    assert 100 < result[64, 60, 0] < 140  # the seam lies inside the photo
    assert fill_past_edge(aligned, np.ones_like(inside), fill) is aligned


def test_the_photo_region_of_a_crop_is_where_warping_the_photo_lands():
    """`photo_region` computes each crop pixel's source instead of warping a photo-sized mask (the cost of a 12 MP
    photo's mask, per face); it must mark exactly the pixels that warping the photo's own pixels fills."""
    from toonbridge.faces.align import photo_region

    rng = np.random.default_rng(0)
    for _ in range(50):
        height, width = (int(v) for v in rng.integers(60, 700, 2))
        angle, scale = rng.uniform(-0.6, 0.6), rng.uniform(0.15, 2.5)
        shift = rng.uniform(-250, 120, 2)
        matrix = np.array([[scale * np.cos(angle), -scale * np.sin(angle), shift[0]],
                           [scale * np.sin(angle), scale * np.cos(angle), shift[1]]])
        warped = cv2.warpAffine(np.ones((height, width), np.uint8), matrix, (128, 96), flags=cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        assert np.array_equal(photo_region((height, width, 3), matrix, (128, 96)), warped)
