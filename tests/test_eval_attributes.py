"""The grey-hair measure of few-shot evaluation: grey or white hair above the eyes of a white-background cartoon."""

from __future__ import annotations

import numpy as np
import pytest

from toonbridge.eval.attributes import GREY_HAIR_THRESHOLD, grey_hair_fraction


def _cartoon(hair_rgb: tuple[int, int, int]) -> np.ndarray:
    image = np.full((128, 128, 3), 255, np.uint8)  # the white Bitmoji background
    image[10:30, 34:94] = hair_rgb  # hair above the eyes
    image[30:100, 40:88] = (230, 180, 140)  # skin
    return image


@pytest.mark.parametrize(("hair", "grey"), [((190, 190, 195), True), ((150, 150, 150), True),
                                             ((40, 30, 25), False), ((120, 80, 40), False), ((230, 180, 140), False)])
def test_grey_hair_is_unsaturated_light_hair(hair, grey):
    assert (grey_hair_fraction(_cartoon(hair)) >= GREY_HAIR_THRESHOLD) == grey


def test_background_alone_is_not_hair_and_other_sizes_are_resized():
    assert grey_hair_fraction(np.full((128, 128, 3), 255, np.uint8)) == 0.0
    big = np.repeat(np.repeat(_cartoon((190, 190, 195)), 2, axis=0), 2, axis=1)
    assert grey_hair_fraction(big) == pytest.approx(grey_hair_fraction(_cartoon((190, 190, 195))), abs=0.05)
