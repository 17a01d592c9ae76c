"""The SQLite ledger on its own: archive by content, idempotent recording, value-level changes,
one transaction per run, consistency checks. No spreadsheet involved."""
from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from batn.ledger import Incoming, Ledger, LedgerError, RunBatch, change_sentence


def _file(tmp_path, name: str, content: bytes):
    p = tmp_path / "hop_thu" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content)
    return p


def _batch(recs_values: list, period: str = "2025", outputs: dict | None = None, totals: dict | None = None):
    """recs_values: [(Received, unit, values)], the last one of each unit is the one used."""
    incoming = [Incoming(rec, "đã nộp", unit=unit, unit_name=f"Đoàn phường {unit}", period=period,
                         catalogue="3tn-2024", values=values) for rec, unit, values in recs_values]
    chosen = {unit: rec.sha256 for rec, unit, _ in recs_values}
    return RunBatch(period=period, catalogue="3tn-2024", root="T", incoming=incoming, chosen=chosen,
                    totals=totals if totals is not None else {"T": {"A": 1}}, outputs=outputs or {})


@pytest.fixture
def led(tmp_path):
    with Ledger(tmp_path / "so" / "batn.sqlite3", tmp_path / "so" / "luu_tru") as lg:
        yield lg


def test_archive_is_by_content_once_and_read_only(tmp_path, led):
    a = led.archive(_file(tmp_path, "a.xlsx", b"same bytes"))
    b = led.archive(_file(tmp_path, "b.xlsx", b"same bytes"))
    c = led.archive(_file(tmp_path, "c.xlsx", b"other bytes"))
    assert a.sha256 == b.sha256 != c.sha256
    assert a.archive == b.archive == f"{a.sha256[:2]}/{a.sha256}.xlsx"
    assert b.source.endswith("b.xlsx")
    copy = led.archive_path(a)
    assert copy.read_bytes() == b"same bytes"
    assert not os.stat(copy).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert sorted(p.name for p in led.archive_dir.rglob("*") if p.is_file()) == sorted(
        [f"{a.sha256}.xlsx", f"{c.sha256}.xlsx"])


def test_archive_skips_a_file_being_written(tmp_path, led, monkeypatch):
    src = _file(tmp_path, "dang_ghi.xlsx", b"half")
    real_stat = os.stat
    calls = []

    def moving_stat(path, *a, **k):
        st = real_stat(path, *a, **k)
        if str(path) == str(src):
            calls.append(1)
            # the time before the copy comes from the opened file (fstat); the stat after it sees
            # that the clerk's program wrote more while we copied
            if len(calls) >= 1:
                os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
                return real_stat(path, *a, **k)
        return st

    monkeypatch.setattr("batn.ledger.os.stat", moving_stat)
    assert led.archive(src) is None
    assert not [p for p in led.archive_dir.rglob("*") if p.is_file()]   # no temporary file left


def test_same_inputs_add_no_rows(tmp_path, led):
    rec = led.archive(_file(tmp_path, "u.xlsx", b"v1"))
    batch = _batch([(rec, "U", {"CV_T7TN_BUOI": 12, "X": None})], outputs={"/o/t.xlsx": "a" * 64})
    first = led.record(batch)
    assert first.run_id == 1 and first.new_files == 1 and first.new_submissions == 1
    counts = led.counts()
    again = led.record(batch)
    assert again.run_id is None and not again.changed
    assert led.counts() == counts
    assert counts["runs"] == 1 and counts["submissions"] == 1 and counts["submission_values"] == 2
    # a new output version alone is a run worth recording
    assert led.record(_batch([(rec, "U", {"CV_T7TN_BUOI": 12, "X": None})],
                             outputs={"/o/t.xlsx": "b" * 64})).outputs_changed
    assert led.last_outputs() == {"/o/t.xlsx": "b" * 64}


def test_resubmission_records_exactly_its_value_level_diff(tmp_path, led):
    v1 = {"CV_T7TN_BUOI": 12, "CD_HIENMAU": 30, "CD_CAYXANH": 5, "KT_TAPTHE": None}
    v2 = {**v1, "CV_T7TN_BUOI": 21, "CD_CAYXANH": None, "KT_TAPTHE": 2}
    r1 = led.archive(_file(tmp_path, "x1.xlsx", b"first"))
    r2 = led.archive(_file(tmp_path, "x2.xlsx", b"second"))
    assert led.record(_batch([(r1, "X", v1)])).changes == []
    rec = led.record(_batch([(r1, "X", v1), (r2, "X", v2)]))
    got = {(c.code, c.old, c.new) for c in rec.changes}
    assert got == {("CV_T7TN_BUOI", 12, 21), ("CD_CAYXANH", 5, None), ("KT_TAPTHE", None, 2)}
    assert [c.sentence() for c in led.changes(unit="X") if c.code == "CV_T7TN_BUOI"] == \
        ["Đoàn phường X sửa CV_T7TN_BUOI từ 12 thành 21"]
    assert led.changes(unit="X", period="2025")[0].from_source.endswith("x1.xlsx")
    # the same state again: nothing new
    assert led.record(_batch([(r1, "X", v1), (r2, "X", v2)])).run_id is None
    # going back to the first file is a change too (A -> B -> A)
    back = led.record(_batch([(r2, "X", v2), (r1, "X", v1)]))
    assert {(c.code, c.old, c.new) for c in back.changes} == {("CV_T7TN_BUOI", 21, 12), ("CD_CAYXANH", None, 5),
                                                               ("KT_TAPTHE", 2, None)}
    used = [s for s in led.submissions(unit="X") if s.used]
    assert len(used) == 1 and used[0].source.endswith("x1.xlsx")
    assert led.check(deep=True) == []


def test_change_sentence_wording():
    assert change_sentence("Đoàn phường X", "CV_T7TN_BUOI", 12, 21) == "Đoàn phường X sửa CV_T7TN_BUOI từ 12 thành 21"
    assert change_sentence("Đoàn phường X", "CV_CTPV_TIEN", 1_540_000_000.0, None, "Giá trị công trình") == \
        "Đoàn phường X sửa CV_CTPV_TIEN (Giá trị công trình) từ 1.540.000.000 thành (trống)"


def test_a_failed_transaction_leaves_no_trace(tmp_path, led):
    rec = led.archive(_file(tmp_path, "u.xlsx", b"v1"))
    led.record(_batch([(rec, "U", {"A": 1})]))
    before = led.counts()
    rec2 = led.archive(_file(tmp_path, "u2.xlsx", b"v2"))

    def boom():
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        led.record(_batch([(rec2, "U", {"A": 2})], totals={"T": {"A": 2}}), before_commit=boom)
    assert led.counts() == before
    assert led.changes(unit="U") == []
    ok = led.record(_batch([(rec2, "U", {"A": 2})], totals={"T": {"A": 2}}))
    assert [(c.old, c.new) for c in ok.changes] == [(1, 2)]


def test_history_readers(tmp_path, led):
    for period, n in (("2023", 10), ("2024", 12), ("2024-H1", 5)):
        rec = led.archive(_file(tmp_path, f"{period}.xlsx", period.encode()))
        led.record(_batch([(rec, "U", {"CD_HIENMAU": n})], period=period, totals={"T": {"CD_HIENMAU": n * 3}}))
    assert led.own_history("U") == {"2023": {"CD_HIENMAU": 10}, "2024": {"CD_HIENMAU": 12},
                                    "2024-H1": {"CD_HIENMAU": 5}}
    assert led.totals_history("T")["2024"] == {"CD_HIENMAU": 36}
    assert [r["period"] for r in led.runs()] == ["2024-H1", "2024", "2023"]


def test_check_finds_a_missing_archive_file_and_sqlite_agrees(tmp_path, led):
    rec = led.archive(_file(tmp_path, "u.xlsx", b"v1"))
    led.record(_batch([(rec, "U", {"A": 1})]))
    assert led.check(deep=True) == []
    p = led.archive_path(rec)
    os.chmod(p, 0o644)
    p.unlink()
    assert led.check() == [f"Thiếu tệp lưu trữ {rec.archive}"]
    db = sqlite3.connect(led.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_newer_ledger_is_refused(tmp_path):
    path = tmp_path / "batn.sqlite3"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(LedgerError, match="phiên bản batn mới hơn"):
        Ledger(path)


def test_clean_temporary_removes_only_leftovers(tmp_path, led):
    rec = led.archive(_file(tmp_path, "u.xlsx", b"v1"))
    (led.archive_dir / ".batn-tmp-abc").write_bytes(b"half")
    assert led.clean_temporary() == 1
    assert led.archive_path(rec).is_file()
