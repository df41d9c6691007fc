"""The style-transfer engine: numpy in, numpy out; no napari or Qt imports.

Parameters, plans and progress records import without torch; the run itself loads torch on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .params import StyleParams
from .plan import make_plan
from .progress import Progress

if TYPE_CHECKING:
    from .transfer import make_params, stylize, stylize_steps

__all__ = ["Progress", "StyleParams", "make_params", "make_plan", "stylize", "stylize_steps"]
_LAZY = ("make_params", "stylize", "stylize_steps")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import transfer

        return getattr(transfer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
