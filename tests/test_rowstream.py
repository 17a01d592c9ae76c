"""The consolidated workbook's long tables, streamed as sheet XML after openpyxl saves the rest
(xlsx/rowstream.py): read back by openpyxl, python-calamine and LibreOffice, cell by cell."""
from __future__ import annotations

import io
import os
import random
from datetime import date, datetime, timedelta

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from python_calamine import CalamineWorkbook

from batn.xlsx.package import stamp_saved_time
from batn import layout as L
from batn.catalogue import load_catalogue
from batn.demo import sample_values
from batn.pipeline import consolidate_inbox, load_period, report_input_from_workbook
from batn.tables import STATUS_HEADER, consolidation_findings_rows, status_rows, summary_rows
from batn.units import load_units
from batn.xlsx.cells import NUMBER
from batn.xlsx.consolidated import write_consolidated
from batn.xlsx.rowstream import CellStyles, SheetBody, save_with_bodies
from batn.xlsx.template import write_template

import lo

UNITS = """code,name,parent,level
T,Tỉnh Đoàn Mẫu,,Tỉnh Đoàn
A,Đoàn khối A & B <cũ>,T,Đoàn trực thuộc
A1,Chi đoàn A1,A,Chi đoàn
A2,Chi đoàn A2,A,Chi đoàn
A21,Chi đoàn A2-1,A2,Chi đoàn
B,Đoàn khối B,T,Đoàn trực thuộc
B1,Chi đoàn B1,B,Chi đoàn
"""


@pytest.fixture(scope="module")
def consolidated(tmp_path_factory):
    """A consolidation with every status: sent, late, missing, a broken file and a duplicate."""
    tmp = tmp_path_factory.mktemp("rowstream")
    (tmp / "units.csv").write_text(UNITS, encoding="utf-8")
    tree, cat, period = load_units(tmp / "units.csv"), load_catalogue("3tn-2024"), load_period("2024")
    inbox, rng = tmp / "inbox", random.Random(11)
    on_time = datetime(2024, 12, 10, 9, 0)
    for code, when, name in [("A1", on_time, None), ("A21", on_time + timedelta(days=60), None),
                             ("B1", on_time, "B1_cu.xlsx"), ("B1", on_time + timedelta(hours=2), None)]:
        path = write_template(inbox / (name or f"{code}.xlsx"), cat, tree[code], period,
                              values=sample_values(cat, rng, 20), has_children=bool(tree.children[code]))
        stamp_saved_time(path, when)
    (inbox / "hong.xlsx").write_bytes(b"PK\x03\x04 not a zip")
    cons = consolidate_inbox(inbox, tree, cat, period)
    return cons, write_consolidated(cons, tmp / "tong_hop.xlsx")


def _rows(ws, first: int, width: int) -> list[list[object]]:
    return [[ws.cell(r, c).value for c in range(1, width + 1)] for r in range(first, ws.max_row + 1)]


def _blank_as_none(rows):
    """What a reader sees: no cell for an empty text, a date cell as a datetime at midnight."""
    def seen(v):
        if v == "":
            return None
        if isinstance(v, date) and not isinstance(v, datetime):
            return datetime(v.year, v.month, v.day)
        return v
    return [[seen(v) for v in row] for row in rows]


def test_long_tables_read_back_as_every_door_builds_them(consolidated):
    cons, path = consolidated
    wb = load_workbook(path)
    width = 3 + len(cons.catalogue.codes)
    summary = wb[L.SUMMARY_SHEET]
    assert _rows(summary, 1, width)[:2] == [[None if v is None else v for v in r] for r in summary_rows(cons)[:2]]
    assert _rows(summary, 3, width) == summary_rows(cons, indent="")[2:]
    # and against the consolidation itself, not only the shared row builder
    assert [r[0] for r in _rows(summary, 3, width)[:-1]] == list(cons.units)
    assert _rows(summary, summary.max_row, width)[0][3:] == [cons.totals[c] for c in cons.catalogue.codes]

    status = wb[L.STATUS_SHEET]
    assert _rows(status, 3, len(STATUS_HEADER))[0] == STATUS_HEADER
    body = _rows(status, 4, len(STATUS_HEADER))
    assert body == _blank_as_none(status_rows(cons, indent="")[1:])
    assert {r[1]: r[4] for r in body} == {c: u.status for c, u in cons.units.items()}
    ignored = STATUS_HEADER.index("Tệp bị bỏ qua")
    assert any(r[ignored] == "B1_cu.xlsx" for r in body)        # the older duplicate, named relative to the inbox

    check = wb[L.CHECK_SHEET]
    assert _rows(check, 2, 7) == _blank_as_none(consolidation_findings_rows(cons))
    assert any("hong.xlsx" in (r[3] or "") for r in _rows(check, 2, 7))

    inp = report_input_from_workbook(path)        # the hidden counts above the status table
    assert (inp.sent, inp.expected) == (len(cons.sent), len(cons.expected))


def test_long_tables_keep_their_formatting(consolidated):
    cons, path = consolidated
    wb = load_workbook(path)
    summary, status, check = wb[L.SUMMARY_SHEET], wb[L.STATUS_SHEET], wb[L.CHECK_SHEET]
    depths = [u.depth for u in cons.units.values()]
    for i, d in enumerate(depths):
        assert summary.cell(3 + i, 2).alignment.indent == d
        assert status.cell(4 + i, 3).alignment.indent == d
    assert summary.cell(3, 4).number_format == NUMBER          # "[$-42A]#,##0": 1.927 in any LibreOffice
    last = summary.max_row
    assert summary.cell(last, 2).value == "TỔNG CỘNG" and summary.cell(last, 2).font.bold
    assert summary.cell(last, 4).font.bold and summary.cell(last, 4).number_format == NUMBER
    a1 = 4 + list(cons.units).index("A1")
    received, deadline = STATUS_HEADER.index("Thời gian nhận") + 1, STATUS_HEADER.index("Hạn nộp") + 1
    assert isinstance(status.cell(a1, received).value, datetime)
    assert status.cell(a1, received).number_format == "dd/mm/yyyy hh:mm"
    assert status.cell(a1, deadline).number_format == "dd/mm/yyyy"
    assert check.cell(2, 7).alignment.wrap_text and check.cell(2, 1).alignment.vertical == "top"
    assert (summary.freeze_panes, status.freeze_panes, check.freeze_panes) == ("D3", "A4", "A2")
    assert summary.column_dimensions["B"].width == 40


def test_calamine_reads_the_streamed_tables(consolidated):
    cons, path = consolidated
    book = CalamineWorkbook.from_path(str(path))
    rows = book.get_sheet_by_name(L.SUMMARY_SHEET).to_python()
    assert [r[0] for r in rows[2:-1]] == list(cons.units)
    assert [int(v) if v != "" else None for v in rows[-1][3:]] == [cons.totals[c] for c in cons.catalogue.codes]


@pytest.mark.skipif(not lo.available(), reason="LibreOffice (soffice) not installed")
def test_libreoffice_opens_and_resaves_the_streamed_tables(consolidated, tmp_path):
    """An independent client: Calc opens the workbook and saves it again; every cell of the three
    long tables survives with the same value."""
    cons, path = consolidated
    again = load_workbook(lo.convert(path, "xlsx", tmp_path / "lo"))
    ours = load_workbook(path)
    for title, first, width in [(L.SUMMARY_SHEET, 1, 3 + len(cons.catalogue.codes)),
                                (L.STATUS_SHEET, 3, len(STATUS_HEADER)), (L.CHECK_SHEET, 1, 7)]:
        assert _rows(again[title], first, width) == _rows(ours[title], first, width), title


def _save(rows, width=None, first_row=2):
    """`rows`, or a function of the sheet's CellStyles giving them, saved below a header."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Bảng"
    ws["A1"] = "tiêu đề"
    st = CellStyles(ws)
    rows = rows(st) if callable(rows) else rows
    body = SheetBody(first_row=first_row, rows=iter(rows), count=len(rows),
                     width=width or max(len(r) for r in rows), styles=st)
    out = io.BytesIO()
    save_with_bodies(wb, out, {"Bảng": body})
    return out


def test_awkward_values_are_written_as_openpyxl_would_read_them():
    values = ["  lề trái", "=1+1", "<a & b>", "dòng\nmới", "có \x01 ký tự" + os.fsdecode(b"\xff"), 2 ** 53, -0.1, 12.5, True,
              date(2024, 12, 20), datetime(2024, 12, 10, 9, 30), None, "cuối"]
    def rows(st):       # a date is a number under a date style, as in Excel
        when = st.id(number_format="dd/mm/yyyy hh:mm")
        return [[(v, when if isinstance(v, date) else 0) for v in values]]

    out = _save(rows)
    ws = load_workbook(out)["Bảng"]
    got = [ws.cell(2, c).value for c in range(1, len(values) + 1)]
    expected = list(values)
    expected[4] = "có \\x01 ký tự\\xff"          # XML cannot carry them; shown escaped (batn.textsafe), not dropped
    expected[9] = datetime(2024, 12, 20)              # a date cell reads back as a datetime at midnight
    assert got == expected
    assert ws.cell(2, 2).data_type == "s"              # text that looks like a formula stays text
    assert ws["A1"].value == "tiêu đề" and ws.max_row == 2
    cal = CalamineWorkbook.from_filelike(io.BytesIO(out.getvalue())).get_sheet_by_name("Bảng").to_python()
    assert cal[1][:4] == ["  lề trái", "=1+1", "<a & b>", "dòng\nmới"]


def test_styles_registered_after_saving_are_refused():
    holder = {}

    def styles(ws):
        holder["st"] = CellStyles(ws)
        return holder["st"]

    def late_rows():
        yield [("x", holder["st"].id(font=Font(bold=True)))]

    wb = Workbook()
    st = styles(wb.active)
    body = SheetBody(first_row=1, rows=late_rows(), count=1, width=1, styles=st)
    with pytest.raises(RuntimeError, match="after the workbook's styles"):
        save_with_bodies(wb, io.BytesIO(), {wb.active.title: body})
    st2 = CellStyles(Workbook().active)
    assert st2.id(alignment=Alignment(indent=2)) == st2.id(alignment=Alignment(indent=2)) != 0


def test_a_body_that_does_not_match_its_declaration_is_refused():
    with pytest.raises(ValueError, match="2 rows written, 3 declared"):
        wb = Workbook()
        body = SheetBody(first_row=2, rows=iter([[(1, 0)], [(2, 0)]]), count=3, width=1, styles=CellStyles(wb.active))
        save_with_bodies(wb, io.BytesIO(), {wb.active.title: body})
    with pytest.raises(ValueError, match="already has row 1"):
        _save([[(1, 0)]], first_row=1)
    with pytest.raises(ValueError, match="declared 1 wide"):
        _save([[(1, 0), (2, 0)]], width=1)


def test_pandas_frames_hold_the_same_rows(consolidated):
    from batn.tables import status_body, status_frame, summary_body, summary_frame

    cons, _ = consolidated
    frame = summary_frame(cons)
    assert frame.astype(object).where(frame.notna(), None).values.tolist() == list(summary_body(cons, indent=""))
    frame = status_frame(cons)
    assert frame["code"].tolist() == list(cons.units) and frame["status"].tolist() == [u.status for u in cons.units.values()]
    assert len(frame.columns) == len(STATUS_HEADER) and len(frame) == len(list(status_body(cons)))


def test_narrative_lists_are_streamed_and_read_back_by_the_level_above(tmp_path):
    """More rows than the blank template offers: the named input area grows to hold them all
    (plus 5 spare, styled for typing), and the level above reads every row back by that name."""
    from batn.xlsx.reader import read_submission

    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    tree, cat, period = load_units(tmp_path / "units.csv"), load_catalogue("3tn-2024"), load_period("2024")
    inbox = tmp_path / "inbox"
    sent = {}
    for code in ("A1", "A21", "B1"):
        rows = [(f"Mô hình {code}-{i}", "", f"Kết quả <{i}> & tốt") for i in range(15)]
        sent[code] = rows
        path = write_template(inbox / f"{code}.xlsx", cat, tree[code], period, values=sample_values(cat, random.Random(1), 5),
                              narratives={"mo_hinh": rows, "kho_khan": [(f"Khó khăn của {code}",)]})
        stamp_saved_time(path, datetime(2024, 12, 10))
    cons = consolidate_inbox(inbox, tree, cat, period)
    out = write_consolidated(cons, tmp_path / "tong_hop.xlsx")

    back = read_submission(out, cat)
    assert back.narratives["mo_hinh"] == [(name, cons.tree[code].name, result)
                                          for code in ("A1", "A21", "B1") for name, _, result in sent[code]]
    assert back.narratives["kho_khan"] == [(f"Khó khăn của {c} ({cons.tree[c].name})",) for c in ("A1", "A21", "B1")]
    wb = load_workbook(out)
    sheet, ref = next(iter(wb.defined_names["BATN_MOHINH"].destinations))
    assert ref == f"$B$4:$D${3 + 45 + 5}"                     # 45 rows sent, 5 spare
    ws = wb[sheet]
    assert ws.cell(4 + 45 + 4, 1).value == 50 and ws.cell(4 + 45 + 4, 2).value is None
    spare = ws.cell(4 + 45 + 4, 2)
    assert spare.protection.locked is False and spare.fill.fgColor.rgb.endswith("FFF2CC")   # still typeable
    assert ws.cell(4, 2).alignment.wrap_text and ws.protection.sheet
