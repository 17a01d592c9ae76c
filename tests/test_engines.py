"""The local process pool and the Dask engine give the same consolidation as reading in one process."""
from __future__ import annotations

import random

import pytest

from batn.catalogue import load_catalogue
from batn.demo import sample_values
from batn.engines import PARALLEL_FROM
from batn.model import Unit, UnitTree
from batn.pipeline import consolidate_inbox, load_period
from batn.xlsx.template import write_template

N = PARALLEL_FROM + 6     # enough files for the pool to start


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    cat, period = load_catalogue("3tn-2024"), load_period("2024")
    units = [Unit("T", "Tỉnh Đoàn", None)] + [Unit(f"M{i}", f"Đoàn khối {i}", "T") for i in range(3)]
    units += [Unit(f"U{i:03d}", f"Chi đoàn {i}", f"M{i % 3}") for i in range(N)]
    tree = UnitTree(units)
    d = tmp_path_factory.mktemp("inbox")
    rng = random.Random(11)
    for u in units[4:]:
        write_template(d / f"{u.code}.xlsx", cat, u, period, values=sample_values(cat, rng, 25))
    (d / "hong.xlsx").write_bytes(b"PK\x03\x04 broken")
    return tree, cat, period, d


def _summary(cons):
    return ({c: r.totals for c, r in cons.units.items()}, {c: r.status for c, r in cons.units.items()},
            sorted((f.kind, f.file, f.cell) for f in cons.findings))


def test_process_pool_equals_one_process(inbox):
    tree, cat, period, d = inbox
    one = consolidate_inbox(d, tree, cat, period, workers=1)
    pool = consolidate_inbox(d, tree, cat, period, workers=2)
    assert _summary(one) == _summary(pool)
    assert one.totals["CD_HIENMAU"] > 0


def test_what_was_frozen_for_the_readers_is_given_back(inbox):
    """engines._pool freezes the collector's objects before the readers fork; once the files are
    read, the collector has them back (a long-running process must not keep them out of reach)."""
    import gc

    tree, cat, period, d = inbox
    seen = []
    consolidate_inbox(d, tree, cat, period, workers=2, progress=lambda done, total: seen.append(gc.get_freeze_count()))
    assert seen and min(seen) > 0               # frozen while the results came in
    assert gc.get_freeze_count() == 0


@pytest.mark.slow
def test_dask_local_cluster_equals_local(inbox):
    pytest.importorskip("dask.distributed", reason="dask[distributed] not installed")
    tree, cat, period, d = inbox
    local = consolidate_inbox(d, tree, cat, period, workers=1)
    dask = consolidate_inbox(d, tree, cat, period, engine="dask", workers=2)
    assert _summary(local) == _summary(dask)
    assert repr(local.totals) == repr(dask.totals)      # byte for byte in the consolidated values


def test_reading_from_bytes_needs_no_file(inbox):
    """What a Dask worker on another machine does: the same Submission from the bytes alone,
    the path naming a file that does not exist there."""
    from batn.pipeline import expectation_for, read_checked

    tree, cat, period, d = inbox
    expect = expectation_for(tree, cat, period)
    files = sorted(d.iterdir())
    assert any(f.name == "hong.xlsx" for f in files)
    for f in files[:12] + [d / "hong.xlsx"]:
        here = read_checked(f, cat, expect)
        away = read_checked(f"/khong-co/{f.name}", cat, expect, data=f.read_bytes(), received=f.stat().st_mtime)
        assert away.source == f"/khong-co/{f.name}"
        assert (away.values, away.unit, away.sha256, away.received, away.is_total) == \
            (here.values, here.unit, here.sha256, here.received, here.is_total)
        assert [(x.kind, x.cell, x.message.replace(str(f), "F").replace(f"/khong-co/{f.name}", "F"))
                for x in away.findings] == \
            [(x.kind, x.cell, x.message.replace(str(f), "F")) for x in here.findings]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_batn_consolidate_on_a_dask_scheduler_and_workers(inbox, tmp_path):
    """The command an office runs against a real cluster: `dask scheduler` and `dask worker` as
    their own processes on loopback, then `batn consolidate --engine dask --scheduler ADDRESS`.
    The workers start in an empty folder; the totals equal the local engine's."""
    pytest.importorskip("dask.distributed", reason="dask[distributed] not installed")
    import json
    import shutil
    import os
    import subprocess
    import time

    from batn.cli import app
    from batn.units import write_units_csv
    from typer.testing import CliRunner

    tree, cat, period, d = inbox
    dask_cli = shutil.which("dask") or ""
    if not dask_cli:
        pytest.skip(reason="the `dask` command is not on PATH")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    away = tmp_path / "worker-home"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    procs = [subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], cwd=away, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        time.sleep(1.0)
        procs.append(subprocess.Popen([dask_cli, "worker", address, "--nworkers", "2", "--nthreads", "1",
                                       "--no-dashboard"], cwd=away, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from dask.distributed import Client

        with Client(address, timeout=30) as c:
            c.wait_for_workers(2, timeout=60)
        units = tmp_path / "don_vi.csv"
        write_units_csv(tree, units)
        common = ["consolidate", str(d), "--units", str(units), "--catalog", cat.id, "--period", period.id, "--json"]
        local = CliRunner().invoke(app, common + ["--out", str(tmp_path / "local.xlsx"), "--workers", "1"])
        remote = CliRunner().invoke(app, common + ["--out", str(tmp_path / "dask.xlsx"), "--engine", "dask",
                                                   "--scheduler", address])
        assert local.exit_code == remote.exit_code, remote.output[-2000:]
        a, b = json.loads(local.stdout), json.loads(remote.stdout)
        assert a["totals"] == b["totals"] and a["units"] == b["units"] and a["totals"]["CD_HIENMAU"] > 0
        assert sorted(map(json.dumps, a["findings"])) == sorted(map(json.dumps, b["findings"]))
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_unreachable_dask_scheduler_is_a_clear_error(inbox, tmp_path, monkeypatch):
    """A wrong address or a stopped scheduler: one Vietnamese line and exit 2, not a traceback."""
    pytest.importorskip("dask.distributed", reason="dask[distributed] not installed")
    from typer.testing import CliRunner

    import batn.engines as E
    from batn.cli import app
    from batn.units import write_units_csv

    monkeypatch.setattr(E, "CONNECT_TIMEOUT_S", 2)
    tree, cat, period, d = inbox
    units = tmp_path / "don_vi.csv"
    write_units_csv(tree, units)
    r = CliRunner().invoke(app, ["consolidate", str(d), "--units", str(units), "--catalog", cat.id,
                                 "--period", period.id, "--out", str(tmp_path / "t.xlsx"), "--engine", "dask",
                                 "--scheduler", f"tcp://127.0.0.1:{_free_port()}"])
    assert r.exit_code == 2, r.output
    assert "Không kết nối được tới Dask scheduler" in r.output and "Traceback" not in r.output
