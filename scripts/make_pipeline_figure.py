"""Draw docs/pipeline.png from the bundled public-domain sample: detection with 68 landmarks, the aligned faces for
each template, and a paste-back (of the aligned face with its colours inverted, to show the feathered blend).

    python scripts/make_pipeline_figure.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from toonbridge.faces import align_face, detect, get_template, paste_back
from toonbridge.imageio import load_image, save_image

REPO = Path(__file__).resolve().parents[1]
HEIGHT = 256


def fit(image: np.ndarray) -> np.ndarray:
    scale = HEIGHT / image.shape[0]
    return cv2.resize(image, (round(image.shape[1] * scale), HEIGHT), interpolation=cv2.INTER_AREA)


def main() -> None:
    photo = load_image(REPO / "src/toonbridge/assets/astronaut.jpg")
    face = detect(photo)[0]
    marked = photo.copy()
    x0, y0, x1, y1 = (int(round(v)) for v in face.box)
    cv2.rectangle(marked, (x0, y0), (x1, y1), (0, 255, 0), 2)
    for x, y in face.landmarks68:
        cv2.circle(marked, (int(round(x)), int(round(y))), 2, (255, 40, 40), -1)
    for x, y in face.landmarks5:
        cv2.circle(marked, (int(round(x)), int(round(y))), 4, (255, 255, 0), -1)

    panels = [fit(marked)]
    for name in ("bitmoji", "anime"):
        aligned = align_face(photo, face, name)
        template = aligned.image.copy()
        for x, y in get_template(name).points5:
            cv2.circle(template, (int(round(x)), int(round(y))), max(2, template.shape[0] // 64), (255, 255, 0), -1)
        panels.append(fit(template))
    aligned = align_face(photo, face, "anime")
    panels.append(fit(paste_back(photo, [(aligned, 255 - aligned.image)])))
    gap = np.full((HEIGHT, 8, 3), 255, np.uint8)
    strip = np.concatenate([p for panel in panels for p in (panel, gap)][:-1], axis=1)
    save_image(strip, REPO / "docs" / "pipeline.png")


if __name__ == "__main__":
    main()
