"""Hostile input, round 2 (issue 12): what an inbox holds beyond broken workbooks, tried through the
command line as a clerk or an attacker would fill the folder.

- special files named like workbooks (a FIFO, a link to /dev/zero, a socket, a folder) are named, never
  opened for reading, and nothing waits on them;
- every file of the inbox is read or named as skipped with its reason: a report saved without its
  extension or under another one is recognised by its content; batn's own annotated copies by the mark
  inside them, not by their name;
- figures in the wrong place (the "Ghi chú" column, a name re-pointed to another sheet, two zip members
  of one name, text typed under a narrative list, a form with no figures) are findings or are read;
- a newer broken file of a unit never erases its earlier valid one;
- which file is newer, and whether it is late, come from the save time the workbook records, so a
  copied inbox gives the same totals and statuses.

Each test compares the clean units' totals with a run on the clean files alone.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import unicodedata
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

import hostile as H
from batn.catalogue import load_catalogue
from batn.cli import app
from batn.demo import sample_values
from batn.pipeline import load_period
from batn.units import load_units
from batn.xlsx.package import stamp_saved_time
from batn.xlsx.template import layout_rows, write_template

UNITS = """code,name,parent,level
T,Tỉnh Đoàn Mẫu,,Tỉnh Đoàn
A,Đoàn cơ sở A,T,Đoàn cơ sở
B,Đoàn cơ sở B,T,Đoàn cơ sở
C,Đoàn cơ sở C,T,Đoàn cơ sở
D,Đoàn cơ sở D,T,Đoàn cơ sở
"""
CLEAN = ("A", "B", "C")
SENT = datetime(2024, 12, 10, 9, 0)       # before the deadline of period 2024
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, sockets and /dev/zero are POSIX")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("round2")
    (root / "units.csv").write_text(UNITS, encoding="utf-8")
    tree = load_units(root / "units.csv")
    cat, period = load_catalogue("3tn-2024"), load_period("2024")
    good = root / "good"
    files, values = {}, {}
    for i, code in enumerate(CLEAN + ("D",)):
        values[code] = sample_values(cat, __import__("random").Random(code), 12)
        p = write_template(good / f"{code}.xlsx", cat, tree[code], period, values=values[code],
                           narratives={"mo_hinh": [(f"Mô hình của {code}", tree[code].name, "Tốt")]})
        stamp_saved_time(p, SENT + timedelta(hours=i))
        files[code] = p
    rows = {code: ir.row for code, ir in layout_rows(cat)[1].items()}
    return dict(root=root, units=root / "units.csv", tree=tree, cat=cat, period=period, files=files,
                values=values, rows=rows)


def inbox_with(world, tmp_path, *codes) -> Path:
    inbox = tmp_path / "hop_thu"
    inbox.mkdir(exist_ok=True)
    for c in codes:
        shutil.copy2(world["files"][c], inbox / f"{c}.xlsx")
    return inbox


def consolidate(world, inbox: Path, out: Path, timeout: float | None = None) -> tuple[int, dict]:
    """`batn consolidate … --json` as a clerk runs it (a process of its own when a timeout matters)."""
    args = ["consolidate", str(inbox), "--units", str(world["units"]), "--catalog", "3tn-2024",
            "--period", "2024", "--out", str(out), "--json"]
    if timeout is None:
        r = CliRunner().invoke(app, args)
        code, stdout, stderr = r.exit_code, r.stdout, ""
    else:
        p = subprocess.run([sys.executable, "-m", "batn", *args], capture_output=True, timeout=timeout)
        code, stdout, stderr = p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    assert code in (0, 1), f"exit {code}: {stdout[-2000:]} {stderr[-2000:]}"
    assert "Traceback" not in stdout + stderr
    return code, json.loads(stdout)


def totals(data: dict) -> dict:
    return {k: v for k, v in data["totals"].items()}


def status(data: dict) -> dict:
    return {u["code"]: u["status"] for u in data["units"]}


def findings(data: dict, kind: str) -> list[dict]:
    return [f for f in data["findings"] if f["kind"] == kind]


@pytest.fixture(scope="module")
def clean_run(world, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clean")
    return consolidate(world, inbox_with(world, tmp, *CLEAN), tmp / "o.xlsx")[1]


# ---------------------------------------------------------------- special files

@POSIX_ONLY
def test_special_files_are_named_and_never_waited_on(world, tmp_path, clean_run):
    inbox = inbox_with(world, tmp_path, *CLEAN)
    os.mkfifo(inbox / "x.xlsx")                          # would block an open() forever
    os.symlink("/dev/zero", inbox / "zero.xlsx")         # endless bytes
    (inbox / "thu_muc.xlsx").mkdir()                     # a folder named like a workbook
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(inbox / "s.xlsx"))
    try:
        code, data = consolidate(world, inbox, tmp_path / "o.xlsx", timeout=120)
    finally:
        sock.close()
    named = {Path(f["file"]).name: f["message"] for f in data["findings"]
             if f["kind"] in ("skipped-file", "unreadable-file")}
    assert "FIFO" in named["x.xlsx"]
    assert "thiết bị" in named["zero.xlsx"]
    assert "thư mục" in named["thu_muc.xlsx"]
    assert "socket" in named["s.xlsx"]
    assert totals(data) == totals(clean_run) and status(data) == status(clean_run)
    assert load_workbook(tmp_path / "o.xlsx")                 # the consolidated workbook is written


@POSIX_ONLY
def test_validate_a_fifo_says_so_at_once(world, tmp_path):
    os.mkfifo(tmp_path / "x.xlsx")
    p = subprocess.run([sys.executable, "-m", "batn", "validate", str(tmp_path / "x.xlsx"), "--json"],
                       capture_output=True, timeout=60)
    assert p.returncode == 1, p.stderr
    (f,) = json.loads(p.stdout)["files"][0]["findings"]
    assert f["severity"] == "lỗi" and "FIFO" in f["message"]


# ---------------------------------------------------------------- every file read or named

def test_every_file_is_read_or_named(world, tmp_path, clean_run):
    inbox = inbox_with(world, tmp_path, "A", "C")
    shutil.copy2(world["files"]["B"], inbox / "BaoCao_B")                 # a mail client dropped the extension
    shutil.copy2(world["files"]["D"], inbox / "BaoCao_D.pdf")             # saved under another extension
    (inbox / "cong_van.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    (inbox / "anh.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 200)
    (inbox / "~$A.xlsx").write_bytes(b"\0" * 165)                         # Excel's lock file
    (inbox / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (inbox / "ghi_chu.txt").write_text("Đơn vị D gửi bản in", encoding="utf-8")
    sub = inbox / "thang_6"
    sub.mkdir()
    (sub / "rong.xlsx").write_bytes(b"")
    code, data = consolidate(world, inbox, tmp_path / "o.xlsx")

    st = status(data)
    assert st["B"] != "chưa nộp" and st["D"] != "chưa nộp"                # recognised by content
    mismatch = {Path(f["file"]).name for f in findings(data, "extension-mismatch")}
    assert mismatch == {"BaoCao_B", "BaoCao_D.pdf"}
    skipped = {Path(f["file"]).name: f["message"] for f in findings(data, "skipped-file")}
    assert set(skipped) == {"cong_van.pdf", "anh.jpg", "~$A.xlsx", ".DS_Store", "ghi_chu.txt"}
    assert "khóa" in skipped["~$A.xlsx"] and "không phải sổ tính" in skipped["cong_van.pdf"]
    assert [Path(f["file"]).name for f in findings(data, "unreadable-file")] == ["rong.xlsx"]
    # every file of the folder appears somewhere: read for a unit, or named
    used = {Path(u["file"]).name for u in data["units"] if u["file"]}
    mentioned = used | {Path(f["file"]).name for f in data["findings"] if f["file"]}
    every = {p.name for p in inbox.rglob("*") if p.is_file()}
    assert every <= mentioned, every - mentioned
    for c in CLEAN:
        assert st[c] == status(clean_run)[c]


def test_annotated_copies_are_known_by_their_mark_not_their_name(world, tmp_path, clean_run):
    inbox = inbox_with(world, tmp_path, *CLEAN)
    bad = inbox / "A.xlsx"
    H.rezip(world["files"]["A"], bad, H.in_part(H.SHEET_DATA, H.inline(f"D{world['rows']['CD_HIENMAU']}", "mười")))
    stamp_saved_time(bad, SENT)
    runner = CliRunner()
    for _ in range(2):                                                    # run twice over the whole folder
        r = runner.invoke(app, ["validate", *sorted(str(p) for p in inbox.iterdir()), "--annotate", "--json"])
        assert r.exit_code == 1, r.output
    names = sorted(p.name for p in inbox.iterdir())
    assert "A.kiem-tra.xlsx" in names and not any(".kiem-tra.kiem-tra" in n for n in names), names
    renamed = inbox / "Ban_sua_A.xlsx"                                     # renamed: still known by its mark
    shutil.copy2(inbox / "A.kiem-tra.xlsx", renamed)
    # a unit's real report whose name looks like an annotated copy is read
    shutil.copy2(world["files"]["D"], inbox / "BaoCao_D.kiem-tra.xlsx")
    code, data = consolidate(world, inbox, tmp_path / "o.xlsx")
    skipped = {Path(f["file"]).name for f in findings(data, "skipped-file") if "tô màu" in f["message"]}
    copies = {p.name for p in inbox.glob("*.kiem-tra.xlsx")} - {"BaoCao_D.kiem-tra.xlsx"}
    assert {"A.kiem-tra.xlsx", "Ban_sua_A.xlsx"} <= skipped and copies | {"Ban_sua_A.xlsx"} == skipped
    assert status(data)["D"] != "chưa nộp"
    assert not findings(data, "duplicate-unit")


# ---------------------------------------------------------------- a newer broken file

BREAKERS = {
    "error value": lambda w: H.in_part(H.SHEET_DATA, H.set_cell(f"D{w['rows']['CD_HIENMAU']}", "<v>#REF!</v>", ' t="e"')),
    "words for a figure": lambda w: H.in_part(H.SHEET_DATA, H.inline(f"D{w['rows']['TT_DOANVIEN']}", "chưa có")),
    "true for a figure": lambda w: H.in_part(H.SHEET_DATA, H.set_cell(f"D{w['rows']['CD_CAYXANH']}", "<v>1</v>", ' t="b"')),
    "name deleted": lambda w: H.in_part(H.WORKBOOK, lambda b: __import__("re").sub(
        rb'<definedName name="TT_DOANVIEN"[^>]*>[^<]*</definedName>', b"", b)),
}


@pytest.mark.parametrize("how", sorted(BREAKERS))
@pytest.mark.parametrize("newer_name", ["A_moi.xlsx", "0_A.xlsx"])
def test_a_newer_broken_file_never_erases_the_valid_one(world, tmp_path, clean_run, how, newer_name):
    inbox = inbox_with(world, tmp_path, *CLEAN)
    newer = H.rezip(world["files"]["A"], inbox / newer_name, BREAKERS[how](world))
    stamp_saved_time(newer, SENT + timedelta(days=1))
    code, data = consolidate(world, inbox, tmp_path / "o.xlsx")
    assert totals(data) == totals(clean_run)
    a = next(u for u in data["units"] if u["code"] == "A")
    assert Path(a["file"]).name == "A.xlsx"
    (note,) = findings(data, "newer-file-broken")
    assert newer_name in note["message"] and "A.xlsx" in note["message"]


def test_a_newer_valid_file_still_wins(world, tmp_path, clean_run):
    inbox = inbox_with(world, tmp_path, *CLEAN)
    cat, tree = world["cat"], world["tree"]
    newer = write_template(inbox / "A_moi.xlsx", cat, tree["A"], world["period"],
                           values={**world["values"]["A"], "CD_HIENMAU": 777})
    stamp_saved_time(newer, SENT + timedelta(days=1))
    code, data = consolidate(world, inbox, tmp_path / "o.xlsx")
    assert data["totals"]["CD_HIENMAU"] == clean_run["totals"]["CD_HIENMAU"] - world["values"]["A"]["CD_HIENMAU"] + 777
    assert findings(data, "duplicate-unit") and not findings(data, "newer-file-broken")


# ---------------------------------------------------------------- a copied inbox

def test_a_copied_inbox_gives_the_same_totals_and_statuses(world, tmp_path):
    inbox = inbox_with(world, tmp_path, *CLEAN)
    old = write_template(inbox / "Ban_cu_A.xlsx", world["cat"], world["tree"]["A"], world["period"],
                         values={**world["values"]["A"], "CD_CAYXANH": 3})
    stamp_saved_time(old, SENT - timedelta(days=1))                      # the unit's first, older copy
    code, before = consolidate(world, inbox, tmp_path / "a.xlsx")
    copy = tmp_path / "ban_sao"
    copy.mkdir()
    for p in sorted(inbox.iterdir(), key=lambda p: p.name != "Ban_cu_A.xlsx", reverse=True):
        shutil.copy(p, copy / p.name)                                     # new mtimes: the old copy arrives last
    assert os.stat(copy / "Ban_cu_A.xlsx").st_mtime >= os.stat(copy / "A.xlsx").st_mtime
    code, after = consolidate(world, copy, tmp_path / "b.xlsx")
    assert totals(after) == totals(before)
    assert status(after) == status(before) and "nộp muộn" not in status(after).values()
    assert not findings(after, "late") and not findings(after, "received-time-guessed")


def test_a_file_without_a_save_time_says_where_its_time_comes_from(world, tmp_path):
    inbox = inbox_with(world, tmp_path, "B", "C")
    p = H.rezip(world["files"]["A"], inbox / "A.xlsx",
                H.in_part("docProps/core.xml", lambda b: __import__("re").sub(rb"<dcterms:modified.*?</dcterms:modified>", b"", b)))
    t = (SENT + timedelta(hours=5)).timestamp()
    os.utime(p, (t, t))
    code, data = consolidate(world, inbox, tmp_path / "o.xlsx")
    (f,) = findings(data, "received-time-guessed")
    assert f["unit"] == "A" and "giờ sửa tệp" in f["message"] and SENT.strftime("%d/%m/%Y") in f["message"]


# ---------------------------------------------------------------- figures in the wrong place

def _tampered(world, inbox, code, change) -> Path:
    p = H.rezip(world["files"][code], inbox / f"{code}.xlsx", change)
    stamp_saved_time(p, SENT)
    return p


def test_a_figure_in_the_notes_column_is_flagged(world, tmp_path, clean_run):
    inbox = inbox_with(world, tmp_path, "B", "C")
    r = world["rows"]["CD_HIENMAU"]
    _tampered(world, inbox, "A", H.in_part(H.SHEET_DATA, H.chain(
        H.set_cell(f"D{r}", ""), lambda b: b.replace(b"</sheetData>", b"</sheetData>", 1),
        lambda b: H.set_cell(f"E{r}", "<v>45</v>")(b) if f'r="E{r}"'.encode() in b else
        b.replace(f'<c r="D{r}"'.encode(), f'<c r="E{r}"><v>45</v></c><c r="D{r}"'.encode(), 1))))
    code, data = consolidate(world, inbox, tmp_path / "o.xlsx")
    (f,) = findings(data, "figure-in-notes")
    assert f["severity"] == "lỗi" and f["cell"] == f"Số liệu!E{r}" and "45" in f["message"]
    assert code == 1


def test_a_name_moved_to_another_sheet_with_its_label_is_not_counted(world, tmp_path, clean_run):
    inbox = inbox_with(world, tmp_path, "B", "C")
    _tampered(world, inbox, "A", H.in_part(H.WORKBOOK, lambda b: __import__("re").sub(
        rb'(<definedName name="CD_HIENMAU"[^>]*>)[^<]*(</definedName>)',
        lambda m: m.group(1) + "'Hướng dẫn'!$D$5".encode() + m.group(2), b)))
    code, data = consolidate(world, inbox, tmp_path / "o.xlsx")
    (f,) = findings(data, "name-other-sheet")
    assert f["unit"] == "A" and "Hướng dẫn" in f["message"]
    assert data["totals"]["CD_HIENMAU"] == clean_run["totals"]["CD_HIENMAU"] - world["values"]["A"]["CD_HIENMAU"]


def test_two_zip_members_of_one_name_are_refused(world, tmp_path, clean_run):
    inbox = inbox_with(world, tmp_path, "B", "C")
    src = world["files"]["A"]
    with zipfile.ZipFile(src) as z:
        sheet = z.read(H.SHEET_DATA)
    r = world["rows"]["CD_HIENMAU"]
    other = H.set_cell(f"D{r}", "<v>99999</v>")(sheet)
    p = H.rezip(src, inbox / "A.xlsx", lambda n, b: b, add={H.SHEET_DATA.upper(): other})
    code, data = consolidate(world, inbox, tmp_path / "o.xlsx")
    (f,) = [f for f in findings(data, "unreadable-file") if f["file"] == str(p)]
    assert "hai phần cùng tên" in f["message"]
    assert status(data)["A"] == "chưa nộp"
    assert data["totals"]["CD_HIENMAU"] == clean_run["totals"]["CD_HIENMAU"] - world["values"]["A"]["CD_HIENMAU"]


def test_text_under_a_narrative_list_is_read_and_said(world, tmp_path):
    inbox = inbox_with(world, tmp_path, "B", "C")
    p = inbox / "A.xlsx"
    wb = load_workbook(world["files"]["A"])
    ws = wb["Mô hình tiêu biểu"]
    ws["B35"], ws["C35"], ws["D35"] = "Mô hình gõ dưới bảng", "Đoàn cơ sở A", "Được nhân rộng"
    ws["B36"] = "Mô hình thứ hai dưới bảng"
    wb.save(p)
    stamp_saved_time(p, SENT)
    code, data = consolidate(world, inbox, tmp_path / "o.xlsx")
    (f,) = findings(data, "text-below-table")
    assert "35, 36" in f["message"] and f["unit"] == "A"
    wb = load_workbook(tmp_path / "o.xlsx")
    texts = [c.value for row in wb["Mô hình tiêu biểu"].iter_rows() for c in row if isinstance(c.value, str)]
    assert "Mô hình gõ dưới bảng" in texts and "Mô hình thứ hai dưới bảng" in texts


def test_a_form_with_no_figures_is_warned_about(world, tmp_path):
    inbox = inbox_with(world, tmp_path, "B")
    p = write_template(inbox / "A.xlsx", world["cat"], world["tree"]["A"], world["period"], values={})
    stamp_saved_time(p, SENT)
    code, data = consolidate(world, inbox, tmp_path / "o.xlsx")
    (f,) = findings(data, "no-figures")
    assert f["unit"] == "A" and f["severity"] == "cảnh báo"


def test_decomposed_vietnamese_is_written_composed(world, tmp_path):
    nfd = lambda s: unicodedata.normalize("NFD", s)                      # noqa: E731
    (tmp_path / "units.csv").write_text(nfd(UNITS), encoding="utf-8")
    inbox = tmp_path / "hop_thu"
    inbox.mkdir()
    tree = load_units(tmp_path / "units.csv")
    p = write_template(inbox / "A.xlsx", world["cat"], tree["A"], world["period"], values={"CD_HIENMAU": "mười"},
                       narratives={"mo_hinh": [(nfd("Ngày thứ bảy tình nguyện"), nfd("Đoàn cơ sở A"), nfd("Tốt"))],
                                   "kho_khan": [(nfd("Kinh phí hạn hẹp"),)]})
    stamp_saved_time(p, SENT)
    r = CliRunner().invoke(app, ["consolidate", str(inbox), "--units", str(tmp_path / "units.csv"), "--catalog",
                                 "3tn-2024", "--period", "2024", "--out", str(tmp_path / "o.xlsx"), "--json"])
    assert r.exit_code == 1, r.output
    assert r.stdout == unicodedata.normalize("NFC", r.stdout)
    assert "mười" in r.stdout
    wb = load_workbook(tmp_path / "o.xlsx")
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for v in row:
                if isinstance(v, str):
                    assert v == unicodedata.normalize("NFC", v), (ws.title, v)


# ---------------------------------------------------------------- the scheduled run

@POSIX_ONLY
def test_batn_run_names_special_files_and_keeps_running(world, tmp_path):
    """`batn run` over an inbox with a FIFO, a link to /dev/zero and Office's lock file: each run ends,
    names them, and the next run works too (nothing stays stuck in the ledger or the reminders)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    inbox = inbox_with(world, ws, *CLEAN)
    shutil.copy2(world["units"], ws / "don_vi.csv")
    os.mkfifo(inbox / "x.xlsx")
    os.symlink("/dev/zero", inbox / "zero.xlsx")
    (inbox / "~$A.xlsx").write_bytes(b"\0" * 165)
    cfg = ws / "batn-run.toml"
    cfg.write_text('period = "2024"\ncatalogue = "3tn-2024"\nunits = "don_vi.csv"\nledger = "so/batn.sqlite3"\n'
                   '[[sources]]\ntype = "folder"\npath = "hop_thu"\n[outputs]\nfolder = "ket_qua"\n', encoding="utf-8")
    for _ in range(2):
        p = subprocess.run([sys.executable, "-m", "batn", "run", str(cfg), "--json"], capture_output=True, timeout=180)
        out = p.stdout.decode("utf-8", "replace")
        assert p.returncode in (0, 1), out + p.stderr.decode("utf-8", "replace")
        assert "Traceback" not in out + p.stderr.decode("utf-8", "replace")
        data = json.loads(out)
        named = {Path(f["file"]).name for f in data["findings"] if f["kind"] == "skipped-file"}
        assert {"x.xlsx", "zero.xlsx", "~$A.xlsx"} <= named, named


def test_the_shipped_demo_inbox_copied_in_any_order_keeps_its_totals(world, tmp_path):
    """The issue's case: `cp -r` of the demo inbox so that the old copy Ban_cu_CD_PQ_AT.xlsx arrives last."""
    src = Path(__file__).resolve().parent.parent / "workbooks" / "demo"
    runs = []
    for order in (sorted, lambda names: sorted(names, key=lambda n: n.startswith("Ban_cu"))):
        inbox = tmp_path / f"hop_thu_{len(runs)}"
        inbox.mkdir()
        for name in order([p.name for p in (src / "hop_thu").iterdir()]):
            shutil.copy(src / "hop_thu" / name, inbox / name)          # plain copy: new modification times
        r = CliRunner().invoke(app, ["consolidate", str(inbox), "--units", str(src / "don_vi.csv"), "--catalog",
                                     "3tn-2024", "--period", "2026-H1", "--out", str(tmp_path / f"{len(runs)}.xlsx"),
                                     "--json"])
        assert r.exit_code == 1, r.output           # the demo plants errors
        runs.append(json.loads(r.stdout))
    a, b = runs
    # the old copy is never the one counted: the totals are those of the inbox without it
    without = tmp_path / "khong_ban_cu"
    without.mkdir()
    for p in (src / "hop_thu").iterdir():
        if not p.name.startswith("Ban_cu"):
            shutil.copy(p, without / p.name)
    r = CliRunner().invoke(app, ["consolidate", str(without), "--units", str(src / "don_vi.csv"), "--catalog",
                                 "3tn-2024", "--period", "2026-H1", "--out", str(tmp_path / "k.xlsx"), "--json"])
    assert a["totals"] == b["totals"] == json.loads(r.stdout)["totals"]
    assert status(a) == status(b)
    assert list(status(b).values()).count("nộp muộn") == 1           # only the unit planted late
    (dup,) = findings(b, "duplicate-unit")
    assert dup["message"].endswith("Ban_cu_CD_PQ_AT.xlsx")             # the old copy is the one left out


def test_validate_a_folder_checks_every_file_in_it(world, tmp_path):
    inbox = inbox_with(world, tmp_path, "A", "B")
    (inbox / "~$A.xlsx").write_bytes(b"\0" * 165)
    r = CliRunner().invoke(app, ["validate", str(inbox), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert sorted(f["unit"] for f in data["files"]) == ["", "A", "B"]
    (skipped,) = [f for f in data["files"] if not f["unit"]]
    assert skipped["file"].endswith("~$A.xlsx") and skipped["findings"][0]["kind"] == "skipped-file"
