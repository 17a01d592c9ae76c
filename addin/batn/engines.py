"""Where the per-file work runs: this process, this machine's cores, or a Dask cluster.

Only reading and checking a file is spread out; the roll-up always runs in the caller, so
every engine gives the same totals. Results come back in file order.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

from .checks import Expectation
from .model import Catalogue, Submission

PARALLEL_FROM = 64      # below this many files, starting processes costs more than it saves
_worker_ctx: tuple[Catalogue, Expectation] | None = None


def _init(catalogue: Catalogue, expect: Expectation) -> None:
    global _worker_ctx
    _worker_ctx = (catalogue, expect)


def _read_one(path: Path) -> Submission:
    from .pipeline import read_checked

    assert _worker_ctx is not None
    return read_checked(path, *_worker_ctx)


def read_many(files: Sequence[Path], catalogue: Catalogue, expect: Expectation, *, engine: str = "local",
              workers: int | None = None, scheduler: str | None = None,
              progress: Callable[[int, int], None] = lambda d, t: None) -> list[Submission]:
    from .pipeline import read_checked

    n = len(files)
    if engine == "dask":
        return _read_dask(files, catalogue, expect, scheduler, workers, progress)
    if engine != "local":
        raise ValueError(f"Không có cách chạy '{engine}'; dùng local hoặc dask")
    workers = workers if workers is not None else (os.cpu_count() or 1)
    out: list[Submission] = []
    if workers <= 1 or n < PARALLEL_FROM:
        for i, f in enumerate(files, start=1):
            out.append(read_checked(f, catalogue, expect))
            progress(i, n)
        return out
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(catalogue, expect)) as ex:
        for i, sub in enumerate(ex.map(_read_one, files, chunksize=16), start=1):
            out.append(sub)
            progress(i, n)
    return out


def _read_dask(files, catalogue, expect, scheduler, workers, progress) -> list[Submission]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - optional dependency
        raise ValueError("Cần cài gói dask[distributed]: pip install 'batn[dask]'") from None
    from .pipeline import read_checked

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        cat_f = client.scatter(catalogue, broadcast=True)
        exp_f = client.scatter(expect, broadcast=True)
        futures = [client.submit(read_checked, str(f), cat_f, exp_f, pure=False) for f in files]
        index = {f.key: i for i, f in enumerate(futures)}
        out: list[Submission | None] = [None] * len(files)
        for done, fut in enumerate(as_completed(futures), start=1):
            out[index[fut.key]] = fut.result()
            progress(done, len(files))
        return out  # type: ignore[return-value]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
