"""Where things sit in a batn Google spreadsheet, for both layouts used in practice.

- "tabs": one tab per unit, laid out like the Excel template: the same header block (unit name,
  code, period, catalogue, kind) and the same table, row for row, because the rows come from
  `batn.xlsx.template.layout_rows`. The narrative lists follow the table on the same tab.
- "rows": one tab "Số liệu các đơn vị" with one row per unit and one column per indicator (the
  indicator codes in a row of their own, as the contract the reader locates columns by), and one
  tab per narrative list with a block of rows per unit.

Positions are 1-based (row, column) as a person reads them; `a1()` and `grid()` translate.
Nothing here talks to Google.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import layout as L
from ..model import Catalogue, NarrativeList, Unit, UnitTree
from ..xlsx.sheetxml import col_index as _col_index0, col_letter as _col_letter0
from ..xlsx.template import COL_CHECK, COL_LABEL, COL_NOTE, COL_VALUE, FIRST_TABLE_ROW, IndicatorRow, layout_rows

TABS, ROWS = "tabs", "rows"
LAYOUTS = (TABS, ROWS)

GUIDE_TAB = L.GUIDE_SHEET                 # "Hướng dẫn"
STATUS_TAB = L.STATUS_SHEET               # "Tình hình nộp báo cáo"
FINDINGS_TAB = L.CHECK_SHEET              # "Kết quả kiểm tra"
CONSOLIDATED_TAB = "Tổng hợp"
ROWS_TAB = "Số liệu các đơn vị"
OUTPUT_TABS = (STATUS_TAB, FINDINGS_TAB, CONSOLIDATED_TAB)
# `batn gsheets chot`: the cut-off time (CUTOFF_TIME_ROW: B text, C ISO time), then one row per unit
# from CUTOFF_FIRST_ROW: A code, B digest of its figures at the cut-off, C its input protections as
# they were (JSON: description -> editors, warningOnly), so unlocking puts them back.
CUTOFF_TAB = "Chốt số liệu"
CUTOFF_TIME_ROW, CUTOFF_HEADER_ROW, CUTOFF_FIRST_ROW = 1, 3, 4

# Colours (RRGGBB), the template's.
INPUT_FILL = "FFF2CC"
SECTION_FILL = "D9E1F2"
HEADER_FILL = "BDD7EE"

# The guide tab carries what the run needs to know about the spreadsheet (column C of these rows).
GUIDE_ROOT_ROW, GUIDE_PERIOD_ROW, GUIDE_CATALOG_ROW, GUIDE_LAYOUT_ROW = 3, 4, 5, 6
GUIDE_LABELS = {GUIDE_ROOT_ROW: "Đơn vị tổng hợp:", GUIDE_PERIOD_ROW: "Kỳ báo cáo:",
                GUIDE_CATALOG_ROW: "Bộ chỉ tiêu:", GUIDE_LAYOUT_ROW: "Cách bố trí:"}

# Header block of a unit tab: the template's rows 4-8 (label in B, value in C).
META_NAME, META_CODE, META_PERIOD, META_CATALOG, META_KIND, META_STATUS = 4, 5, 6, 7, 8, 9
META_LABELS = {META_NAME: "Đơn vị:", META_CODE: "Mã đơn vị:", META_PERIOD: "Kỳ báo cáo:",
               META_CATALOG: "Bộ chỉ tiêu:", META_KIND: "Loại số liệu:", META_STATUS: "Tình trạng kiểm tra:"}
LABEL_COL, META_COL = 2, 3
REVIEW_COL = 6          # F of the META_STATUS row: the report's review ("Duyệt: cần sửa — lý do"), batn's
TAB_WIDTH = 6                                  # A..F: STT, Nội dung, Đơn vị tính, Số liệu, Ghi chú, Kiểm tra
NARRATIVE_ROWS = 10                            # input rows per narrative list on a unit tab
ROWS_NARRATIVE_ROWS = 5                        # rows per unit on a narrative tab of the rows layout


def col_letter(col: int) -> str:
    """1-based, as the Sheets API counts: 1 -> "A" (the reader's 0-based helper, shifted)."""
    return _col_letter0(col - 1) if col > 0 else ""


def col_number(letters: str) -> int:
    """"A" -> 1."""
    return _col_index0(letters.upper()) + 1


def quote_tab(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def a1(title: str, row: int, col: int, row2: int | None = None, col2: int | None = None) -> str:
    """"'Tab'!D13" or "'Tab'!D13:E20" (1-based)."""
    ref = f"{col_letter(col)}{row}"
    if row2 is not None and col2 is not None and (row2, col2) != (row, col):
        ref += f":{col_letter(col2)}{row2}"
    return f"{quote_tab(title)}!{ref}"


def cell_ref(row: int, col: int) -> str:
    return f"{col_letter(col)}{row}"


def parse_cell(ref: str) -> tuple[int, int]:
    """"D13" -> (13, 4)."""
    letters = "".join(ch for ch in ref if ch.isalpha())
    digits = "".join(ch for ch in ref if ch.isdigit())
    return int(digits), col_number(letters)


def grid(sheet_id: int, row: int, col: int, row2: int | None = None, col2: int | None = None) -> dict:
    """A Sheets API GridRange (0-based, end exclusive) from 1-based inclusive positions."""
    return {"sheetId": sheet_id, "startRowIndex": row - 1, "endRowIndex": row2 if row2 is not None else row,
            "startColumnIndex": col - 1, "endColumnIndex": col2 if col2 is not None else col}


def runs(rows: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs of row numbers: [12, 13, 14, 16] -> [(12, 14), (16, 16)]."""
    out: list[tuple[int, int]] = []
    for r in sorted(rows):
        if out and r == out[-1][1] + 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


def unit_tab_title(unit: Unit) -> str:
    """Tabs are named by unit code: short, unique, stable when a unit is renamed (the name is on the tab)."""
    return unit.code


def default_kind(tree: UnitTree, code: str) -> str:
    """A unit with units under it reports, in a shared sheet, the total for its whole subtree."""
    return L.KIND_TOTAL if tree.children.get(code) else L.KIND_OWN


# ------------------------------------------------------------------ one tab per unit

@dataclass(frozen=True)
class NarrativeBlock:
    nl: NarrativeList
    title_row: int
    header_row: int
    first: int          # first input row
    last: int           # last input row
    first_col: int = COL_LABEL

    @property
    def last_col(self) -> int:
        return self.first_col + len(self.nl.columns) - 1


@dataclass(frozen=True)
class TabLayout:
    """The unit tab: the Excel template's data sheet, then the narrative lists below the table."""

    catalogue: Catalogue
    rows: tuple                      # layout_rows(catalogue)[0]: ("section"|"indicator"|"ratio", item)
    placed: dict                     # code -> IndicatorRow (same rows as the Excel template)
    last_table_row: int
    blocks: tuple[NarrativeBlock, ...]

    header_row = FIRST_TABLE_ROW
    value_col = COL_VALUE
    note_col = COL_NOTE
    check_col = COL_CHECK

    @property
    def last_row(self) -> int:
        return self.blocks[-1].last if self.blocks else self.last_table_row

    def value_cell(self, code: str) -> str:
        return cell_ref(self.placed[code].row, COL_VALUE)

    def indicator_rows(self) -> list[int]:
        return sorted(ir.row for ir in self.placed.values())

    def input_runs(self) -> list[tuple[int, int]]:
        """Runs of indicator rows: the value and note cells in them are the unit's inputs."""
        return runs(self.indicator_rows())

    def input_grids(self, sheet_id: int, mid_level: bool) -> list[dict]:
        """Every cell the unit types into, as GridRanges (the holes of the tab's structure protection)."""
        out = [grid(sheet_id, a, COL_VALUE, b, COL_NOTE) for a, b in self.input_runs()]
        out += [grid(sheet_id, b.first, b.first_col, b.last, b.last_col) for b in self.blocks]
        if mid_level:
            out.append(grid(sheet_id, META_KIND, META_COL))
        return out

    def unit_area(self, sheet_id: int) -> dict:
        """One rectangle holding every input of the tab (and structure cells, which the sheet
        protection keeps for batn): the range the unit's own editors are given."""
        return grid(sheet_id, META_KIND, LABEL_COL, self.last_row, max([COL_NOTE, *(b.last_col for b in self.blocks)]))


def tab_layout(catalogue: Catalogue, narrative_rows: int = NARRATIVE_ROWS) -> TabLayout:
    rows, placed = layout_rows(catalogue)
    last = max([FIRST_TABLE_ROW] + [ir.row for ir in placed.values()]
               + [placed[item[0]].row + 1 for what, item in rows if what == "ratio"])
    blocks = []
    r = last + 2
    for nl in catalogue.narratives:
        blocks.append(NarrativeBlock(nl, r, r + 1, r + 2, r + 1 + narrative_rows))
        r += narrative_rows + 3
    return TabLayout(catalogue, tuple(rows), dict(placed), last, tuple(blocks))


# ------------------------------------------------------------------ one row per unit

@dataclass(frozen=True)
class RowsLayout:
    """"Số liệu các đơn vị": A code, B name, C kind, then one column per indicator."""

    catalogue: Catalogue
    units: tuple[str, ...]           # unit codes, in row order

    title_row = 1
    period_row = 2                   # A "Kỳ báo cáo:", B id, C label
    catalog_row = 3                  # A "Bộ chỉ tiêu:", B id
    header_row = 5
    code_row = 6                     # the indicator codes: the contract columns are found by
    first_unit_row = 7
    code_col, name_col, kind_col, first_value_col = 1, 2, 3, 4

    def column(self, code: str) -> int:
        return self.first_value_col + self.catalogue.codes.index(code)

    @property
    def last_col(self) -> int:
        return self.first_value_col + len(self.catalogue.codes) - 1

    def unit_row(self, code: str) -> int:
        return self.first_unit_row + self.units.index(code)

    @property
    def last_row(self) -> int:
        return self.first_unit_row + len(self.units) - 1


@dataclass(frozen=True)
class RowsNarrativeLayout:
    """One narrative list in the rows layout: A code, B name, C STT, then the list's columns;
    each unit owns a block of `per_unit` rows."""

    nl: NarrativeList
    units: tuple[str, ...]
    per_unit: int = ROWS_NARRATIVE_ROWS

    header_row = 2
    first_row = 3
    code_col, name_col, stt_col, first_col = 1, 2, 3, 4

    @property
    def last_col(self) -> int:
        return self.first_col + len(self.nl.columns) - 1

    def block(self, code: str) -> tuple[int, int]:
        start = self.first_row + self.units.index(code) * self.per_unit
        return start, start + self.per_unit - 1

    @property
    def last_row(self) -> int:
        return self.first_row + len(self.units) * self.per_unit - 1


def rows_header_label(ir: IndicatorRow) -> str:
    return f"{ir.stt}. {ir.indicator.label} ({ir.indicator.unit})"


def label_from_rows_header(text: str) -> str:
    """The indicator label inside a rows-layout header "12. <label> (<unit>)", for the structure check."""
    text = text.strip()
    head, dot, rest = text.partition(". ")
    if dot and head.isdigit():
        text = rest
    if text.endswith(")") and " (" in text:
        text = text[:text.rindex(" (")]
    return text
