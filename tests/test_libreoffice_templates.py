"""LibreOffice Calc as an independent client of the unit template.

Calc opens the openpyxl-written template, recalculates every formula (the
workbook carries no cached values) and saves it again; we then read its
output with python-calamine, openpyxl and batn's own reader. This checks that

* the defined names - batn's only contract with the file - survive another
  spreadsheet program's rewrite and still point at the same cells;
* the self-check formulas ("Kiểm tra" column, "Số lỗi: N") compute what
  batn's Python checks say for the same figures, case by case;
* the rewritten file validates exactly like the original (no spurious
  structure findings);
* the print setup gives A4 pages with the Vietnamese text intact.

All LibreOffice work happens once, in a module-scoped fixture, in three
soffice runs (xlsx round trip of every workbook in one call, then pdf, ods).
"""
from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import unicodedata
from pathlib import Path

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

import lo
from batn import layout as L
from batn.catalogue import load_catalogue
from batn.checks import Expectation, check_submission
from batn.demo import sample_values
from batn.findings import _kinds
from batn.model import Severity, Unit
from batn.pipeline import load_period, validate_files
from batn.xlsx.reader import read_submission
from batn.xlsx.template import COL_CHECK, COL_VALUE, layout_rows, write_template

pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(not lo.available(), reason="LibreOffice (soffice) not installed"),
]

CATALOG = "3tn-2024"
PERIOD = "2024"
UNIT = Unit("DCS_THU", "Đoàn cơ sở Sở Tư pháp", "T", level="Đoàn cơ sở")
EXPECT = Expectation(period=PERIOD, catalogue=CATALOG)
NARRATIVES = {
    "mo_hinh": [("Tủ sách pháp luật điện tử", "Đoàn cơ sở Sở Tư pháp", "Duy trì thường xuyên, được ghi nhận")],
    "guong": [("Nguyễn Thị Mai", "Chi đoàn Văn phòng", "Có sáng kiến cải tiến quy trình")],
    "kho_khan": [("Kinh phí hoạt động còn hạn chế",)],
    "de_xuat": [],
}

# (value of every indicator that carries a rule, value of every indicator a rule points to).
# In 3tn-2024 no indicator is both, and each carries at most one rule, so one
# workbook per pair exercises every rule of the catalogue at once.
RULE_CASES: dict[str, tuple[object, object]] = {
    "equal": (5, 5),
    "above": (6, 5),
    "below": (4, 5),
    "value_zero": (0, 5),
    "other_zero": (5, 0),
    "both_zero": (0, 0),
    "value_blank": (None, 5),
    "other_blank": (5, None),
    "both_blank": (None, None),
    "zero_vs_blank": (0, None),
    "blank_vs_zero": (None, 0),
    "large_above": (1_000_000_001, 1_000_000_000),
    "other_fractional": (3, 2.5),
    "other_text": (5, "abc"),
    "value_text": ("abc", 5),
    "value_negative": (-1, 5),
    "value_fractional": (2.5, 5),
}
OPS = ("le", "ge_both", "needs")


# ---------------------------------------------------------------- helpers

def convert_many(srcs: list[Path], fmt: str, outdir: Path, timeout: float = lo.TIMEOUT_S) -> list[Path]:
    """Like `lo.convert`, but every file in ONE soffice run (each start costs seconds)."""
    exe = lo.soffice_path()
    if exe is None:
        raise lo.LibreOfficeError("LibreOffice (soffice) not installed")
    srcs = [Path(s).resolve() for s in srcs]
    stems = [s.stem for s in srcs]
    assert len(set(stems)) == len(stems), "outputs are named after the stems; they must differ"
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    target = lo.FILTERS.get(fmt, fmt)
    ext = target.split(":", 1)[0]
    outs = [outdir / f"{s.stem}.{ext}" for s in srcs]
    for s, o in zip(srcs, outs):
        if o == s:
            raise ValueError(f"converting {s.name} in its own folder would overwrite it")
        if o.exists():
            o.unlink()
    session = lo._session()   # same private profile/HOME as lo.convert
    env = dict(os.environ)
    env["HOME"] = str(session / "home")
    env.setdefault("SAL_USE_VCLPLUGIN", "svp")
    cmd = [exe, f"-env:UserInstallation={(session / 'profile').as_uri()}",
           "--headless", "--invisible", "--nologo", "--nodefault", "--norestore", "--nolockcheck",
           "--convert-to", target, "--outdir", str(outdir), *map(str, srcs)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=str(outdir), start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stdout, stderr = proc.communicate()
        raise lo.LibreOfficeError(f"soffice timed out after {timeout:.0f} s\n{stdout!r}\n{stderr!r}") from None
    missing = [o for o in outs if not o.is_file() or o.stat().st_size == 0]
    if proc.returncode != 0 or missing:
        raise lo.LibreOfficeError(
            f"soffice failed (exit {proc.returncode}); missing {[m.name for m in missing]}\n"
            f"stdout: {stdout.decode(errors='replace')}\nstderr: {stderr.decode(errors='replace')}")
    return outs


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def sheet_rows(path: Path, sheet: str = L.DATA_SHEET) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def cell(rows: list[list], row: int, col: int) -> object:
    """1-based row/col, as in the template module."""
    r = rows[row - 1] if row - 1 < len(rows) else []
    return r[col - 1] if col - 1 < len(r) else ""


def workbook_names(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Workbook-level defined names -> destinations, as openpyxl (a second reader) sees them."""
    wb = load_workbook(path, data_only=True)
    try:
        return {name: list(dn.destinations) for name, dn in wb.defined_names.items()}
    finally:
        wb.close()


def check_text(kind: str, other_stt: str = "") -> str:
    """What the template's "Kiểm tra" cell says for a finding of this kind."""
    return _kinds()[kind]["formula"].format(other_stt=other_stt)


def text_of(v: object) -> str:
    return "" if v is None else nfc(str(v))


# ---------------------------------------------------------------- the one LibreOffice session

@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    root = tmp_path_factory.mktemp("lo_templates")
    src = root / "src"
    src.mkdir()
    cat = load_catalogue(CATALOG)
    period = load_period(PERIOD)

    clean = sample_values(cat, random.Random(3), 20)
    bad = dict(clean)
    bad["TT_DOANVIEN"] = bad["TT_CBCCVC_TRE"] + 5                # rule-le: lỗi
    bad["TK_HOINGHI_SO"], bad["TK_HOINGHI_LUOT"] = 4, 2           # rule-ge_both: cảnh báo

    files = {
        "bad": write_template(src / "bad.xlsx", cat, UNIT, period, values=bad, narratives=NARRATIVES),
        "clean": write_template(src / "clean.xlsx", cat, UNIT, period, values=clean, narratives=NARRATIVES),
    }
    rule_holders = [i for i in cat.indicators if i.rules]
    others = {r.other for i in rule_holders for r in i.rules}
    assert not others & {i.code for i in rule_holders}, "catalogue changed: rule cases need redesign"
    assert all(len(i.rules) == 1 for i in rule_holders), "catalogue changed: rule cases need redesign"
    for name, (v, o) in RULE_CASES.items():
        values = {**{i.code: v for i in rule_holders}, **{c: o for c in others}}
        files[f"case_{name}"] = write_template(src / f"case_{name}.xlsx", cat, UNIT, period, values=values)

    plain = [i.code for i in cat.indicators if not i.rules and i.code not in others]
    typed = dict(clean, **dict(zip(plain, TYPED)))
    files["typed"] = write_template(src / "typed.xlsx", cat, UNIT, period, values=typed)

    keys = list(files)
    xlsx = dict(zip(keys, convert_many([files[k] for k in keys], "xlsx", root / "xlsx")))
    [pdf] = convert_many([files["bad"]], "pdf", root / "pdf")
    [ods] = convert_many([files["clean"]], "ods", root / "ods")
    _, placed = layout_rows(cat)
    return dict(cat=cat, period=period, src=files, rt=xlsx, pdf=pdf, ods=ods, placed=placed,
                values={"bad": bad, "clean": clean}, typed=dict(zip(plain, TYPED)))


# ---------------------------------------------------------------- round trip through Calc

@pytest.mark.parametrize("which", ["bad", "clean"])
def test_defined_names_survive_and_point_to_the_same_cells(calc, which):
    cat = calc["cat"]
    before, after = workbook_names(calc["src"][which]), workbook_names(calc["rt"][which])
    required = [*cat.codes, L.NAME_UNIT, L.NAME_PERIOD, L.NAME_CATALOG, L.NAME_STATUS]
    assert not [n for n in required if n not in before], "the template itself lacks a name"
    lost = [n for n in before if n not in after]
    assert not lost, f"LibreOffice dropped defined names: {lost}"
    moved = {n: (before[n], after[n]) for n in before if before[n] != after[n]}
    assert not moved, f"LibreOffice moved defined names: {moved}"
    assert after[L.NAME_STATUS] == [(L.DATA_SHEET, "$C$9")]
    # batn's own reader locates the same cells in both files
    a, b = read_submission(calc["src"][which], cat), read_submission(calc["rt"][which], cat)
    assert a.cells == b.cells and len(b.cells) == len(cat.codes)
    assert a.sheets == b.sheets


@pytest.mark.parametrize("which", ["bad", "clean"])
def test_values_read_back_equal_what_was_written(calc, which):
    cat, written = calc["cat"], calc["values"][which]
    sub = read_submission(calc["rt"][which], cat)
    assert sub.findings == []
    assert (sub.unit, sub.period, sub.catalogue, sub.is_total) == (UNIT.code, PERIOD, CATALOG, False)
    assert sub.values == written
    assert all(type(v) is int for v in sub.values.values())
    assert sub.narratives == {k: [tuple(r) for r in rows] for k, rows in NARRATIVES.items()}
    # a second reader, by defined name, agrees
    wb = load_workbook(calc["rt"][which], data_only=True)
    try:
        for code in cat.codes:
            [(sheet, coord)] = wb.defined_names[code].destinations
            assert wb[sheet][coord].value == written[code], code
    finally:
        wb.close()


def test_status_cells_recalculated_by_libreoffice(calc):
    placed = calc["placed"]
    rows = sheet_rows(calc["rt"]["bad"])
    assert cell(rows, 9, 3) == "Số lỗi: 1"
    assert cell(rows, 9, 4) == "Số cảnh báo: 1"
    wrong, warned = placed["TT_DOANVIEN"].row, placed["TK_HOINGHI_LUOT"].row
    assert text_of(cell(rows, wrong, COL_CHECK)).startswith("Lỗi")
    assert text_of(cell(rows, wrong, COL_CHECK)) == check_text("rule-le", placed["TT_CBCCVC_TRE"].stt)
    assert text_of(cell(rows, warned, COL_CHECK)).startswith("Cảnh báo")
    others = {code: cell(rows, ir.row, COL_CHECK) for code, ir in placed.items()
              if ir.row not in (wrong, warned) and cell(rows, ir.row, COL_CHECK) not in ("", None)}
    assert not others, f"unexpected check messages: {others}"
    # the status cell found through its defined name, by openpyxl
    wb = load_workbook(calc["rt"]["bad"], data_only=True)
    try:
        [(sheet, coord)] = wb.defined_names[L.NAME_STATUS].destinations
        assert wb[sheet][coord].value == "Số lỗi: 1"
        assert wb[sheet]["D9"].value == "Số cảnh báo: 1"
    finally:
        wb.close()


def test_clean_file_has_no_errors_after_recalculation(calc):
    rows = sheet_rows(calc["rt"]["clean"])
    assert cell(rows, 9, 3) == "Số lỗi: 0"
    assert cell(rows, 9, 4) == "Số cảnh báo: 0"
    assert all(cell(rows, ir.row, COL_CHECK) in ("", None) for ir in calc["placed"].values())


def test_validate_round_tripped_file(calc):
    [bad, clean] = validate_files([calc["rt"]["bad"], calc["rt"]["clean"]], EXPECT)
    got = sorted((f.kind, f.severity, f.indicator, f.cell) for f in bad.findings)
    assert got == sorted([
        ("rule-le", Severity.ERROR, "TT_DOANVIEN", f"{L.DATA_SHEET}!D{calc['placed']['TT_DOANVIEN'].row}"),
        ("rule-ge_both", Severity.WARNING, "TK_HOINGHI_LUOT",
         f"{L.DATA_SHEET}!D{calc['placed']['TK_HOINGHI_LUOT'].row}"),
    ]), [f.message for f in bad.findings]
    assert clean.findings == [], [f.message for f in clean.findings]
    # same messages as for the file before LibreOffice touched it
    [orig] = validate_files([calc["src"]["bad"]], EXPECT)
    assert [f.message for f in orig.findings] == [f.message for f in bad.findings]


def test_libreoffice_keeps_the_guards(calc):
    """Protection, input validation and the hidden helper columns survive a save in Calc."""
    wb = load_workbook(calc["rt"]["bad"])
    try:
        ws = wb[L.DATA_SHEET]
        assert ws.protection.sheet
        # Calc writes G:H as one <col min=7 max=8>; openpyxl keys it by its first letter
        hidden = {c for d in ws.column_dimensions.values() if d.hidden for c in range(d.min, d.max + 1)}
        assert {7, 8} <= hidden
        dv = [d for d in ws.data_validations.dataValidation if d.type == "whole"]
        assert len(dv) == 1
        uncovered = [c for c, ir in calc["placed"].items() if f"D{ir.row}" not in dv[0].sqref]
        assert not uncovered, f"input cells left without validation: {uncovered}"
        assert ws[f"D{calc['placed']['TT_DOANVIEN'].row}"].protection.locked is False
    finally:
        wb.close()


# ---------------------------------------------------------------- Excel formulas == Python checks

@pytest.mark.parametrize("case", list(RULE_CASES))
@pytest.mark.parametrize("op", OPS)
def test_check_formula_agrees_with_python(calc, op, case):
    cat, placed = calc["cat"], calc["placed"]
    v, o = RULE_CASES[case]
    lo_rows = sheet_rows(calc["rt"][f"case_{case}"])
    # batn's whole Python path (reader + checks) on the file as written and as Calc saved it
    py = {}
    for label in ("src", "rt"):
        sub = read_submission(calc[label][f"case_{case}"], cat)
        findings = check_submission(sub, cat, EXPECT)
        py[label] = {f.indicator: f for f in reversed(findings)}   # first finding per indicator wins
    holders = [i for i in cat.indicators if i.rules and i.rules[0].op == op]
    assert holders
    for ind in holders:
        rule = ind.rules[0]
        got = text_of(cell(lo_rows, placed[ind.code].row, COL_CHECK))
        f = py["src"].get(ind.code)
        want = check_text(f.kind, placed[rule.other].stt) if f else ""
        assert got == want, f"{ind.code} {op} {v!r} vs {rule.other}={o!r}: LibreOffice {got!r}, batn {want!r}"
        g = py["rt"].get(ind.code)
        assert (g.kind if g else None) == (f.kind if f else None), "reading Calc's file changed the finding"
        if f is not None:
            assert f.severity == (rule.severity if f.kind.startswith("rule-") else Severity.ERROR)
        # Rule.violated itself, where both inputs are figures (or blank) a clerk may legitimately type
        if all(x is None or (isinstance(x, int) and x >= 0) for x in (v, o)):
            assert got.startswith(("Lỗi", "Cảnh báo")) == rule.violated(v, o), (ind.code, v, o)


# ---------------------------------------------------------------- text typed in a number cell

# What clerks type; batn (numbers.parse_figure) reads the first four as numbers, with the cảnh báo
# number-as-text, and the others not: "mười" has no digit, "-5" is negative, "1,644", "12,345 lượt",
# "1.5" and "+2.25" are ambiguous (a thousands comma or a decimal dot?).
TYPED = ("216 lượt", "8.964", " 243 ", "1,234,567", "mười", "-5", "1,644", "12,345 lượt", "1.5", "+2.25")


def test_text_in_a_number_cell_same_verdict_in_calc_and_batn(calc):
    """The demo's "216 lượt": the "Kiểm tra" column recalculated by LibreOffice says what `batn validate`
    says of the cell (the finding's formula text; lỗi in the sheet exactly where batn has a lỗi)."""
    cat, placed = calc["cat"], calc["placed"]
    rows = sheet_rows(calc["rt"]["typed"])
    sub = read_submission(calc["src"]["typed"], cat)
    findings = check_submission(sub, cat, EXPECT)
    for code, typed in calc["typed"].items():
        got = text_of(cell(rows, placed[code].row, COL_CHECK))
        mine = [f for f in findings if f.indicator == code]
        assert mine, f"{typed!r}: batn says nothing"
        worst = min(mine, key=lambda f: f.severity != Severity.ERROR)
        assert got == check_text(worst.kind), f"{typed!r}: LibreOffice {got!r}, batn {[f.kind for f in mine]}"
        assert got.startswith("Lỗi") == (worst.severity == Severity.ERROR), (typed, got, worst)
    assert text_of(cell(rows, placed[next(iter(calc["typed"]))].row, COL_CHECK)) == \
        "Cảnh báo: số gõ dạng chữ, hãy nhập lại bằng số"


# ---------------------------------------------------------------- print and other formats

def test_pdf_is_a4_with_vietnamese_text(calc):
    if shutil.which("pdfinfo") is None or shutil.which("pdftotext") is None:
        pytest.skip(reason="pdfinfo/pdftotext (poppler-utils) not installed")
    pdf = calc["pdf"]
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "1000", str(pdf)], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    sizes = re.findall(r"Page\s+\d+\s+size:\s+([\d.]+) x ([\d.]+) pts", info)
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert sizes and len(sizes) == pages
    for w, h in sizes:
        assert (round(float(w)), round(float(h))) == (595, 842), info
    # one page per narrative sheet and the guide, the data table on at least one
    assert pages >= 1 + len(calc["cat"].narratives) + 1

    def text(*args: str) -> str:
        out = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", *args, str(pdf), "-"],
                             capture_output=True, check=True, timeout=60).stdout
        return nfc(out.decode("utf-8"))

    everything = text()
    for s in ["Trách nhiệm với bản thân".upper(), "Trách nhiệm với cộng đồng".upper(),
              "BIỂU SỐ LIỆU KẾT QUẢ THỰC HIỆN PHONG TRÀO “3 TRÁCH NHIỆM”",
              "Đoàn viên là cán bộ, công chức, viên chức", "Đoàn cơ sở Sở Tư pháp",
              "Số lỗi: 1", "Số cảnh báo: 1", "Lỗi: lớn hơn mục 1",
              "HƯỚNG DẪN ĐIỀN BIỂU MẪU", "Tủ sách pháp luật điện tử"]:
        assert nfc(s) in everything, f"missing from the PDF text: {s!r}"
    # fit to one page wide: the table's first and last printed columns share a line on page 1
    first = text("-f", "1", "-l", "1")
    header = next((line for line in first.splitlines() if "Nội dung" in line), "")
    assert "Kiểm tra" in header, first


def test_ods_conversion_opens_with_calamine(calc):
    wb = CalamineWorkbook.from_path(str(calc["ods"]))
    assert L.DATA_SHEET in wb.sheet_names
    rows = wb.get_sheet_by_name(L.DATA_SHEET).to_python(skip_empty_area=False)
    assert cell(rows, 9, 3) == "Số lỗi: 0"
    code_row = calc["placed"]["TT_CBCCVC_TRE"].row
    assert cell(rows, code_row, COL_VALUE) == calc["values"]["clean"]["TT_CBCCVC_TRE"]
