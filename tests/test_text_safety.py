"""One text-safety layer for every writer (issue 12, items 3 and 6): batn.textsafe.

Item 3: file names that are not text (bytes that are not UTF-8, a newline, a tab, a right-to-left
override) reach every output (terminal, JSON, CSV, xlsx, docx, e-mail, ledger) shown with
visible escapes, and no command falls over on them, the second `batn run` included.
Item 6: unit names and contacts that start with = + - @ never become formulas: the reminders
CSV cells are inert (read back with the csv module and opened by LibreOffice), Google writes
carry them as text, and the e-mails and reports carry them as written.
"""
from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from batn.catalogue import load_catalogue
from batn.demo import sample_values
from batn.pipeline import load_period
from batn.reminders import Reminder, reminders_csv
from batn.textsafe import FORMULA_STARTS, clean, inert, shown, stored, unstored, xml_text
from batn.units import load_units
from batn.xlsx.template import write_template

from test_scheduled import _SMTPSink, smtp_sink  # noqa: F401  (the loopback SMTP server fixture)

POSIX = sys.platform != "win32"
pytestmark = pytest.mark.skipif(not POSIX, reason="file names that are not UTF-8 exist on POSIX only")

HYPERLINK = '=HYPERLINK("http://attacker.example/?x","Bấm vào đây")'
UNITS = f"""code,name,parent,level,place,issuer,signer,contact
T,"Tỉnh Đoàn\x0bThử",,Tỉnh Đoàn,"Rạch\x0bGiá",TĐTN,,vanphong@tinh.example.vn
DP_A,"{HYPERLINK.replace('"', '""')}",T,Đoàn xã/phường,,,,+84 912 345 678
CD_A1,Chi đoàn khu phố 1,DP_A,Chi đoàn,,,,@cd.a1 cd.a1@example.vn
CD_A2,-Chi đoàn khu phố 2,DP_A,Chi đoàn,,,,=1+1
CD_A3,+Chi đoàn khu phố 3,DP_A,Chi đoàn,,,,@all
DCS_B,@Đoàn cơ sở Sở Xây dựng,T,Đoàn cơ sở,,,,-doan.sxd@example.vn
"""
# The names the units send their files under, as the file system's bytes.
NAMES = {
    "CD_A1": b"bad\xff\xfe.xlsx",                          # not UTF-8
    "DP_A": b"tab\there.xlsx",                             # a tab
    "DCS_B": "new\nline \u202exslx.xlsx".encode(),         # a newline and a right-to-left override
}
SHOWN = {"CD_A1": r"bad\xff\xfe.xlsx", "DP_A": r"tab\there.xlsx", "DCS_B": r"new\nline \u202exslx.xlsx"}
LATE = ("DP_A", "DCS_B")              # sent after the deadline: they are in the reminder list with their file


# ------------------------------------------------------------------ the helpers themselves

def test_shown_escapes_what_a_clerk_cannot_see_and_keeps_the_rest():
    assert shown(os.fsdecode(b"hop_thu/bad\xff.xlsx")) == r"hop_thu/bad\xff.xlsx"
    assert shown("a\nb\tc\rd\x1b[31m\x7f") == r"a\nb\tc\rd\x1b[31m\x7f"
    assert shown("x\u202ey\u200bz\u2028\x85") == r"x\u202ey\u200bz\u2028\u0085"      # bidi, zero width, C1
    assert shown("Bao cao Đoa\u0300n.xlsx") == "Bao cao Đoàn.xlsx"                    # NFC
    assert shown(Path("Đoàn phường/BáoCáo [1].xlsx")) == "Đoàn phường/BáoCáo [1].xlsx"
    assert shown(r"C:\Users\Văn phòng\a.xlsx") == r"C:\Users\Văn phòng\a.xlsx"       # a Windows path reads as usual
    assert shown(b"bytes\xff") == r"bytes\xff" and shown(None) == ""
    assert all(shown(os.fsdecode(bytes([b]))).isprintable() for b in range(1, 256) if b != 0x2F)


def test_clean_keeps_line_breaks_and_escapes_what_no_writer_carries():
    assert clean("dòng 1\ndòng 2\tcột") == "dòng 1\ndòng 2\tcột"
    assert clean("a\x00b\x0bc\ud800" + os.fsdecode(b"\xff")) == r"a\x00b\x0bc\ud800\xff"
    assert clean(None) == "" and clean(12) == "12"
    clean(os.fsdecode(b"\xff\xfe")).encode("utf-8")           # no UnicodeEncodeError


def test_xml_text_is_clean_text_escaped_as_xml():
    from xml.sax.saxutils import escape

    for text in ["Đoàn <TN> & \"Hội\" 'SV'", "&amp; đã có", "a\x00b\x0b<\ud800>", "  khoảng trắng  ", None, 12]:
        assert xml_text(text) == escape(clean(text))
    assert xml_text("<f>=1</f> & 2") == "&lt;f&gt;=1&lt;/f&gt; &amp; 2"


@pytest.mark.parametrize("text", ["=1+1", "+84 912", "-5", "@SUM(A1)", "\t=1", "\r=1", "\uff1d1+1", HYPERLINK])
def test_inert_gives_formula_starts_an_apostrophe(text):
    assert inert(text) == "'" + text
    assert not inert(text).startswith(FORMULA_STARTS)


def test_inert_leaves_plain_text_numbers_and_dates_alone():
    assert inert("Chi đoàn khu phố 1") == "Chi đoàn khu phố 1"
    assert inert(-5) == -5 and inert(None) is None and inert(1.5) == 1.5
    assert inert("a=b") == "a=b"


def test_excel_door_uses_the_same_rule():
    from batn.excel.write import as_text

    assert as_text(HYPERLINK) == inert(HYPERLINK) == "'" + HYPERLINK
    assert as_text(3) == 3


def test_stored_keeps_the_real_path_for_the_ledger(tmp_path):
    real = os.fsdecode(b"/hop_thu/bad\xff\n.xlsx")
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (source TEXT NOT NULL)")
    db.executemany("INSERT INTO t VALUES (?)", [(stored(real),), (stored("Đoàn.xlsx"),)])
    got = [unstored(v) for (v,) in db.execute("SELECT source FROM t")]
    assert got == [real, "Đoàn.xlsx"]
    assert db.execute("SELECT typeof(source) FROM t").fetchall() == [("blob",), ("text",)]


def test_reminders_csv_cells_are_inert_and_names_escaped():
    r = [Reminder("CD_A2", "-Chi đoàn 2", "Chi đoàn", "chưa nộp", None, "=1+1"),
         Reminder("DP_A", HYPERLINK, "Đoàn xã/phường", "có lỗi", None, "+84 912",
                  os.fsdecode(b"/hop_thu/bad\xff\n.xlsx"))]
    rows = _csv_rows(reminders_csv(r))
    assert rows[1][1:6:4] == ["'-Chi đoàn 2", "'=1+1"]
    assert rows[2][1] == "'" + HYPERLINK and rows[2][5] == "'+84 912"
    assert rows[2][6] == r"/hop_thu/bad\xff\n.xlsx"
    _assert_inert(rows)


# ------------------------------------------------------------------ end to end, on the command line

@pytest.fixture(scope="module")
def hostile_ws(tmp_path_factory) -> Path:
    """A workspace: the units file above and an inbox whose files have hostile names."""
    ws = tmp_path_factory.mktemp("hostile")
    (ws / "don_vi.csv").write_text(UNITS, encoding="utf-8")
    tree = load_units(ws / "don_vi.csv")
    cat = load_catalogue("3tn-2024")
    period = load_period("2025")
    deadline = datetime.combine(period.deadline_for(""), datetime.min.time())
    inbox = ws / "hop_thu"
    inbox.mkdir()
    for code, name in NAMES.items():
        values = dict(sample_values(cat, random.Random(f"2025-{code}"), 20))
        if code == "CD_A1":
            values["TT_DOANVIEN"] = 25           # more members than young cadres: a lỗi, so a reminder
        made = write_template(ws / f"{code}.xlsx", cat, tree[code], period, values=values,
                              has_children=bool(tree.children[code]))
        target = os.path.join(os.fsencode(inbox), name)
        os.rename(made, target)
        when = deadline + (timedelta(days=2) if code in LATE else -timedelta(days=3))
        os.utime(target, (when.timestamp(), when.timestamp()))
    return ws


def _inbox_file(ws: Path, code: str) -> str:
    return os.fsdecode(os.path.join(os.fsencode(ws / "hop_thu"), NAMES[code]))


def _batn(*args: str, cwd: Path, module: str = "batn.cli") -> subprocess.CompletedProcess:
    # A strict UTF-8 stdout (as under a UTF-8 locale other than C.UTF-8, or a pipe on Windows): the
    # one where an unescaped name that is not UTF-8 used to crash the command.
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True,
                          timeout=300)


def _ok(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode != 2, err
    assert "Traceback" not in err, err
    return proc.stdout.decode("utf-8")            # strict: everything printed is valid UTF-8


def _no_raw_controls(text: str) -> None:
    bad = [c for c in text if (not c.isprintable() and c not in "\n") or "\ud800" <= c <= "\udfff"]
    assert not bad, bad


def test_consolidate_json_and_terminal_show_the_names_escaped(hostile_ws, tmp_path):
    out = tmp_path / "tong_hop.xlsx"
    common = ["consolidate", "hop_thu", "--units", "don_vi.csv", "--catalog", "3tn-2024", "--period", "2025",
              "--out", str(out)]
    proc = _batn(*common, "--json", cwd=hostile_ws)
    text = _ok(proc)
    assert proc.returncode == 1                      # CD_A1 has a lỗi
    data = json.loads(text)
    files = {u["code"]: u["file"] for u in data["units"]}
    for code, name in SHOWN.items():
        assert files[code].endswith("/" + name)
    assert any(f["file"].endswith(SHOWN["CD_A1"]) for f in data["findings"])
    assert {u["code"]: u["name"] for u in data["units"]}["DP_A"] == HYPERLINK
    _no_raw_controls(json.dumps(data, ensure_ascii=False))

    plain = _ok(_batn(*common, cwd=hostile_ws))
    _no_raw_controls(plain.replace("\x1b", ""))      # rich may colour; no other control reaches the terminal
    assert "Tỉnh Đoàn\\x0bThử" in plain

    _check_workbook(out)


def _check_workbook(path: Path) -> None:
    """The consolidated workbook opens (openpyxl, and python-calamine without LibreOffice), shows each
    file name escaped and holds no formula made from a unit's name."""
    wb = load_workbook(path)
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str):
                    texts.append(c.value)
                    if c.value.lstrip().startswith(("=HYPERLINK", "-Chi", "+Chi", "@Đoàn")):
                        assert c.data_type == "s", (ws.title, c.coordinate, c.value)
    joined = "\n".join(texts)
    for name in SHOWN.values():
        assert name in joined
    assert "\ufffd" not in joined
    with zipfile.ZipFile(path) as z:                 # in the XML itself: no formula holds a unit's name
        for n in z.namelist():
            if n.startswith("xl/worksheets/"):
                assert not [f for f in re.findall(rb"<f>(.*?)</f>", z.read(n)) if b"attacker" in f]
    calamine = pytest.importorskip("python_calamine")
    book = calamine.CalamineWorkbook.from_path(str(path))
    cells = [v for name in book.sheet_names for row in book.get_sheet_by_name(name).to_python() for v in row]
    assert any(isinstance(v, str) and v.endswith(SHOWN["DCS_B"]) for v in cells)


def test_validate_shows_the_names_and_annotates_copies(hostile_ws, tmp_path):
    import shutil

    work = tmp_path / "v"
    shutil.copytree(hostile_ws / "hop_thu", work)
    files = [os.fsdecode(os.path.join(os.fsencode(work), n)) for n in NAMES.values()]
    proc = _batn("validate", "--json", "--annotate", "--catalog", "3tn-2024", "--period", "2025", *files,
                 cwd=tmp_path)
    data = json.loads(_ok(proc))
    assert proc.returncode == 1
    by_unit = {f["unit"]: f for f in data["files"]}
    assert by_unit["CD_A1"]["file"].endswith(SHOWN["CD_A1"])
    copy = by_unit["CD_A1"]["annotated"]
    assert copy and copy.endswith(r"bad\xff\xfe.kiem-tra.xlsx")
    real_copy = os.path.join(os.fsencode(work), b"bad\xff\xfe.kiem-tra.xlsx")
    marked = load_workbook(os.fsdecode(real_copy))
    sheet = marked[marked.sheetnames[-1]]
    assert any(isinstance(c.value, str) and c.value.endswith(SHOWN["CD_A1"]) for r in sheet.iter_rows() for c in r)

    plain = _ok(_batn("validate", *files, cwd=tmp_path))
    _no_raw_controls(plain.replace("\x1b", ""))
    for name in SHOWN.values():
        assert name in plain


def _config(ws: Path, port: int) -> Path:
    cfg = ws / "run.toml"
    cfg.write_text(f"""
period = "2025"
catalogue = "3tn-2024"
units = "don_vi.csv"
ledger = "so/batn.sqlite3"

[[sources]]
type = "folder"
path = "hop_thu"

[outputs]
folder = "ket_qua"

[report]
number = "07"

[reminders]
email = true
smtp_host = "127.0.0.1"
smtp_port = {port}
sender = "vanphong@tinh.example.vn"
digest_to = ["bithu@tinh.example.vn"]
days_before_deadline = 100000
""", encoding="utf-8")
    return cfg


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _assert_inert(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell
            _no_raw_controls(cell)


def test_batn_run_twice_with_hostile_names_and_formula_units(hostile_ws, tmp_path, smtp_sink):  # noqa: F811
    import email
    import email.policy
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(hostile_ws, ws, symlinks=True)
    cfg = _config(ws, smtp_sink.server_address[1])

    first = _batn("run", "--json", str(cfg), cwd=ws)
    data = json.loads(_ok(first))
    assert first.returncode == 1 and data["run_id"] == 1 and data["files"] == 3
    assert {r["code"] for r in data["reminders"]} == {"DP_A", "CD_A1", "CD_A2", "CD_A3", "DCS_B"}

    # The reminders CSV: every cell inert, names escaped.
    rows = _csv_rows(next((ws / "ket_qua").glob("NhacNop_*.csv")).read_bytes())
    _assert_inert(rows)
    by_code = {r[0]: r for r in rows[1:]}
    assert by_code["DP_A"][1] == "'" + HYPERLINK and by_code["DP_A"][5] == "'+84 912 345 678"
    assert by_code["CD_A2"][1:6:4] == ["'-Chi đoàn khu phố 2", "'=1+1"]
    assert by_code["CD_A3"][1:6:4] == ["'+Chi đoàn khu phố 3", "'@all"]
    assert by_code["DCS_B"][1] == "'@Đoàn cơ sở Sở Xây dựng"
    for code in ("CD_A1", "DP_A", "DCS_B"):
        assert by_code[code][6].endswith("/" + SHOWN[code])

    # The ledger keeps the real path (a BLOB when it is not UTF-8) and shows it escaped.
    db = sqlite3.connect(ws / "so" / "batn.sqlite3")
    sources = {u: s for u, s in db.execute("SELECT unit, source FROM submissions")}
    db.close()
    assert sources["CD_A1"] == os.fsencode(_inbox_file(ws, "CD_A1"))
    assert sources["DCS_B"] == _inbox_file(ws, "DCS_B")
    hist = _ok(_batn("lich-su", "CD_A1", "--config", str(cfg), cwd=ws))
    assert SHOWN["CD_A1"] in hist
    hist = json.loads(_ok(_batn("lich-su", "CD_A1", "--config", str(cfg), "--json", cwd=ws)))
    assert hist["submissions"][0]["source"].endswith(SHOWN["CD_A1"])

    # E-mails: sent, readable, the file named with escapes, the names as written.
    mails = {m[0][0]: email.message_from_bytes(m[1], policy=email.policy.default) for m in smtp_sink.messages}
    assert "cd.a1@example.vn" in mails and "bithu@tinh.example.vn" in mails
    assert f"(tệp {SHOWN['CD_A1']})" in mails["cd.a1@example.vn"].get_content()
    digest = mails["bithu@tinh.example.vn"].get_content()
    assert f"{HYPERLINK} (DP_A)" in digest and "liên hệ: =1+1" in digest

    # The report (.docx and .txt) and the consolidated workbook.
    docx = next((ws / "ket_qua").glob("*.docx"))
    doc = Document(docx)
    text = "\n".join([p.text for p in doc.paragraphs]
                     + [c.text for t in doc.tables for row in t.rows for c in row.cells])
    assert "Rạch\\x0bGiá, ngày" in text                # the place, from the units file
    txt = next((ws / "ket_qua").glob("*.txt")).read_text(encoding="utf-8")
    assert "Rạch\\x0bGiá, ngày" in txt
    _check_workbook(next((ws / "ket_qua").glob("TongHop_*.xlsx")))

    # The second run: nothing changed, nothing sent twice, no exit 2.
    n_mails = len(smtp_sink.messages)
    second = _batn("run", str(cfg), cwd=ws)
    out = _ok(second)
    assert second.returncode == 1 and "Không có gì thay đổi" in out
    _no_raw_controls(out)
    assert len(smtp_sink.messages) == n_mails
    third = _batn("run", "--json", str(cfg), cwd=ws)
    assert json.loads(_ok(third))["run_id"] is None

    _libreoffice_sees_no_formula(next((ws / "ket_qua").glob("NhacNop_*.csv")), tmp_path / "lo")


def _libreoffice_sees_no_formula(csv_path: Path, outdir: Path) -> None:
    """LibreOffice evaluates formulas in a CSV it opens (it would run "=1+1"): each of ours stays text."""
    lo = pytest.importorskip("lo")
    if not lo.available():
        pytest.skip(reason="LibreOffice (soffice) not installed")
    plain = outdir / "src" / "nhac.csv"
    plain.parent.mkdir(parents=True)
    plain.write_bytes(csv_path.read_bytes())
    control = outdir / "src" / "doi_chung.csv"          # the same cells unescaped: LibreOffice runs them
    control.write_text("a,b\n=1+1,x\n", encoding="utf-8")
    ran = load_workbook(lo.convert(control, "xlsx", outdir / "x")).active
    assert ran["A2"].data_type == "f"
    wb = load_workbook(lo.convert(plain, "xlsx", outdir / "y"))
    cells = [c for row in wb.active.iter_rows() for c in row if c.value is not None]
    assert len(cells) > 30
    assert [c.coordinate for c in cells if c.data_type == "f"] == []


# ------------------------------------------------------------------ Google Sheets (local stand-in)

def test_google_writes_carry_formula_names_and_escaped_file_names_as_text(tmp_path):
    pytest.importorskip("gspread")
    from test_gsheets import connect_as, fill_tab, values_for

    from batn.gsheets import layout as G
    from batn.gsheets.consolidate import consolidate_spreadsheets
    from batn.gsheets.setup import setup_spreadsheet
    from batn.gsheets.write import apply_plan, plan_write_back
    from sheets_standin import SheetsStandIn

    (tmp_path / "don_vi.csv").write_text(
        "code,name,parent,level,place,issuer,signer,contact\n"
        "T,Tỉnh Đoàn Mẫu,,Tỉnh Đoàn,,,,\n"
        f"CD_A,\"{HYPERLINK.replace(chr(34), chr(34) * 2)}\",T,Chi đoàn,,,,a@doan.example.vn\n"
        "CD_B,+Chi đoàn B,T,Chi đoàn,,,,b@doan.example.vn\n"
        "CD_C,@Chi đoàn C,T,Chi đoàn,,,,c@doan.example.vn\n", encoding="utf-8")
    tree = load_units(tmp_path / "don_vi.csv")
    cat, period = load_catalogue("3tn-2024"), load_period("2024")
    with SheetsStandIn() as standin:
        conn = connect_as(standin)
        key = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=period, unit="T").key
        # The unit's own tab names it as typed, as text.
        cell = standin.cell(key, "'CD_A'!C4")
        assert cell["v"] == HYPERLINK and "f" not in cell
        fill_tab(standin, key, "CD_A", values_for(cat, 1), cat)
        fill_tab(standin, key, "CD_B", values_for(cat, 2), cat)
        run = consolidate_spreadsheets(conn, [key], tree, cat, period, write_back=False,
                                       as_of=datetime(2024, 12, 18, 8, 0))
        cons = run.consolidation
        # As `batn run` mixes folders with spreadsheets: one unit's figures came from a hostile file.
        cons.units["CD_B"].submission.source = os.fsdecode(b"/hop_thu/bad\xff\n\xe2\x80\xae.xlsx")
        plan = plan_write_back(run.reads[0], cons, summary=True, tree=tree)
        apply_plan(conn.http, plan)
        status = standin.values(key, f"'{G.STATUS_TAB}'!A1:Z20", render="FORMULA")
        # the columns by their headers: the status table gains columns ("Duyệt"...), the file's is "Nguồn" here
        header = next(r for r in status if "Mã" in r)
        name_col, file_col = header.index("Đơn vị"), header.index("Nguồn")
        rows = {r[1]: r for r in status if len(r) > file_col}
        assert rows["CD_A"][name_col].strip() == HYPERLINK
        assert rows["CD_B"][file_col] == r"/hop_thu/bad\xff\n\u202e.xlsx"
        for r in range(1, len(status) + 1):
            for col in (G.col_letter(name_col + 1), G.col_letter(file_col + 1)):
                c = standin.cell(key, f"'{G.STATUS_TAB}'!{col}{r}")
                assert "f" not in c, (col, r, c)
        table = standin.values(key, f"'{G.CONSOLIDATED_TAB}'!A1:C200", render="FORMULA")
        assert any(HYPERLINK in str(v) for row in table for v in row)
