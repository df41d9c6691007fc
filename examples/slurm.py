"""A long stack on a SLURM cluster with dask-jobqueue: each job runs single-threaded workers, finished
slices go to a zarr store on a shared file system, and a re-run resumes it.

    python examples/slurm.py STACK.zarr STYLE.png OUT.zarr [JOBS]

Adapt ``make_cluster`` (queue, account, memory, walltime) to your site; tests construct it without
submitting anything.
"""

from __future__ import annotations

import sys


def make_cluster():
    """8 single-threaded workers per job of 8 cores, with the engine's worker environment (one torch
    thread each; glibc's mmap threshold raised, see ``WORKER_ENV``)."""
    from dask_jobqueue import SLURMCluster

    from napari_neural_style.engine.cluster import WORKER_ENV

    return SLURMCluster(
        queue="cpu",  # your partition
        account=None,  # your project, where the site needs one
        cores=8,
        processes=8,  # one worker process per core, one thread each
        memory="32GB",
        walltime="04:00:00",
        job_script_prologue=[f"export {name}={value}" for name, value in WORKER_ENV.items()],
    )


def main(content_path: str, style_path: str, store: str, jobs: int = 4) -> None:
    import dask.array as da
    import numpy as np
    from distributed import Client
    from PIL import Image

    from napari_neural_style import StyleParams, stylize_steps

    content = da.from_zarr(content_path)  # read slice by slice, on the workers
    style = np.asarray(Image.open(style_path).convert("RGB"))
    with make_cluster() as cluster, Client(cluster) as client:
        cluster.scale(jobs=jobs)
        for p in stylize_steps(content, style, StyleParams(size=512, steps=80), client=client, store=store):
            print(f"\rslice {p.index} {p.step}/{p.total} ETA {p.eta:.0f}s", end="", flush=True)
    print(f"\ndone: {store}")


if __name__ == "__main__":
    main(*sys.argv[1:4], *(int(a) for a in sys.argv[4:5]))
