"""napari-neural-style: Gatys neural style transfer for napari, from the console and the command line.

``from napari_neural_style import stylize`` works without importing torch until the first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import engine
from .engine import Progress, StyleParams

if TYPE_CHECKING:
    from .engine import stylize, stylize_lazy, stylize_steps

__version__ = "0.1.0"
__all__ = ["Progress", "StyleParams", "__version__", "stylize", "stylize_lazy", "stylize_steps"]


def __getattr__(name: str) -> Any:
    if name in ("stylize", "stylize_lazy", "stylize_steps"):
        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
