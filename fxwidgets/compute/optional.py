"""Optional engines (faiss, Ray, umap-learn, openTSNE): imported when a call asks for them, never at import time,
so the core installs without them and a missing one is an ImportError that says how to install it."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, needed_by: str, install: str) -> ModuleType:
    """``module`` imported, or ImportError("<needed_by> needs <module>, which is not installed: <install>")."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{needed_by} needs {module}, which is not installed: {install}") from exc
