"""The face pipeline: detect faces with 68 landmarks, align them to a style's template, paste results back; and
``face_descriptor``: dlib's 128-d face descriptor from our PyTorch copy of its network (:mod:`.features`)."""

from toonbridge.faces.align import AlignedFace, align_face, align_faces, similarity_transform, warp_to_template
from toonbridge.faces.detection import DetectorConfig, Face, FaceDetector, detect
from toonbridge.faces.landmarks import five_from_68, flip_landmarks
from toonbridge.faces.paste import paste_back
from toonbridge.faces.templates import Template, get_template, register_template, template_names

__all__ = [
    "AlignedFace",
    "DetectorConfig",
    "Face",
    "FaceDetector",
    "Template",
    "align_face",
    "align_faces",
    "detect",
    "face_descriptor",
    "five_from_68",
    "flip_landmarks",
    "get_template",
    "paste_back",
    "register_template",
    "similarity_transform",
    "template_names",
    "warp_to_template",
]


def __getattr__(name: str):
    # The face network imports torch; keep `import toonbridge.faces` light until it is used.
    if name == "face_descriptor":
        from toonbridge.faces.features import face_descriptor

        return face_descriptor
    raise AttributeError(f"module 'toonbridge.faces' has no attribute {name!r}")
