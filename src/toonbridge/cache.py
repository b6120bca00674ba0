"""Where toonbridge keeps derived files it can always rebuild (Inception features, aligned evaluation faces)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$TOONBRIDGE_CACHE``, else ``~/.cache/toonbridge``."""
    return Path(os.environ.get("TOONBRIDGE_CACHE", Path.home() / ".cache" / "toonbridge"))
