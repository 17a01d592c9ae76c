"""Catalogues in workbooks (openpyxl): the authoring workbook a clerk fills, the XLSForm way, and
the copy of its catalogue every batn workbook carries.

Authoring workbook (`batn catalogue new`): one sheet per part of the catalogue, one row per item,
the first row naming the columns with the YAML keys (code, section, label, unit, kind, rules,
required, phrase, compare, target, pair, max), the second row saying in Vietnamese what goes there.
Drop-down lists for kinds, sections, severities and yes/no. Read back into the YAML mapping with a
location for every value, so `catalogue check` names sheet, row and column.

Carried copy: a very hidden sheet holding the catalogue as JSON (BATN_CATALOG_DATA), and two
constant defined names, BATN_CATALOG_VERSION and BATN_CATALOG_HASH, beside BATN_CATALOG (its id);
written here (embed_catalogue), read back by xlsx.carried, which loads no openpyxl.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from ..catalogue import (DEFAULT_CEILINGS, DEFAULT_NARRATIVES, CatalogueError, catalogue_from_dict,
                         catalogue_problems, catalogue_to_dict)
from ..model import KINDS, Catalogue, Severity
from ..resources import unreadable_text
from ..rulelang import Problem
from .carried import CATALOG_SHEET, CHUNK, MARK, NAME_DATA, NAME_HASH, NAME_VERSION, embedded_catalogue

# ------------------------------------------------------------------ the carried copy (written here; read by xlsx.carried)

def embed_catalogue(wb: Workbook, cat: Catalogue) -> None:
    """Give a batn workbook its catalogue: the very hidden sheet and the constant names."""
    text = json.dumps(catalogue_to_dict(cat), ensure_ascii=False, separators=(",", ":"))
    ws = wb.create_sheet(CATALOG_SHEET)
    chunks = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)] or [""]
    for r, chunk in enumerate(chunks, start=1):
        ws.cell(r, 1).value = MARK + chunk
    ws.sheet_state = "veryHidden"
    ws.protection.sheet = True
    wb.defined_names[NAME_DATA] = DefinedName(NAME_DATA, attr_text=f"{quote_sheetname(CATALOG_SHEET)}!$A$1:$A${len(chunks)}")
    wb.defined_names[NAME_VERSION] = DefinedName(NAME_VERSION, attr_text=_const(cat.version))
    wb.defined_names[NAME_HASH] = DefinedName(NAME_HASH, attr_text=_const(cat.digest))


def _const(text: str) -> str:
    return '"' + str(text).replace('"', '""') + '"'


# ------------------------------------------------------------------ the authoring workbook
SHEET_IND = "Chỉ tiêu"
SHEET_SEC = "Phần"
SHEET_PHRASE = "Câu báo cáo"
SHEET_REPORT = "Báo cáo"
SHEET_SET = "Thiết lập"
SHEET_LISTS = "Danh sách nhập"
SHEET_GUIDE = "Hướng dẫn"
SHEET_CHOICES = "Danh mục"

IND_COLUMNS = [
    ("code", "Mã chỉ tiêu: chữ in hoa không dấu, số, dấu _ (ví dụ CV_YTUONG_SO). Là tên định danh của ô nhập; không đổi khi đã gửi biểu mẫu", 22),
    ("section", "Mã phần (trang “Phần”), ví dụ II.1", 9),
    ("label", "Nội dung chỉ tiêu (dòng trên biểu mẫu)", 48),
    ("unit", "Đơn vị tính: người, lượt, cuộc, đồng…", 11),
    ("kind", "Loại: count (số lượng), turns (lượt), people (người), money (tiền), ratio_num (tử số), ratio_den (mẫu số)", 11),
    ("rules", "Quy tắc kiểm tra, mỗi dòng một quy tắc, ví dụ: <= TT_DOANVIEN [lỗi]; CV_A + CV_B <= TT_X [cảnh báo]", 34),
    ("required", "Bắt buộc nhập: lỗi / cảnh báo (để trống: không bắt buộc)", 11),
    ("phrase", "Câu báo cáo của chỉ tiêu, ví dụ: tổ chức {CV_DIENDAN_SO} diễn đàn{CV_DIENDAN_SO:chitieu}", 44),
    ("compare", "So sánh với kỳ trước trong báo cáo: có", 9),
    ("target", "Chỉ tiêu kế hoạch: 1550; 100% TT_COSO_TONG; 1 mỗi TT_DOANVIEN; tối đa 0", 20),
    ("pair", "Chỉ tiêu đi cặp (mẫu số của tỷ lệ, số cuộc của số lượt)", 18),
    ("max", "Mức tối đa hợp lý riêng (để trống: theo loại)", 12),
    ("short", "Tên ngắn ở đầu cột biểu phụ lục của báo cáo, ví dụ: Lớp tập huấn (để trống: batn tự rút gọn)", 20),
]
SEC_COLUMNS = [("key", "Mã phần: 0 số liệu chung, I triển khai, II.1… các nội dung, III khen thưởng", 10),
               ("heading", "Tiêu đề phần", 40),
               ("lead", "Câu mở đầu phần trong báo cáo (câu định tính, không bắt buộc)", 80)]
PHRASE_COLUMNS = [("section", "Mã phần", 9),
                  ("needs", "Các mã chỉ tiêu của câu, cách nhau bởi dấu phẩy (câu bị bỏ khi mọi mã để trống)", 30),
                  ("text", "Câu báo cáo; chỗ trống {MA}, {MA:so}, {MA:tien}, {MA:tyle}, {MA:ss}, {MA:chitieu}, {chu_ngu}", 80),
                  ("zero", "Câu thay thế khi mọi số liệu của câu bằng 0 (không bắt buộc)", 40),
                  ("join", "Nối liền câu sau bằng (ví dụ “; ”)", 8),
                  ("only_if", "Điều kiện (jinja2, không bắt buộc)", 20)]
REPORT_COLUMNS = [("key", "Mục: subject (trích yếu), opening (mở đầu), deployment (triển khai), evaluation.strengths (ưu điểm), "
                          "evaluation.limitations (hạn chế), compare (mã so sánh kỳ trước), appendix (mã đưa vào phụ lục)", 16),
                  ("text", "Nội dung (mỗi dòng một đoạn; compare, appendix: các mã cách nhau bởi dấu phẩy)", 100)]
SET_COLUMNS = [("key", "Mục", 22), ("value", "Giá trị", 70)]
LIST_COLUMNS = [("key", "Mã danh sách", 12), ("sheet", "Tên trang trên biểu mẫu", 22), ("title", "Tiêu đề", 40),
                ("columns", "Các cột, cách nhau bởi dấu chấm phẩy", 50), ("name", "Tên định danh (BATN_…)", 16)]

KIND_CHOICES = [("count", "số lượng (cuộc, buổi, công trình…)"), ("turns", "số lượt"), ("people", "số người"),
                ("money", "số tiền (đồng)"), ("ratio_num", "tử số của tỷ lệ (tỷ lệ tự tính)"),
                ("ratio_den", "mẫu số của tỷ lệ")]
SEVERITY_CHOICES = ["lỗi", "cảnh báo"]
YES = "có"
REPORT_KEYS = ("subject", "opening", "deployment", "evaluation.strengths", "evaluation.limitations", "compare", "appendix")
REPORT_ALIASES = {"trích yếu": "subject", "mở đầu": "opening", "triển khai": "deployment",
                  "ưu điểm": "evaluation.strengths", "hạn chế": "evaluation.limitations", "so sánh": "compare", "phụ lục": "appendix"}
SET_KEYS = ("id", "title", "movement", "version")
LIST_KEYS = ("opening", "deployment", "strengths", "limitations")

HEAD_FILL = PatternFill("solid", fgColor="BDD7EE")
NOTE_FONT = Font(italic=True, color="595959", size=9)

GUIDE = [
    "HƯỚNG DẪN LẬP BỘ CHỈ TIÊU",
    "Bộ chỉ tiêu gồm các chỉ tiêu (số liệu) các đơn vị báo cáo, quy tắc kiểm tra, chỉ tiêu kế hoạch và câu chữ của báo cáo. "
    "Điền tệp này rồi chạy: batn catalogue check <tệp>, sau đó dùng --catalog <tệp> khi tạo biểu mẫu, kiểm tra, tổng hợp.",
    "1. Trang “Thiết lập”: id (mã bộ chỉ tiêu, chữ không dấu, ví dụ kdcd-2024), title (tên), version (phiên bản, tăng mỗi khi sửa).",
    "2. Trang “Phần”: các phần của báo cáo. 0 = số liệu chung, I = công tác triển khai, II.1, II.2… = các nội dung, "
    "III = biểu dương, khen thưởng. Cột lead: câu mở đầu phần trong báo cáo.",
    "3. Trang “Chỉ tiêu”: mỗi dòng một chỉ tiêu. Dòng 1 là tên cột (không sửa), dòng 2 là giải thích. "
    "Mã (code) không được trùng, không đổi sau khi đã gửi biểu mẫu cho đơn vị.",
    "4. Cột rules (quy tắc): mỗi dòng trong ô một quy tắc, mức độ trong ngoặc vuông [lỗi] hoặc [cảnh báo] (mặc định: lỗi). "
    "Ví dụ: <= TT_DOANVIEN [lỗi] (không lớn hơn số đoàn viên); CV_A + CV_B <= TT_X [cảnh báo]; "
    ">= TK_HOINGHI_SO khi TK_HOINGHI_SO > 0 [cảnh báo]; bắt buộc khi CV_CTPV_SO > 0 [lỗi].",
    "5. Cột target (chỉ tiêu kế hoạch): 1550 (số tuyệt đối); 100% TT_COSO_TONG (tỷ lệ của chỉ tiêu khác); "
    "1 mỗi TT_DOANVIEN (mỗi đoàn viên ít nhất 1); tối đa 0 (không vượt quá). Báo cáo ghi “đạt / vượt / chưa đạt chỉ tiêu”.",
    "6. Cột phrase (câu báo cáo): {MA} = số kèm đơn vị tính; {MA:so} = con số; {MA:tien} = số tiền; {MA:tyle} = tỷ lệ; "
    "{MA:ss} = so sánh kỳ trước; {MA:chitieu} = đạt/vượt chỉ tiêu; {chu_ngu} = “toàn khối”, “toàn tỉnh”. "
    "Chỉ tiêu không có câu vẫn được đưa vào báo cáo bằng câu đơn giản “Nội dung: số đơn vị tính”.",
    "7. Trang “Câu báo cáo”: câu gộp nhiều chỉ tiêu của một phần; trang “Báo cáo”: trích yếu, mở đầu, ưu điểm, hạn chế.",
    "8. Các cột có danh sách chọn (kind, section, required, compare): bấm mũi tên ở ô để chọn.",
    "Chi tiết: docs/bo-chi-tieu.md.",
]


def _header(ws, columns) -> None:
    for c, (key, note, width) in enumerate(columns, start=1):
        cell = ws.cell(1, c, key)
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
        cell.comment = Comment(note, "batn")
        n = ws.cell(2, c, note)
        n.font = NOTE_FONT
        n.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.row_dimensions[2].height = 48
    ws.freeze_panes = "A3"


def _rows(ws, columns, rows: list[dict]) -> None:
    for r, row in enumerate(rows, start=3):
        for c, (key, _, _) in enumerate(columns, start=1):
            v = row.get(key)
            if isinstance(v, list):
                v = "\n".join(map(str, v))
            cell = ws.cell(r, c)
            cell.value = v if v not in ("", None) else None
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _list_validation(ws, col: int, formula: str, prompt: str, last: int = 1000) -> None:
    dv = DataValidation(type="list", formula1=formula, allow_blank=True, showErrorMessage=True,
                        errorTitle="Giá trị không có trong danh sách", error=prompt,
                        showInputMessage=True, promptTitle="Chọn trong danh sách", prompt=prompt)
    ws.add_data_validation(dv)
    dv.add(f"{get_column_letter(col)}3:{get_column_letter(col)}{last}")


def write_authoring(path: str | Path, cat: Catalogue | None = None) -> Path:
    """The authoring workbook: `cat`'s content, or a blank one with the usual sections."""
    from ..safeio import atomic_save_workbook

    data = catalogue_to_dict(cat) if cat is not None else _blank()
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_GUIDE
    ws.column_dimensions["A"].width = 120
    for r, line in enumerate(GUIDE, start=1):
        c = ws.cell(r, 1, line)
        c.font = Font(bold=r == 1, size=13 if r == 1 else 11)
        c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[r].height = 15 * max(1, len(line) // 110 + 1)

    st = wb.create_sheet(SHEET_SET)
    _header(st, SET_COLUMNS)
    settings = [{"key": k, "value": data.get(k, "")} for k in SET_KEYS]
    settings += [{"key": f"ceilings.{k}", "value": (data.get("ceilings") or DEFAULT_CEILINGS).get(k)} for k in KINDS]
    _rows(st, SET_COLUMNS, settings)

    sec = wb.create_sheet(SHEET_SEC)
    _header(sec, SEC_COLUMNS)
    leads = (data.get("report") or {}).get("leads") or {}
    _rows(sec, SEC_COLUMNS, [{"key": s["key"], "heading": s["heading"], "lead": leads.get(s["key"])}
                             for s in data.get("sections", [])])

    ind = wb.create_sheet(SHEET_IND)
    _header(ind, IND_COLUMNS)
    _rows(ind, IND_COLUMNS, [{**r, "compare": YES if r.get("compare") else None} for r in data.get("indicators", [])])
    cols = {k: i for i, (k, _, _) in enumerate(IND_COLUMNS, start=1)}
    _list_validation(ind, cols["kind"], f"{quote_sheetname(SHEET_CHOICES)}!$A$2:$A${len(KIND_CHOICES) + 1}",
                     "Chọn loại chỉ tiêu: count, turns, people, money, ratio_num, ratio_den")
    _list_validation(ind, cols["section"], f"{quote_sheetname(SHEET_SEC)}!$A$3:$A$60", "Chọn mã phần ở trang “Phần”")
    _list_validation(ind, cols["required"], '"' + ",".join(SEVERITY_CHOICES) + '"', "Chọn lỗi hoặc cảnh báo")
    _list_validation(ind, cols["compare"], f'"{YES}"', "Chọn “có” để so sánh với kỳ trước")
    ind.sheet_view.zoomScale = 90

    ph = wb.create_sheet(SHEET_PHRASE)
    _header(ph, PHRASE_COLUMNS)
    prow = []
    for key, items in (data.get("phrases") or {}).items():
        for it in items:
            prow.append({"section": key, "needs": ", ".join(it.get("needs") or []), "text": it.get("text"),
                         "zero": it.get("zero"), "join": it.get("join"), "only_if": it.get("only_if")})
    _rows(ph, PHRASE_COLUMNS, prow)
    _list_validation(ph, 1, f"{quote_sheetname(SHEET_SEC)}!$A$3:$A$60", "Chọn mã phần ở trang “Phần”")

    rp = wb.create_sheet(SHEET_REPORT)
    _header(rp, REPORT_COLUMNS)
    rrows: list[dict] = []

    def flat(d: dict, prefix: str = "") -> None:
        for k, v in d.items():
            path = prefix + str(k)
            if k == "leads" and not prefix:
                continue                          # on the sheet “Phần”
            if isinstance(v, dict):
                flat(v, path + ".")
            elif k in ("compare", "appendix") and not prefix:
                rrows.append({"key": path, "text": ", ".join(v or [])})
            elif isinstance(v, list):
                rrows.extend({"key": path, "text": t} for t in v)
            else:
                rrows.append({"key": path, "text": v})
    flat(data.get("report") or {})
    _rows(rp, REPORT_COLUMNS, rrows)
    _list_validation(rp, 1, '"' + ",".join(REPORT_KEYS) + '"', "Chọn mục của báo cáo")

    ls = wb.create_sheet(SHEET_LISTS)
    _header(ls, LIST_COLUMNS)
    narr = data.get("narratives") or [{"key": n.key, "sheet": n.sheet, "title": n.title, "columns": list(n.columns),
                                       "name": n.name} for n in DEFAULT_NARRATIVES]
    _rows(ls, LIST_COLUMNS, [{**n, "columns": "; ".join(n["columns"])} for n in narr])

    ch = wb.create_sheet(SHEET_CHOICES)
    ch["A1"], ch["B1"], ch["D1"] = "kind", "Ý nghĩa", "Mức độ"
    for r, (k, meaning) in enumerate(KIND_CHOICES, start=2):
        ch.cell(r, 1, k)
        ch.cell(r, 2, meaning)
    for r, s in enumerate(SEVERITY_CHOICES, start=2):
        ch.cell(r, 4, s)
    ch.column_dimensions["B"].width = 40
    wb.active = wb.sheetnames.index(SHEET_IND)
    path = Path(path)
    atomic_save_workbook(wb, path)
    return path


def _blank() -> dict[str, Any]:
    return {"id": "bo-chi-tieu-moi", "title": "Phong trào “3 trách nhiệm” …", "movement": "3 trách nhiệm",
            "version": "1", "ceilings": dict(DEFAULT_CEILINGS),
            "sections": [{"key": "0", "heading": "Số liệu chung"}, {"key": "I", "heading": "Công tác triển khai"},
                         {"key": "II.1", "heading": "Trách nhiệm với bản thân"},
                         {"key": "II.2", "heading": "Trách nhiệm với công việc"},
                         {"key": "II.3", "heading": "Trách nhiệm với cộng đồng"},
                         {"key": "III", "heading": "Biểu dương, khen thưởng"}],
            "indicators": [], "phrases": {}, "report": {}}


# ------------------------------------------------------------------ reading it back
def is_authoring(path: str | Path) -> bool:
    try:
        wb = load_workbook(path, read_only=True)
        try:
            return SHEET_IND in wb.sheetnames
        finally:
            wb.close()
    except Exception:
        return False


def _key(text: object, keys: list[str]) -> str | None:
    """A header cell -> its column key: "code", "Mã (code)", or the key in any case."""
    t = " ".join(str(text or "").split()).strip()
    m = re.search(r"\(([A-Za-z_]+)\)\s*$", t)
    if m:
        t = m.group(1)
    t = t.lower()
    return t if t in keys else None


def _read_table(ws, columns) -> list[tuple[int, dict[str, Any], dict[str, str]]]:
    """(row number, values by key, column letter by key) for each filled row under the header."""
    keys = [k for k, _, _ in columns]
    notes = {k: n for k, n, _ in columns}
    rows = list(ws.iter_rows(values_only=True))
    if not rows:
        return []
    head = {}
    for c, v in enumerate(rows[0]):
        k = _key(v, keys)
        if k and k not in head:
            head[k] = c
    letters = {k: get_column_letter(c + 1) for k, c in head.items()}
    out = []
    for r, row in enumerate(rows[1:], start=2):
        vals = {k: (row[c] if c < len(row) else None) for k, c in head.items()}
        vals = {k: (v.strip() if isinstance(v, str) and k != "join" else v) for k, v in vals.items()}
        if all(v in (None, "") for v in vals.values()):
            continue
        if any(isinstance(v, str) and v == notes.get(k) for k, v in vals.items()):
            continue                       # the row of explanations
        out.append((r, vals, letters))
    return out


def read_authoring(path: str | Path) -> tuple[dict[str, Any], dict[tuple, tuple[str, int, str]], list[Problem]]:
    """The authoring workbook as the YAML mapping, where each value came from, and the problems
    found while reading (a sheet missing…)."""
    path = Path(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:
        why = unreadable_text(e) if isinstance(e, OSError) else "không phải sổ tính .xlsx hợp lệ (hãy mở bằng Excel và lưu lại)"
        raise CatalogueError(f"Không mở được tệp {path.name}: {why}") from None
    where: dict[tuple, tuple[str, int, str]] = {}
    problems: list[Problem] = []
    data: dict[str, Any] = {}

    def table(title, columns):
        if title not in wb.sheetnames:
            if title in (SHEET_IND, SHEET_SEC, SHEET_SET):
                problems.append(Problem(Severity.ERROR, f"thiếu trang “{title}”", title))
            return []
        return _read_table(wb[title], columns)

    for r, v, cols in table(SHEET_SET, SET_COLUMNS):
        k = str(v.get("key") or "").strip()
        val = v.get("value")
        if k in SET_KEYS:
            data[k] = "" if val is None else (str(int(val)) if isinstance(val, float) and val.is_integer() else str(val))
            where[(k,)] = (SHEET_SET, r, cols.get("value", "B"))
        elif k.startswith("ceilings.") and val not in (None, ""):
            data.setdefault("ceilings", {})[k.split(".", 1)[1]] = val
            where[("ceilings",)] = (SHEET_SET, r, cols.get("value", "B"))
        elif k:
            problems.append(Problem(Severity.WARNING, f"mục “{k}” không dùng đến", SHEET_SET, r, cols.get("key", "A")))
    for need in ("id", "title"):
        where.setdefault((need,), (SHEET_SET, 0, ""))
    data["sections"] = []
    leads = {}
    for r, v, cols in table(SHEET_SEC, SEC_COLUMNS):
        i = len(data["sections"])
        key = v.get("key")
        key = str(int(key)) if isinstance(key, float) and key.is_integer() else str(key or "").strip()
        data["sections"].append({"key": key, "heading": v.get("heading") or ""})
        for f in ("key", "heading"):
            where[("sections", i, f)] = (SHEET_SEC, r, cols.get(f, ""))
        if v.get("lead"):
            leads[key] = str(v["lead"])
    where[("sections",)] = (SHEET_SEC, 0, "")
    data["indicators"] = []
    for r, v, cols in table(SHEET_IND, IND_COLUMNS):
        i = len(data["indicators"])
        row: dict[str, Any] = {}
        for k, _, _ in IND_COLUMNS:
            val = v.get(k)
            if val in (None, ""):
                continue
            if k == "section" and isinstance(val, float) and val.is_integer():
                val = str(int(val))
            if k == "code":
                val = str(val).strip()
            row[k] = val
            where[("indicators", i, k)] = (SHEET_IND, r, cols.get(k, ""))
        for k, _, _ in IND_COLUMNS:
            where.setdefault(("indicators", i, k), (SHEET_IND, r, cols.get(k, "")))
        for j in range(20):
            where[("indicators", i, "rules", j)] = (SHEET_IND, r, cols.get("rules", ""))
        where[("indicators", i)] = (SHEET_IND, r, "")
        data["indicators"].append(row)
    where[("indicators",)] = (SHEET_IND, 0, "")
    phrases: dict[str, list] = {}
    for r, v, cols in table(SHEET_PHRASE, PHRASE_COLUMNS):
        sec = v.get("section")
        sec = str(int(sec)) if isinstance(sec, float) and sec.is_integer() else str(sec or "").strip()
        items = phrases.setdefault(sec, [])
        j = len(items)
        item: dict[str, Any] = {"needs": [c for c in re.split(r"[,;\s]+", str(v.get("needs") or "")) if c],
                                "text": str(v.get("text") or "")}
        for f in ("zero", "join", "only_if"):
            if v.get(f) not in (None, ""):
                item[f] = str(v[f]) if f != "join" else str(v[f]).replace("\\n", "\n")
        items.append(item)
        for f in ("text", "zero", "needs"):
            where[("phrases", sec, j, f)] = (SHEET_PHRASE, r, cols.get(f, ""))
        where[("phrases", sec)] = (SHEET_PHRASE, r, cols.get("section", ""))
    data["phrases"] = phrases
    report: dict[str, Any] = {}
    for r, v, cols in table(SHEET_REPORT, REPORT_COLUMNS):
        k = str(v.get("key") or "").strip()
        k = REPORT_ALIASES.get(k.lower(), k)
        text = "" if v.get("text") is None else str(v["text"])
        *parents, last = k.split(".")
        node = report
        for p in parents:
            node = node.setdefault(p, {})
        if k in ("compare", "appendix"):
            report[k] = [c for c in re.split(r"[,;\s]+", text) if c]
            where[("report", k)] = (SHEET_REPORT, r, cols.get("text", ""))
        elif last in LIST_KEYS:
            node.setdefault(last, []).append(text)
        elif k and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", k):
            node[last] = text
        elif k:
            problems.append(Problem(Severity.ERROR, f"mục “{k}” không có (dùng: {', '.join(REPORT_KEYS)})",
                                    SHEET_REPORT, r, cols.get("key", "A")))
    if leads:
        report["leads"] = leads
    data["report"] = report
    narr = []
    for r, v, cols in table(SHEET_LISTS, LIST_COLUMNS):
        narr.append({"key": str(v.get("key") or ""), "sheet": str(v.get("sheet") or ""), "title": str(v.get("title") or ""),
                     "columns": [c.strip() for c in str(v.get("columns") or "").split(";") if c.strip()],
                     "name": str(v.get("name") or "")})
    default = [{"key": n.key, "sheet": n.sheet, "title": n.title, "columns": list(n.columns), "name": n.name}
               for n in DEFAULT_NARRATIVES]
    if narr and narr != default:
        data["narratives"] = narr
    wb.close()
    return data, where, problems


def check_authoring(path: str | Path) -> list[Problem]:
    """Every problem of an authoring workbook (or a YAML catalogue), located."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        from ..resources import load_yaml

        try:
            data = load_yaml(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise CatalogueError(f"Không đọc được {path.name}: {unreadable_text(e)}") from None
        return catalogue_problems(data)
    data, where, problems = read_authoring(path)
    return problems + catalogue_problems(data, lambda p: where.get(p) or where.get(p[:2]) or where.get(p[:1])
                                         or ("", 0, ""))


def catalogue_from_workbook(path: str | Path) -> Catalogue:
    """An authoring workbook, or a batn workbook carrying its catalogue, as a Catalogue."""
    path = Path(path)
    if is_authoring(path):
        data, where, problems = read_authoring(path)
        errors = [p for p in problems if p.severity == Severity.ERROR]
        if errors:
            raise CatalogueError(f"{path.name}: {errors[0].where()}: {errors[0].message}", errors)
        return catalogue_from_dict(data, where=str(path),
                                   locate=lambda p: where.get(p) or where.get(p[:2]) or where.get(p[:1]) or ("", 0, ""))
    cat = embedded_catalogue(path)
    if cat is None:
        raise CatalogueError(f"{path.name} không phải tệp bộ chỉ tiêu: không có trang “{SHEET_IND}” "
                             "và không mang bộ chỉ tiêu của batn (tạo tệp bằng: batn catalogue new)")
    return cat
