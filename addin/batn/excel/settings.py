"""The consolidation workbook's contract: the "Thiết lập" sheet and the "Đơn vị" sheet.

Every setting is a workbook-level defined name (like the templates' indicator cells),
so the buttons find it wherever a province moves it. `scripts/build_workbooks.py`
writes `workbooks/tong_hop.xlsx` from the same table, so the two cannot drift.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

SETTINGS_SHEET = "Thiết lập"
UNITS_SHEET = "Đơn vị"
LISTS_SHEET = "Danh mục"          # hidden: the lists the data validation offers

# (defined name, label shown to the clerk, hint, required)
SETTINGS: tuple[tuple[str, str, str, bool], ...] = (
    ("BATN_SET_UNIT", "Mã đơn vị tổng hợp",
     "Chọn trong danh sách (lấy từ trang “Đơn vị”): đơn vị của mình, đơn vị đứng đầu cây tổng hợp.", True),
    ("BATN_SET_PERIOD", "Kỳ báo cáo",
     "Ví dụ 2026 (cả năm), 2026-H1 (6 tháng đầu năm), 2026-H2, 2024-2028 (giai đoạn).", True),
    ("BATN_SET_CATALOG", "Bộ chỉ tiêu", "3tn-2024 (từ năm 2015) hoặc 3tn-2009 (2009–2014).", True),
    ("BATN_SET_INBOX", "Thư mục nhận báo cáo",
     "Thư mục chứa các tệp báo cáo các đơn vị gửi lên. Đường dẫn tương đối tính từ thư mục chứa tệp này.", True),
    ("BATN_SET_OUTDIR", "Thư mục kết quả",
     "Nơi ghi tệp tổng hợp (gửi cấp trên) và văn bản báo cáo .docx.", True),
    ("BATN_SET_TEMPLATES", "Thư mục biểu mẫu",
     "Nơi ghi biểu mẫu trống cho các đơn vị trực thuộc (nút Tạo biểu mẫu). Để trống: <thư mục kết quả>/bieu_mau.",
     False),
    ("BATN_SET_NUMBER", "Số văn bản báo cáo", "Ví dụ 44A. Để trống nếu chưa có số.", False),
    ("BATN_SET_DATE", "Ngày ban hành", "Ngày ghi trên văn bản báo cáo. Để trống: ngày bấm nút.", False),
    ("BATN_SET_REPORT_CONFIG", "Tệp thiết lập văn bản (.toml)",
     "Cơ quan ban hành, người ký, nơi nhận... Để trống: thiết lập mặc định.", False),
    ("BATN_SET_LEDGER", "Sổ theo dõi (.sqlite3)",
     "Sổ có số liệu các kỳ trước (batn lich-su nhap, batn run): so sánh với kỳ trước và cảnh báo số liệu "
     "bất thường; nút Trả lại và Duyệt ghi quyết định vào sổ này (chưa có thì tạo mới). Để trống: không so "
     "sánh, không dùng được Trả lại/Duyệt.", False),
    ("BATN_SET_REASON", "Lý do trả lại",
     "Excel trên máy tính hỏi lý do khi bấm Trả lại (ghi sẵn ở đây thì hiện sẵn). Excel trên web "
     "(xlwings Lite/Server) không hỏi được: ghi lý do vào ô này trước khi bấm Trả lại; trả lại xong ô được xoá.",
     False),
    ("BATN_SET_REVIEWER", "Người trả lại/duyệt",
     "Tên ghi vào sổ theo dõi cùng mỗi quyết định. Để trống: tên người dùng của Excel (nếu có).", False),
)
SETTINGS_FIRST_ROW = 4           # row of the first setting; label in A, value in B, hint in C

# Columns of the "Đơn vị" sheet: key of the units file (batn.units) and the header shown.
UNIT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("code", "Mã đơn vị"),
    ("name", "Tên đơn vị"),
    ("parent", "Mã đơn vị cấp trên"),
    ("level", "Cấp"),
    ("place", "Địa danh (nơi ban hành)"),
    ("issuer", "Cơ quan ban hành (viết tắt)"),
    ("signer", "Người ký"),
    ("contact", "Liên hệ"),
    ("merged_into", "Đã sáp nhập vào (mã)"),
    ("merged_from", "Sáp nhập từ kỳ"),
)
UNITS_FIRST_ROW = 2


class SettingsError(ValueError):
    """A setting is missing or unusable; the message is for the clerk, in Vietnamese."""


@dataclass(frozen=True)
class Settings:
    unit: str
    period: str
    catalogue: str
    inbox: Path
    outdir: Path
    templates: Path
    number: str | None
    on: date | None
    report_config: Path | None
    ledger: Path | None = None
    reason: str = ""              # Trả lại's reason where no input box can ask (xlwings Lite/Server)
    reviewer: str = ""


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _path(text: str, base: Path | None) -> Path:
    p = Path(text).expanduser()
    return p if p.is_absolute() or base is None else base / p


def _date(v: object) -> date | None:
    if v in (None, ""):
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    text = _text(v)
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise SettingsError(f"“Ngày ban hành” không đúng dạng ngày/tháng/năm: {text}")


def settings_from_values(values: dict[str, object], base: Path | None) -> Settings:
    """`values`: defined name -> cell value; `base`: the folder relative paths start from."""
    labels = {name: label for name, label, _hint, _req in SETTINGS}
    missing = [labels[n] for n, _l, _h, req in SETTINGS if req and not _text(values.get(n))]
    if missing:
        raise SettingsError("Trang “Thiết lập” còn thiếu: " + ", ".join(missing))
    outdir = _path(_text(values["BATN_SET_OUTDIR"]), base)
    templates = _text(values.get("BATN_SET_TEMPLATES"))
    config = _text(values.get("BATN_SET_REPORT_CONFIG"))
    return Settings(
        unit=_text(values["BATN_SET_UNIT"]),
        period=_text(values["BATN_SET_PERIOD"]),
        catalogue=_text(values["BATN_SET_CATALOG"]),
        inbox=_path(_text(values["BATN_SET_INBOX"]), base),
        outdir=outdir,
        templates=_path(templates, base) if templates else outdir / "bieu_mau",
        number=_text(values.get("BATN_SET_NUMBER")) or None,
        on=_date(values.get("BATN_SET_DATE")),
        report_config=_path(config, base) if config else None,
        ledger=_path(_text(values.get("BATN_SET_LEDGER")), base) if _text(values.get("BATN_SET_LEDGER")) else None,
        reason=_text(values.get("BATN_SET_REASON")),
        reviewer=_text(values.get("BATN_SET_REVIEWER")),
    )


def unit_rows(rows: list[list[object]]) -> tuple[list[dict], list[str]]:
    """Rows of the "Đơn vị" sheet (below the header) as units-file rows, with where each came from."""
    out, where = [], []
    for i, row in enumerate(rows):
        cells = list(row) + [None] * (len(UNIT_COLUMNS) - len(row))
        if all(_text(c) == "" for c in cells[:len(UNIT_COLUMNS)]):
            continue
        out.append({key: _text(cells[c]) for c, (key, _h) in enumerate(UNIT_COLUMNS)})
        where.append(f"trang “{UNITS_SHEET}”, dòng {UNITS_FIRST_ROW + i}")
    return out, where


def consolidated_name(unit: str, period: str) -> str:
    """The consolidated workbook's file name, as `batn demo` names it."""
    return f"TongHop_{unit}_{period}.xlsx"


def report_name(unit: str, period: str) -> str:
    return f"BaoCao_{unit}_{period}.docx"
