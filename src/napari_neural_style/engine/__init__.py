"""The style-transfer engine: numpy in, numpy out; no napari or Qt imports.

Parameters, plans and progress records import without torch; the run itself loads torch on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .params import StyleParams
from .plan import make_plan
from .progress import Progress

if TYPE_CHECKING:
    from .lazy import stylize_lazy
    from .transfer import make_params, stylize, stylize_steps

__all__ = ["Progress", "StyleParams", "make_params", "make_plan", "stylize", "stylize_lazy", "stylize_steps"]
_LAZY = {"make_params": "transfer", "stylize": "transfer", "stylize_steps": "transfer", "stylize_lazy": "lazy"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
