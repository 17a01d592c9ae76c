"""Where the per-file work runs: this process, this machine's cores, or a Dask cluster.

Only reading and checking a file is spread out; the roll-up always runs in the caller, so
every engine gives the same totals. Results come back in file order.
"""
from __future__ import annotations

import gc
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Sequence

from .checks import Expectation
from .model import Catalogue, Finding, Submission, TextSpool
from .rollup import keep_for_rollup

PARALLEL_FROM = 64      # below this many files, starting processes costs more than it saves
CONNECT_TIMEOUT_S = 20  # how long to try a Dask scheduler's address before saying it cannot be reached
_worker_ctx: tuple[Catalogue, Expectation] | None = None


def _init(catalogue: Catalogue, expect: Expectation) -> None:
    global _worker_ctx
    _worker_ctx = (catalogue, expect)


def _read_one(path: Path) -> Submission:
    from .pipeline import read_checked

    assert _worker_ctx is not None
    return read_checked(path, *_worker_ctx)


def read_inbox(inbox: str | Path, catalogue: Catalogue, expect: Expectation, *, engine: str = "local",
               workers: int | None = None, scheduler: str | None = None,
               progress: Callable[[int, int], None] = lambda d, t: None,
               meanwhile: Callable[[], None] | None = None) -> tuple[list[Submission], list[Finding]]:
    """Every file of the inbox read and checked, and the findings of the files not opened
    (reader.list_inbox). On this machine's cores, a large inbox's reader processes start before the
    files are listed, and `meanwhile` (what the caller needs next, e.g. its writer's imports) runs
    here while they read: neither waits for the other."""
    from .xlsx.reader import list_inbox

    workers = workers if workers is not None else (os.cpu_count() or 1)
    if engine == "local" and workers > 1 and _holds_at_least(inbox, PARALLEL_FROM):
        with _pool(catalogue, expect, workers) as ex:
            ex.submit(int)                          # forks the readers now; they load while we list
            files, skipped = list_inbox(inbox)      # str paths: a tenth of a Path's memory, ×10,000 files
            return _read_on(ex, files, catalogue, progress, meanwhile), skipped
    files, skipped = list_inbox(inbox)
    return read_many(files, catalogue, expect, engine=engine, workers=workers, scheduler=scheduler,
                     progress=progress, meanwhile=meanwhile), skipped


def read_many(files: Sequence[Path], catalogue: Catalogue, expect: Expectation, *, engine: str = "local",
              workers: int | None = None, scheduler: str | None = None,
              progress: Callable[[int, int], None] = lambda d, t: None,
              meanwhile: Callable[[], None] | None = None) -> list[Submission]:
    from .pipeline import read_checked

    n = len(files)
    if engine not in ("local", "dask"):
        raise ValueError(f"Không có cách chạy '{engine}'; dùng local hoặc dask")
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if engine == "local" and workers > 1 and n >= PARALLEL_FROM:
        with _pool(catalogue, expect, workers) as ex:
            return _read_on(ex, files, catalogue, progress, meanwhile)
    if meanwhile is not None:
        meanwhile()
    if engine == "dask":
        return _read_dask(files, catalogue, expect, scheduler, workers, progress)
    out: list[Submission] = []
    spool = TextSpool()           # the units' narrative text waits on disk for the workbook
    for i, f in enumerate(files, start=1):
        out.append(_same_source(keep_for_rollup(read_checked(f, catalogue, expect), catalogue, spool), f))
        progress(i, n)
    return out


@contextmanager
def _pool(catalogue: Catalogue, expect: Expectation, workers: int):
    from .startup import load_reader

    load_reader()             # once here, not once in every reader process
    # What this process holds when the readers fork (modules, catalogue, units) is moved out of the
    # cyclic collector's reach (gc.freeze, as Python's gc documentation advises before a fork): no
    # reader's collection walks it again, nor writes to its pages (they stay shared), and neither do
    # ours while the results come in. Given back once the files are read.
    gc.freeze()
    try:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(catalogue, expect)) as ex:
            yield ex
    finally:
        gc.unfreeze()


def _read_on(ex: ProcessPoolExecutor, files: Sequence, catalogue: Catalogue, progress,
             meanwhile: Callable[[], None] | None) -> list[Submission]:
    n = len(files)
    out: list[Submission] = []
    spool = TextSpool()           # the units' narrative text waits on disk for the workbook
    results = ex.map(_read_one, files, chunksize=16)      # every file handed out now
    if meanwhile is not None:
        meanwhile()               # the readers are forked already: a thread or import here cannot reach them
    for i, (f, sub) in enumerate(zip(files, results), start=1):
        out.append(_same_source(keep_for_rollup(sub, catalogue, spool), f))
        progress(i, n)
    return out


def _holds_at_least(folder: str | Path, n: int) -> bool:
    """True when the folder itself lists n entries or more (one directory read, stopped at n): a
    large inbox, worth starting the readers before its files are listed and checked one by one."""
    try:
        with os.scandir(folder) as it:
            return sum(1 for _ in zip(range(n), it)) >= n
    except OSError:
        return False


def _same_source(sub: Submission, path) -> Submission:
    """The caller already holds the file's path as a string: the submission shares it rather than
    keeping the copy that came back from the reader (10,000 paths are about a megabyte)."""
    if isinstance(path, str) and sub.source == path:
        sub.source = path
    return sub


def _file_payload(path: Path) -> tuple[bytes | None, float | None]:
    """The bytes a remote worker reads instead of the path (its machine may not see the inbox).
    A file too large or unreadable here is sent as None: the worker then reads the path, and
    reports exactly what a local read would (too large, missing...)."""
    from .xlsx.package import MAX_FILE_BYTES

    try:
        st = path.stat()
        if st.st_size > MAX_FILE_BYTES:
            return None, None
        return path.read_bytes(), st.st_mtime
    except OSError:
        return None, None


def _read_dask(files, catalogue, expect, scheduler, workers, progress) -> list[Submission]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - optional dependency
        raise ValueError("Cần cài gói dask[distributed]: pip install 'batn[dask]'") from None
    from .pipeline import read_checked

    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as e:
            raise ValueError(f"Không kết nối được tới Dask scheduler (máy điều phối) {scheduler} sau "
                             f"{CONNECT_TIMEOUT_S} giây. Hãy kiểm tra trên máy đó lệnh `dask scheduler` đang chạy, "
                             "địa chỉ và cổng (mặc định 8786), và tường lửa.") from e
    else:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        cat_f = client.scatter(catalogue, broadcast=True)
        exp_f = client.scatter(expect, broadcast=True)
        # A bounded window of files in flight: the client holds the bytes of a few hundred files
        # at most, however large the inbox (memory stays flat, as with the local pool).
        window = max(64, 32 * len(client.scheduler_info().get("workers", {}) or [1]))
        out: list[Submission | None] = [None] * len(files)
        spool = TextSpool()
        index: dict[str, int] = {}
        pending = iter(enumerate(files))

        def submit_next():
            for i, f in pending:
                data, received = _file_payload(Path(f))
                fut = client.submit(read_checked, str(f), cat_f, exp_f, data, received, pure=False)
                index[fut.key] = i
                return fut
            return None

        first = [fut for fut in (submit_next() for _ in range(min(window, len(files)))) if fut is not None]
        done = 0
        ac = as_completed(first)
        for fut in ac:
            i = index.pop(fut.key)
            out[i] = _same_source(keep_for_rollup(fut.result(), catalogue, spool), str(files[i]))
            fut.release()
            done += 1
            progress(done, len(files))
            nxt = submit_next()
            if nxt is not None:
                ac.add(nxt)
        return out  # type: ignore[return-value]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
