"""``python -m napari_neural_style``: the command line."""

from .cli import main

raise SystemExit(main())
