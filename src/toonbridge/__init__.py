"""toonbridge: face photos to cartoon faces and back."""

from toonbridge.errors import InvalidImage, NoFaceFound, ToonbridgeError
from toonbridge.faces import detect
from toonbridge.imageio import load_image

__version__ = "0.1.0"
__all__ = ["InvalidImage", "NoFaceFound", "Style", "ToonbridgeError", "detect", "generate", "load", "load_image", "styles", "__version__"]


def __getattr__(name: str):
    # The translation API imports torch; keep `import toonbridge` (and the CLI's start-up) light until it is used.
    if name in ("Style", "generate", "load", "styles"):
        from toonbridge import api

        return getattr(api, name)
    raise AttributeError(f"module 'toonbridge' has no attribute {name!r}")
