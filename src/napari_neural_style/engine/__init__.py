"""The style-transfer engine: numpy in, numpy out; no napari or Qt imports.

Only :mod:`.params` is imported eagerly; everything that needs torch loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .params import StyleParams

if TYPE_CHECKING:
    from .transfer import Progress, stylize, stylize_steps

__all__ = ["Progress", "StyleParams", "stylize", "stylize_steps"]


def __getattr__(name: str) -> Any:
    if name in ("Progress", "stylize", "stylize_steps"):
        from . import transfer

        return getattr(transfer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
