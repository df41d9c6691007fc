"""The zarr store of a distributed run: the stylised stack, one chunk per slice, and which slices are done.

Layout of ``PATH.zarr`` (a zarr group): ``result``, float32, the whole stack's leading shape + one output
slice, chunked one slice per chunk; ``done``, bool, one per slice in flat C order, one chunk each (so
workers writing different slices never touch the same file); attribute ``neural_style``: the parameters,
content shape and dtype the store was made for. A slice is marked done only after it is written.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import zarr

from .params import StyleParams

RESULT, DONE, ATTR = "result", "done", "neural_style"


def open_store(path: str, params: StyleParams, content_shape: tuple[int, ...], content_dtype: np.dtype,
               shape: tuple[int, ...], lead: int) -> zarr.Group:
    """The store at ``path`` for a result of ``shape``: made when new, reopened to resume; ValueError when it
    holds a run of other parameters or content."""
    kept = {k: v for k, v in asdict(params).items() if k != "preview_every"}  # what changes the result
    meta = json.loads(json.dumps({"params": kept, "content_shape": list(content_shape),
                                  "content_dtype": str(np.dtype(content_dtype)), "result_shape": list(shape)}))
    root = zarr.open_group(str(path), mode="a")
    if ATTR in root.attrs:
        held = root.attrs[ATTR]
        if held != meta:
            diff = sorted(k for k in set(held) | set(meta) if held.get(k) != meta.get(k))
            if "params" in diff:
                diff += sorted(f"params.{k}" for k in meta["params"]
                               if held.get("params", {}).get(k) != meta["params"][k])
            raise ValueError(f"store {path} holds a run with other {', '.join(diff)}; to resume, use the same "
                             f"content and parameters, else give a new store")
        return root
    root.zeros(name=RESULT, shape=shape, chunks=(1,) * lead + shape[lead:], dtype="float32")
    root.zeros(name=DONE, shape=(int(np.prod(shape[:lead])),), chunks=(1,), dtype="bool")
    root.attrs[ATTR] = meta
    return root


def done_slices(root: zarr.Group) -> np.ndarray:
    """Which slices (flat C order) are finished."""
    return np.asarray(root[DONE][:])


def write_slice(path: str, where: tuple[int, ...], position: int, image: np.ndarray) -> None:
    """Write one finished slice at stack index ``where`` (flat ``position``), then mark it done."""
    root = zarr.open_group(str(path), mode="r+")
    root[RESULT][where] = image
    root[DONE][position] = True
