"""The ribbon buttons. Each is one function taking the open workbook (`xw.Book`), with two thin wrappers:

- classic xlwings: `kiem_tra()` etc., run by the add-in's VBA through
  `RunPython "import batn.excel.buttons as b; b.kiem_tra()"` on `xw.Book.caller()`;
- xlwings Lite / Server: `kiem_tra_script(book)` etc., scripts that receive the book.

No business rule lives here: reading goes through batn's reader steps, checking through
`batn.checks.check_submission`, consolidation through `batn.pipeline`, and what is written
back is `batn.actions.annotation_actions` replayed on the book. Trả lại and Duyệt act on the
selected unit rows and record through `Ledger.decide`, the rule `batn tra-lai` / `batn duyet` use.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import xlwings as xw

from .. import layout as L
from ..actions import annotation_actions
from ..catalogue import CatalogueError, catalogue_of, load_catalogue
from ..checks import check_submission
from ..findings import count
from ..model import Finding, Severity, Submission
from ..pipeline import consolidate_inbox, load_period, make_templates, report_from_workbook, warn_outliers
from ..rollup import Consolidation
from ..units import UnitsFileError, units_from_rows, write_units_csv
from ..xlsx.reader import read_submission
from .book import (UNCHECKED_WORDS, book_folder, defined_names, find_sheet, is_classic, lite_cells, named_values,
                   read_book, saved_copy, sheet_rows)
from .settings import (SETTINGS, SETTINGS_SHEET, UNIT_COLUMNS, UNITS_FIRST_ROW, UNITS_SHEET, Settings,
                       SettingsError, _text, consolidated_name, report_name, settings_from_values, unit_rows)
from ..tables import (FINDINGS_HEADER, FINDINGS_WIDTHS, STATUS_WIDTHS, consolidation_findings_rows, file_name,
                      status_rows, summary_rows)
from .write import apply_actions, clear_marks, marked_cells, sheet_for_writing, write_table

TITLE = "batn"
# Errors a clerk can fix: shown in a message box, in Vietnamese, without a traceback.
USER_ERRORS = (SettingsError, UnitsFileError, CatalogueError, ValueError, KeyError, FileNotFoundError,
               PermissionError)


def _alert(book, text: str, critical: bool = False) -> None:
    book.app.alert(text, title=TITLE, mode="critical" if critical else "info")


def _progress(book, label: str):
    """Progress in Excel's status bar (classic only; the remote engine has none)."""
    if not is_classic(book):
        return lambda done, total: None

    def show(done: int, total: int) -> None:
        book.app.status_bar = f"batn: {label} {done}/{total}"
    return show


def _done_progress(book) -> None:
    if is_classic(book):
        book.app.status_bar = False


# ---------------------------------------------------------------- Kiểm tra

@dataclass
class CheckResult:
    errors: int
    warnings: int
    findings: list[Finding]
    message: str
    unchecked: list[str] = field(default_factory=list)   # what could not be looked at (book.UNCHECKED_WORDS)


def _read_for_check(book, formulas=None, merged=None) -> tuple[Submission, list[str]]:
    """The open book read for checking, and what could not be checked (see book.UNCHECKED_WORDS).
    Classic Excel: its saved copy's bytes through `read_submission`, as `batn validate` reads the
    file; otherwise (or if Excel refuses the copy) the cells, through the same reader steps."""
    if is_classic(book):
        copy = saved_copy(book)
        if copy is not None:
            data, name = copy
            return read_submission(name, data=data), []
    _forget_remote_ranges()
    return read_book(book, formulas=formulas, merged=merged)


def _forget_remote_ranges() -> None:
    """xlwings' remote engine caches range values across books (`_xlremote.get_range_api`, an lru_cache
    keyed by the sheet's values as a tuple). True == 1 and False == 0 as keys, so a sheet holding TRUE
    where an earlier book of the same process held 1 reads back as 1, and boolean-in-number is missed.
    xlwings clears that cache itself on `Book.load()`; the door does the same before reading."""
    try:
        from xlwings.pro import _xlremote
        _xlremote.get_range_api.cache_clear()
    except (ImportError, AttributeError):
        pass


def kiem_tra_book(book, *, formulas=None, merged=None) -> CheckResult:
    """Check the open unit workbook: colour and annotate bad cells, refresh "Kết quả kiểm tra", show the counts."""
    sub, unchecked = _read_for_check(book, formulas, merged)
    if any(f.kind == "unreadable-file" for f in sub.findings) and not sub.catalogue:
        n_err = count(sub.findings, Severity.ERROR)
        msg = (f"Kết quả kiểm tra: {n_err} lỗi, 0 cảnh báo.\nKhông đọc được sổ tính này nên chưa kiểm tra được "
               "số liệu:\n" + "\n".join(f.message for f in sub.findings))
        _alert(book, msg, critical=True)
        return CheckResult(n_err, count(sub.findings, Severity.WARNING), sub.findings, msg)
    if any(f.kind in ("not-a-template", "wrong-catalogue", "skipped-file") for f in sub.findings):
        msg = ("Sổ tính này không phải biểu mẫu báo cáo của batn (không có các tên định danh "
               f"{', '.join(L.METADATA_NAMES)} hoặc bộ chỉ tiêu không rõ), nên không kiểm tra được.\n"
               + "\n".join(f.message for f in sub.findings))
        _alert(book, msg, critical=True)
        return CheckResult(count(sub.findings, Severity.ERROR), count(sub.findings, Severity.WARNING),
                           sub.findings, msg)
    findings = check_submission(sub, catalogue_of(sub))       # the catalogue the book carries, else its id's
    actions = annotation_actions(findings)
    new = {(a.sheet, a.cell) for a in actions if hasattr(a, "cell")}
    clear_marks(book, [c for c in marked_cells(book) if c not in new], set(sub.cells.values()))
    active = book.sheets.active
    apply_actions(book, actions)
    active.activate()
    n_err, n_warn = count(findings, Severity.ERROR), count(findings, Severity.WARNING)
    msg = f"Kết quả kiểm tra: {n_err} lỗi, {n_warn} cảnh báo."
    if findings:
        msg += (f"\nCác ô có vấn đề đã được tô màu (đỏ: lỗi, cam: cảnh báo) và có ghi chú; "
                f"danh sách ở trang “{L.CHECK_SHEET}”.")
    if unchecked:
        what = " và ".join(UNCHECKED_WORDS[k] for k in unchecked)
        msg += (f"\nChưa kiểm tra được {what}: Excel không gửi các thông tin này cho batn khi chạy theo cách này. "
                "Hãy kiểm tra lại bằng nút “Kiểm tra” trên Excel cài trên máy tính (hoặc lệnh batn validate "
                "với tệp đã lưu) trước khi gửi.")
        if not n_err:
            msg += "\nKhông thấy lỗi trong những gì đã kiểm tra được, nhưng chưa thể khẳng định báo cáo gửi được."
    elif not n_err:
        msg += "\nKhông có lỗi: có thể gửi báo cáo cho đơn vị cấp trên."
    _alert(book, msg)
    return CheckResult(n_err, n_warn, findings, msg, unchecked)


async def kiem_tra_book_async(book) -> CheckResult:
    """Kiểm tra where reads can be awaited (xlwings Lite): formulas and merged cells are fetched from
    Excel first, so the check sees what `batn validate` sees in the file."""
    formulas = merged = None
    if not is_classic(book):
        formulas, merged = await lite_cells(book)
    return kiem_tra_book(book, formulas=formulas, merged=merged)


# ---------------------------------------------------------------- settings of the consolidation workbook

def read_settings(book) -> Settings:
    if find_sheet(book, SETTINGS_SHEET) is None:
        raise SettingsError(f"Sổ tính này không có trang “{SETTINGS_SHEET}”: hãy mở tệp tong_hop.xlsx "
                            "(sổ tính tổng hợp) rồi bấm lại.")
    values = named_values(book, [name for name, *_rest in SETTINGS])
    return settings_from_values(values, book_folder(book))


def read_units(book):
    rows = sheet_rows(book, UNITS_SHEET, UNITS_FIRST_ROW, len(UNIT_COLUMNS))
    if rows is None:
        raise SettingsError(f"Sổ tính này không có trang “{UNITS_SHEET}” (danh sách đơn vị).")
    units, where = unit_rows(rows)
    if not units:
        raise SettingsError(f"Trang “{UNITS_SHEET}” chưa có đơn vị nào.")
    return units_from_rows(units, where)


def _common(book):
    s = read_settings(book)
    tree = read_units(book)
    if s.unit not in tree:
        raise SettingsError(f"Mã đơn vị tổng hợp “{s.unit}” không có trong trang “{UNITS_SHEET}”.")
    return s, tree, load_catalogue(_beside(book, s.catalogue)), load_period(s.period)


def _beside(book, ref: str) -> str:
    """A catalogue file named in the settings relative to the book's own folder (an id stays an id)."""
    from pathlib import Path

    full = str(getattr(book, "fullname", "") or "")
    if ref.lower().endswith((".yaml", ".yml", ".xlsx")) and not Path(ref).is_absolute() and full:
        return str(Path(full).parent / ref)
    return ref


# ---------------------------------------------------------------- Tổng hợp

@dataclass
class ConsolidationResult:
    consolidation: Consolidation
    path: Path
    message: str


def tong_hop_book(book) -> ConsolidationResult:
    """Consolidate the inbox named in "Thiết lập"; write the summary, status and findings here, and save the
    consolidated workbook for the level above."""
    s, tree, cat, per = _common(book)
    if not s.inbox.is_dir():
        raise SettingsError(f"Không có thư mục nhận báo cáo: {s.inbox}")
    ledger = s.ledger if s.ledger is not None and s.ledger.is_file() else None
    try:
        # with the ledger: the review decisions (Trả lại, Duyệt) apply, as in `consolidate --ledger`
        cons = consolidate_inbox(s.inbox, tree, cat, per, root=s.unit, progress=_progress(book, "đọc báo cáo"),
                                 ledger=ledger)
        if ledger is not None:      # history: the same warnings as `consolidate --ledger`
            warn_outliers(cons, ledger)
    finally:
        _done_progress(book)
    from ..pipeline import consolidation_paper
    from ..xlsx.consolidated import write_consolidated
    from ..xlsx.pdf import PdfError, workbook_pdf

    paper = consolidation_paper(cat, per, config=s.report_config, number=s.number, on=s.on,
                                parent=tree.parent_of(s.unit or tree.root))
    path = write_consolidated(cons, s.outdir / consolidated_name(s.unit, per.id), paper)
    try:        # the printable copy; without LibreOffice the workbook still stands and prints from Excel
        pdf_line = f"Bản PDF để in: {workbook_pdf(path)}"
    except PdfError as e:
        pdf_line = str(e)
    settings_sheet = find_sheet(book, SETTINGS_SHEET)
    write_table(sheet_for_writing(book, L.SUMMARY_SHEET), summary_rows(cons), (12, 40, 13) + (11,) * len(cat.codes),
                header_rows=2, number_columns=list(range(4, 4 + len(cat.codes))))
    write_table(sheet_for_writing(book, L.STATUS_SHEET), status_rows(cons), STATUS_WIDTHS)
    write_table(sheet_for_writing(book, L.CHECK_SHEET), [list(FINDINGS_HEADER), *consolidation_findings_rows(cons)],
                FINDINGS_WIDTHS)
    settings_sheet.activate()
    n_err, n_warn = count(cons.findings, Severity.ERROR), count(cons.findings, Severity.WARNING)
    msg = (f"Tổng hợp {cons.tree[cons.tree.root].name} — {per.label}\n"
           f"Đã gửi báo cáo: {len(cons.sent)}/{len(cons.expected)} đơn vị; {n_err} lỗi, {n_warn} cảnh báo.\n"
           f"Xem các trang “{L.SUMMARY_SHEET}”, “{L.STATUS_SHEET}”, “{L.CHECK_SHEET}”.\n"
           f"Tệp tổng hợp gửi cấp trên: {path}\n{pdf_line}")
    _alert(book, msg)
    return ConsolidationResult(cons, path, msg)


# ---------------------------------------------------------------- Xuất báo cáo

@dataclass
class ReportResult:
    path: Path
    message: str


def xuat_bao_cao_book(book) -> ReportResult:
    """Write the BÁO CÁO .docx: from the consolidated workbook of the settings (in the consolidation
    workbook), otherwise from this workbook's own file, next to it."""
    if find_sheet(book, SETTINGS_SHEET) is not None:
        s, tree, _cat, per = _common(book)
        src = s.outdir / consolidated_name(s.unit, per.id)
        if not src.is_file():
            raise SettingsError(f"Chưa có tệp tổng hợp {src}: hãy bấm “Tổng hợp” trước.")
        out = s.outdir / report_name(s.unit, per.id)
        with tempfile.TemporaryDirectory(prefix="batn-") as tmp:
            units = Path(tmp) / "don_vi.csv"
            write_units_csv(tree, units)
            path, _doc = report_from_workbook(src, out, number=s.number, on=s.on, config=s.report_config,
                                              units=units, ledger=s.ledger if s.ledger and s.ledger.is_file() else None)
    else:
        folder = book_folder(book)
        if folder is None:
            raise SettingsError("Sổ tính chưa được lưu thành tệp: hãy lưu (Ctrl+S) rồi bấm lại.")
        if is_classic(book) and not book.api.Saved:
            raise SettingsError("Sổ tính có thay đổi chưa lưu: hãy lưu (Ctrl+S) rồi bấm lại, "
                                "để báo cáo dùng đúng số liệu đang thấy.")
        meta = named_values(book, [L.NAME_UNIT, L.NAME_PERIOD])
        unit, period = meta[L.NAME_UNIT], meta[L.NAME_PERIOD]
        name = report_name(str(unit), str(period)) if unit and period else Path(book.fullname).stem + ".docx"
        path, _doc = report_from_workbook(Path(book.fullname), folder / name)
    msg = f"Đã viết văn bản báo cáo:\n{path}"
    _alert(book, msg)
    return ReportResult(Path(path), msg)


# ---------------------------------------------------------------- Tạo biểu mẫu

@dataclass
class TemplatesResult:
    paths: list[Path] = field(default_factory=list)
    message: str = ""


def tao_bieu_mau_book(book) -> TemplatesResult:
    """Blank templates for every unit under the consolidating unit, one <CODE>.xlsx each."""
    s, tree, cat, per = _common(book)
    sub_tree = tree.subtree(s.unit)
    codes = sub_tree.walk()[1:]
    if not codes:
        raise SettingsError(f"Đơn vị “{s.unit}” không có đơn vị trực thuộc nào trong trang “{UNITS_SHEET}”.")
    paths = []
    show = _progress(book, "tạo biểu mẫu")
    try:
        for i, code in enumerate(codes, start=1):
            paths.extend(make_templates(cat, sub_tree, per, s.templates, only=code))
            show(i, len(codes))
    finally:
        _done_progress(book)
    msg = f"Đã tạo {len(paths)} biểu mẫu {per.label} ({cat.id}) trong thư mục:\n{s.templates}"
    _alert(book, msg)
    return TemplatesResult(paths, msg)


# ---------------------------------------------------------------- Trả lại, Duyệt

CODE_HEADERS = ("Mã", "Mã đơn vị")          # the unit code's column in "Tình hình nộp báo cáo", "Tổng hợp
NAME_HEADERS = ("Đơn vị", "Tên đơn vị")     # theo đơn vị" and "Đơn vị"; or the unit's name
PICK_ROW = (f"Hãy chọn dòng của đơn vị (một ô bất kỳ trên dòng, có thể chọn nhiều dòng) ở trang "
            f"“{L.STATUS_SHEET}” hoặc “{UNITS_SHEET}” rồi bấm lại.")


@dataclass
class ReviewResult:
    units: list[str]                          # the units selected
    done: list[tuple[str, str]]               # (unit, file) the decision was recorded on
    problems: list[str]
    consolidation: Consolidation
    message: str


def _header_columns(rows: list[list]) -> tuple[int, int | None, int | None]:
    """(header row, code column, name column), 1-based, from the first rows of a sheet; (0, None, None)."""
    for r, row in enumerate(rows, start=1):
        texts = [str(v).strip() if v is not None else "" for v in row]
        code = next((c for c, t in enumerate(texts, start=1) if t in CODE_HEADERS), None)
        name = next((c for c, t in enumerate(texts, start=1) if t in NAME_HEADERS), None)
        if code or name:
            return r, code, name
    return 0, None, None


def selected_units(book, tree) -> list[str]:
    """The units of the selected rows of the active sheet: the code in its "Mã" column, or the unit's
    name (as the tables indent it) in its "Đơn vị" column. SettingsError when none is selected."""
    sheet, sel = book.sheets.active, book.selection
    if sel is None:
        raise SettingsError(PICK_ROW)
    last_col = max(sheet.used_range.last_cell.column, 3)
    head = sheet.range((1, 1), (3, last_col)).options(ndim=2).value
    header_row, code_col, name_col = _header_columns(head)
    if not header_row:
        raise SettingsError(PICK_ROW)
    by_name: dict[str, list[str]] = {}
    for code in tree.walk():
        by_name.setdefault(tree[code].name.strip().casefold(), []).append(code)
    found: list[str] = []
    for part in str(sel.address).split(","):
        area = sheet.range(part)
        top, bottom = max(area.row, header_row + 1), area.row + area.rows.count - 1
        if bottom < top:
            continue
        rows = sheet.range((top, 1), (bottom, last_col)).options(ndim=2).value
        for row in rows:
            code = _text(row[code_col - 1]) if code_col else ""
            if code not in tree and name_col and row[name_col - 1]:
                named = by_name.get(str(row[name_col - 1]).strip().casefold(), [])
                code = named[0] if len(named) == 1 else code
            if code in tree and code not in found:
                found.append(code)
    if not found:
        raise SettingsError(PICK_ROW)
    return found


def _who(book, s: Settings) -> str:
    """Who decides: the setting, else the user name classic Excel knows; the remote engine knows none."""
    if s.reviewer:
        return s.reviewer
    if is_classic(book):
        try:
            return str(book.app.api.UserName or "")
        except Exception:                 # noqa: BLE001 - a decision stands without a name
            return ""
    return ""


def _reason(book, s: Settings, names: list[str]) -> str | None:
    """Trả lại's reason: classic Excel asks in an input box (the setting, if any, filled in; None:
    cancelled); the remote engine (xlwings Lite/Server) has no input box, so the setting holds it."""
    if is_classic(book):
        answer = book.app.api.InputBox(f"Lý do trả lại báo cáo của {', '.join(names)} (gửi cho đơn vị):",
                                       TITLE, s.reason)
        if answer is False:               # Cancel
            return None
        reason = str(answer or "").strip()
    else:
        reason = s.reason
    if not reason:
        raise SettingsError("Cần ghi lý do trả lại. " + ("" if is_classic(book) else
                            "Excel trên web không có hộp hỏi lý do: hãy ghi lý do vào ô “Lý do trả lại” ở trang "
                            f"“{SETTINGS_SHEET}”, chọn lại dòng của đơn vị rồi bấm “Trả lại”."))
    return reason


def _clear_setting(book, name: str) -> None:
    ref = defined_names(book).get(name, "")
    if "!" in ref:
        title, cell = ref.rsplit("!", 1)
        sheet = find_sheet(book, title.strip("'").replace("''", "'"))
        if sheet is not None:
            sheet.range(cell.replace("$", "")).value = None


def _review_book(book, action: str) -> ReviewResult | None:
    """Record `action` on the newest file of each selected unit, through the rule every door uses
    (batn.ledger.Ledger.decide), then refresh the status table and its "Duyệt" column."""
    from ..ledger import Ledger
    from ..review import SEND_BACK, newest_files, review_consolidation

    s, tree, cat, per = _common(book)
    if s.ledger is None:
        raise SettingsError(f"Trang “{SETTINGS_SHEET}” chưa ghi “Sổ theo dõi (.sqlite3)”: batn ghi các quyết định "
                            "trả lại, duyệt vào sổ này (tệp chưa có thì được tạo mới).")
    if not s.inbox.is_dir():
        raise SettingsError(f"Không có thư mục nhận báo cáo: {s.inbox}")
    active = book.sheets.active
    units = selected_units(book, tree)
    reason = ""
    if action == SEND_BACK:
        reason = _reason(book, s, [tree[u].name for u in units])
        if reason is None:
            return None
    try:    # each unit's newest file, as Tổng hợp reads the inbox, with the decisions so far
        cons = consolidate_inbox(s.inbox, tree, cat, per, root=s.unit, progress=_progress(book, "đọc báo cáo"),
                                 ledger=s.ledger if s.ledger.is_file() else None)
    finally:
        _done_progress(book)
    newest = newest_files(cons)
    with Ledger(s.ledger) as led:
        done, problems = led.decide(per.id, units, action, reason, _who(book, s), newest=newest,
                                    where=" trong thư mục nhận báo cáo")
        review_consolidation(cons, led.review_events(per.id))
    done = [(u, file_name(cons, newest[u].source)) for u, _f in done]     # relative to the inbox, as the tables
    write_table(sheet_for_writing(book, L.STATUS_SHEET), status_rows(cons), STATUS_WIDTHS)
    if done and action == SEND_BACK and s.reason:
        _clear_setting(book, "BATN_SET_REASON")        # not to send the next unit back with this reason
    active.activate()
    verb = "Đã trả lại" if action == SEND_BACK else "Đã duyệt"
    lines = [f"{verb} báo cáo {per.label} của {tree[u].name} ({f})" for u, f in done]
    if done and action == SEND_BACK:
        lines.append(f"Lý do: {reason}")
    lines += [f"Chưa làm được: {p}" for p in problems]
    lines.append(f"Cột “Duyệt” ở trang “{L.STATUS_SHEET}” đã cập nhật; bấm “Tổng hợp” để tính lại tệp tổng hợp "
                 "gửi cấp trên theo quyết định này.")
    msg = "\n".join(lines)
    _alert(book, msg, critical=not done)
    return ReviewResult(units, done, problems, cons, msg)


def tra_lai_book(book) -> ReviewResult | None:
    """Trả lại: send the selected units' reports back, with the reason (None: the clerk cancelled)."""
    from ..review import SEND_BACK

    return _review_book(book, SEND_BACK)


def duyet_book(book) -> ReviewResult | None:
    """Duyệt: approve the newest report of each selected unit (refused while it has lỗi)."""
    from ..review import APPROVE

    return _review_book(book, APPROVE)


# ---------------------------------------------------------------- the two kinds of wrapper

def _message(e: Exception) -> str:
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    if isinstance(e, PermissionError):
        return (f"Không ghi được tệp {e.filename or ''}: tệp đang mở trong Excel hoặc thư mục không cho ghi. "
                "Hãy đóng tệp đó rồi bấm lại.")
    if isinstance(e, FileNotFoundError):
        return f"Không tìm thấy: {e.filename or e}"
    return str(e)


def run(button, book):
    """Run one button on `book`; a problem the clerk can fix becomes a message box, not a traceback."""
    try:
        return button(book)
    except USER_ERRORS as e:
        _alert(book, _message(e), critical=True)
        return None


# classic xlwings: RunPython "import batn.excel.buttons as b; b.kiem_tra()"
def kiem_tra():
    return run(kiem_tra_book, xw.Book.caller())


def tong_hop():
    return run(tong_hop_book, xw.Book.caller())


def xuat_bao_cao():
    return run(xuat_bao_cao_book, xw.Book.caller())


def tao_bieu_mau():
    return run(tao_bieu_mau_book, xw.Book.caller())


def tra_lai():
    return run(tra_lai_book, xw.Book.caller())


def duyet():
    return run(duyet_book, xw.Book.caller())


# xlwings Lite / Server: scripts that receive the book
@xw.script
async def kiem_tra_script(book: xw.Book):
    """Async, so that xlwings Lite can be asked for the formulas and merged cells (awaited reads);
    xlwings Server, which cannot answer them, awaits it too and the clerk is told what was not checked."""
    try:
        return await kiem_tra_book_async(book)
    except USER_ERRORS as e:
        _alert(book, _message(e), critical=True)
        return None


@xw.script
def tong_hop_script(book: xw.Book):
    return run(tong_hop_book, book)


@xw.script
def xuat_bao_cao_script(book: xw.Book):
    return run(xuat_bao_cao_book, book)


@xw.script
def tao_bieu_mau_script(book: xw.Book):
    return run(tao_bieu_mau_book, book)


@xw.script
def tra_lai_script(book: xw.Book):
    """The reason is read from “Lý do trả lại” in “Thiết lập”: the remote engine has no input box."""
    return run(tra_lai_book, book)


@xw.script
def duyet_script(book: xw.Book):
    return run(duyet_book, book)


# The ribbon's buttons: (callback Sub in addin/xlam/BatnRibbon.bas, Python entry point); tests check both.
BUTTONS = {
    "KiemTra": "kiem_tra",
    "TongHop": "tong_hop",
    "XuatBaoCao": "xuat_bao_cao",
    "TaoBieuMau": "tao_bieu_mau",
    "TraLai": "tra_lai",
    "Duyet": "duyet",
}
