"""toonbridge: face photos to cartoon faces and back."""

from toonbridge.errors import InvalidImage, NoFaceFound, ToonbridgeError
from toonbridge.faces import detect
from toonbridge.imageio import load_image

__version__ = "0.1.0"
__all__ = ["InvalidImage", "NoFaceFound", "ToonbridgeError", "detect", "load_image", "__version__"]
