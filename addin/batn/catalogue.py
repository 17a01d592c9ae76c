"""Indicator catalogues: the one loader every door uses.

A catalogue carries everything that differs between movements, provinces and periods: indicators
with their kinds, rules, targets and sentences, section headings, the narrative lists, and the
report's wording. It is written either as YAML (templates/catalogs/*.yaml) or as an authoring
workbook in the XLSForm way (`batn catalogue new`; batn.xlsx.catalogue_book), and a batn workbook
(template or consolidated) carries the catalogue it was made from, so `--catalog` takes an id
("3tn-2024"), a .yaml/.yml file or a .xlsx file.

Both forms go through `catalogue_problems` (every problem, located by sheet, row and column) and
`catalogue_from_dict`; `catalogue_to_dict` is the way back (YAML, the embedded copy, the hash).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import yaml

from .model import KINDS, MAX_FIGURE, Catalogue, Indicator, NarrativeList, Rule, Section, Severity
from .resources import load_yaml, templates_dir, unreadable_text
from .rulelang import (Problem, RuleError, code_problem, compile_phrase, parse_rule, parse_severity,
                       parse_target, phrase_codes, phrase_problems, rule_codes, rule_spec, split_rules,
                       target_spec)

__all__ = ["CatalogueError", "load_catalogue", "catalogue_from_dict", "catalogue_to_dict", "catalogue_problems",
           "parse_rule_spec", "rule_spec", "catalogue_path", "available_catalogues", "dump_yaml",
           "catalogue_digest", "unphrased"]


class CatalogueError(ValueError):
    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []


# The narrative lists every template carries (Hướng dẫn of the movement); a catalogue may override.
DEFAULT_NARRATIVES = (
    NarrativeList("mo_hinh", "Mô hình tiêu biểu", "MÔ HÌNH, CÔNG TRÌNH, CÁCH LÀM HAY TIÊU BIỂU",
                  ("Tên mô hình, công trình, cách làm", "Đơn vị thực hiện", "Kết quả"), "BATN_MOHINH"),
    NarrativeList("guong", "Gương điển hình", "GƯƠNG ĐIỂN HÌNH TIÊU BIỂU",
                  ("Họ và tên", "Đơn vị", "Thành tích"), "BATN_GUONG"),
    NarrativeList("kho_khan", "Khó khăn, hạn chế", "KHÓ KHĂN, HẠN CHẾ",
                  ("Nội dung",), "BATN_KHOKHAN"),
    NarrativeList("de_xuat", "Đề xuất, kiến nghị", "ĐỀ XUẤT, KIẾN NGHỊ",
                  ("Nội dung",), "BATN_DEXUAT"),
)

# The largest plausible figure of each indicator kind, for a catalogue without `ceilings:` (the
# shipped ones carry the same numbers, where a province may change them). Even a national total
# stays under these: Việt Nam has about 10^8 people, and 10^15 đồng is a million tỷ.
DEFAULT_CEILINGS = {
    "count": 10 ** 9,
    "turns": 10 ** 11,
    "people": 10 ** 9,
    "ratio_num": 10 ** 9,
    "ratio_den": 10 ** 9,
    "money": 10 ** 15,
}

# Kinds as a clerk may write them in the spreadsheet.
KIND_WORDS = {"số lượng": "count", "đếm": "count", "lượt": "turns", "số lượt": "turns", "người": "people",
              "số người": "people", "tiền": "money", "số tiền": "money", "tử số": "ratio_num",
              "mẫu số": "ratio_den"}


def parse_ceiling(value: object, what: str) -> int:
    """A ceiling as written in the YAML: a whole number from 1 to MAX_FIGURE (1_000_000_000 and
    1.0e+9 are read as numbers by YAML; "1.000.000.000" as text is accepted too)."""
    if isinstance(value, str) and value.replace(".", "").replace("_", "").strip().isdigit():
        value = int(value.replace(".", "").replace("_", ""))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_FIGURE:
        raise CatalogueError(f"{what}: mức tối đa phải là số nguyên từ 1 đến {MAX_FIGURE:,}, không phải "
                             f"{value!r}".replace(",", "."))
    return value


def _ceilings(data: object) -> dict[str, int]:
    if data is None:
        return dict(DEFAULT_CEILINGS)
    if not isinstance(data, dict):
        raise CatalogueError("ceilings: phải là bảng “loại chỉ tiêu: mức tối đa”")
    unknown = [k for k in data if k not in KINDS]
    if unknown:
        raise CatalogueError(f"ceilings: loại chỉ tiêu không hợp lệ: {', '.join(map(str, unknown))} "
                             f"(các loại: {', '.join(KINDS)})")
    return {**DEFAULT_CEILINGS, **{k: parse_ceiling(v, f"ceilings.{k}") for k, v in data.items()}}


def parse_rule_spec(spec: str, own: str | None = None) -> Rule:
    """Parse one rule (batn.rulelang); CatalogueError with a clerk's message when it cannot be read."""
    try:
        return parse_rule(spec, own)
    except RuleError as e:
        raise CatalogueError(f"Không hiểu quy tắc kiểm tra {spec!r}: {e}") from None


# ------------------------------------------------------------------ finding and loading
def catalogue_path(ref: str | Path) -> Path:
    """A catalogue id ("3tn-2024") names a file of the shipped templates (.yaml, else .xlsx); a path
    is taken as is."""
    if not str(ref).strip():          # Path("") is the current folder, which exists
        raise CatalogueError("chưa có mã bộ chỉ tiêu (--catalog) hoặc tệp bộ chỉ tiêu")
    p = Path(ref)
    if p.suffix.lower() in (".yaml", ".yml", ".xlsx") or p.is_file():
        return p
    folder = templates_dir() / "catalogs"
    for suffix in (".yaml", ".xlsx"):
        if (folder / f"{ref}{suffix}").exists():
            return folder / f"{ref}{suffix}"
    return folder / f"{ref}.yaml"


def available_catalogues() -> list[str]:
    folder = templates_dir() / "catalogs"
    return sorted({p.stem for p in folder.glob("*.yaml")} | {p.stem for p in folder.glob("*.xlsx")
                                                             if not p.name.startswith(("~$", ".~"))})


_cache: dict[tuple[Path, float], Catalogue] = {}


def load_catalogue(ref: str | Path | Catalogue) -> Catalogue:
    """The catalogue `ref` names: an id of a shipped one, a .yaml/.yml file, an authoring workbook
    (.xlsx) or any batn workbook that carries its catalogue (a template or a consolidated workbook)."""
    if isinstance(ref, Catalogue):
        return ref
    path = catalogue_path(ref).resolve()
    try:
        key = (path, path.stat().st_mtime)
    except OSError:
        raise CatalogueError(
            f"Không tìm thấy bộ chỉ tiêu '{ref}'. Có sẵn: {', '.join(available_catalogues())}; "
            "hoặc ghi đường dẫn tới tệp .yaml hay .xlsx của bộ chỉ tiêu") from None
    if key in _cache:
        return _cache[key]
    if path.suffix.lower() == ".xlsx":
        from .xlsx.catalogue_book import catalogue_from_workbook

        cat = catalogue_from_workbook(path)
    else:
        try:
            data = load_yaml(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise CatalogueError(f"Không đọc được tệp bộ chỉ tiêu {path.name}: {unreadable_text(e)}") from None
        if not isinstance(data, dict):
            raise CatalogueError(f"{path.name}: không phải tệp bộ chỉ tiêu (cần các khóa id, title, sections, indicators)")
        cat = catalogue_from_dict(data, where=str(path))
    _cache[key] = cat
    return cat


# ------------------------------------------------------------------ checking
Locate = Callable[[tuple], tuple[str, int, str]]


def _no_where(path: tuple) -> tuple[str, int, str]:
    return "", 0, ""


def _opt_severity(value: object) -> Severity | None:
    """`required:` as written: true / "có" / "x" (lỗi), "lỗi", "cảnh báo"; false/blank = not required."""
    if value is None or value is False:
        return None
    if value is True:
        return Severity.ERROR
    w = " ".join(str(value).strip().lower().split())
    if w in ("", "không", "khong", "no", "false", "0"):
        return None
    if w in ("có", "co", "x", "yes", "true", "1", "bắt buộc"):
        return Severity.ERROR
    return parse_severity(w)


def _yes(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return " ".join(str(value or "").strip().lower().split()) in ("có", "co", "x", "yes", "true", "1")


def _kind(value: object) -> str:
    w = " ".join(str(value or "").strip().lower().split())
    return KIND_WORDS.get(w, w)


def catalogue_problems(data: Any, locate: Locate = _no_where, *, warn_unphrased: bool = True) -> list[Problem]:
    """Every problem of a catalogue as written (YAML mapping or the authoring workbook read into one),
    each located by `locate(path)` -> (sheet, row, column): lỗi make it unusable, cảnh báo do not."""
    out: list[Problem] = []

    def add(path: tuple, message: str, severity: Severity = Severity.ERROR) -> None:
        sheet, row, col = locate(path)
        out.append(Problem(severity, message, sheet, row, col))

    if not isinstance(data, dict):
        return [Problem(Severity.ERROR, "không phải bộ chỉ tiêu (cần các khóa id, title, sections, indicators)")]
    for key in ("id", "title"):
        if not str(data.get(key) or "").strip():
            add((key,), f"thiếu {'mã bộ chỉ tiêu (id)' if key == 'id' else 'tên bộ chỉ tiêu (title)'}")
    cid = str(data.get("id") or "")
    if cid and (not all(c.isalnum() or c in "-_." for c in cid) or len(cid) > 60):
        add(("id",), f"mã bộ chỉ tiêu “{cid}” chỉ dùng chữ không dấu, chữ số và dấu - _ . (tối đa 60 ký tự)")
    try:
        _ceilings(data.get("ceilings"))
    except CatalogueError as e:
        add(("ceilings",), str(e))
    sections = data.get("sections") or []
    if not isinstance(sections, list) or not sections:
        add(("sections",), "chưa có phần nào (sections)")
        sections = []
    keys: list[str] = []
    for i, s in enumerate(sections):
        if not isinstance(s, dict) or not str(s.get("key") or "").strip():
            add(("sections", i, "key"), "phần thiếu mã phần (key)")
            continue
        k = str(s["key"]).strip()
        if k in keys:
            add(("sections", i, "key"), f"mã phần “{k}” bị trùng")
        keys.append(k)
        if not str(s.get("heading") or "").strip():
            add(("sections", i, "heading"), f"phần “{k}” thiếu tiêu đề (heading)")
    rows = data.get("indicators") or []
    if not isinstance(rows, list) or not rows:
        add(("indicators",), "chưa có chỉ tiêu nào (indicators)")
        rows = []
    codes: dict[str, int] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            add(("indicators", i), "dòng chỉ tiêu không hợp lệ")
            continue
        code = row.get("code")
        why = code_problem(code if isinstance(code, str) else "")
        if why:
            add(("indicators", i, "code"), why)
        elif code in codes:
            add(("indicators", i, "code"), f"mã “{code}” bị trùng (đã có ở chỉ tiêu thứ {codes[code] + 1})")
        else:
            codes[code] = i
    names = set(codes)
    phrased: set[str] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        code = str(row.get("code") or f"thứ {i + 1}")
        if str(row.get("section") or "").strip() not in keys:
            add(("indicators", i, "section"), f"{code}: phần “{row.get('section') or ''}” không có trong trang phần")
        for f, what in (("label", "nội dung (label)"), ("unit", "đơn vị tính (unit)")):
            if not str(row.get(f) or "").strip():
                add(("indicators", i, f), f"{code}: thiếu {what}")
        if _kind(row.get("kind")) not in KINDS:
            add(("indicators", i, "kind"), f"{code}: loại “{row.get('kind') or ''}” không hợp lệ (dùng: {', '.join(KINDS)})")
        pair = row.get("pair")
        if pair and pair not in names:
            add(("indicators", i, "pair"), f"{code}: chỉ tiêu đi cặp (pair) tham chiếu tới mã “{pair}” không có trong bộ chỉ tiêu")
        if _kind(row.get("kind")) == "ratio_num" and not pair:
            add(("indicators", i, "pair"), f"{code}: tử số (ratio_num) cần chỉ tiêu mẫu số ở cột pair",
                Severity.WARNING)
        for j, spec in enumerate(split_rules(row.get("rules"))):
            try:
                rule = parse_rule(_rule_text(spec), code)
            except RuleError as e:
                add(("indicators", i, "rules", j), f"{code}: quy tắc “{spec}”: {e}")
                continue
            for ref in rule_codes(rule):
                if ref not in names:
                    add(("indicators", i, "rules", j), f"{code}: quy tắc “{spec}” tham chiếu tới mã “{ref}” không có trong bộ chỉ tiêu")
        if row.get("max") is not None:
            try:
                parse_ceiling(row["max"], f"{code}: max")
            except CatalogueError as e:
                add(("indicators", i, "max"), str(e))
        try:
            _opt_severity(row.get("required"))
        except RuleError as e:
            add(("indicators", i, "required"), f"{code}: bắt buộc: {e}")
        if row.get("target") not in (None, ""):
            try:
                t = parse_target(row["target"])
                if t.of and t.of not in names:
                    add(("indicators", i, "target"), f"{code}: chỉ tiêu kế hoạch dựa trên mã “{t.of}” không có")
            except (RuleError, TypeError, ValueError) as e:
                add(("indicators", i, "target"), f"{code}: {e}")
        if str(row.get("phrase") or "").strip():
            phrased.add(str(row.get("code")))
            for p in phrase_problems(str(row["phrase"]), names):
                add(("indicators", i, "phrase"), f"{code}: câu báo cáo: {p}")
    for j, rule in enumerate(data.get("rules") or []):      # rules of the whole catalogue
        try:
            r = parse_rule(_rule_text(rule))
            for ref in rule_codes(r):
                if ref not in names:
                    add(("rules", j), f"quy tắc “{_rule_text(rule)}” dùng mã “{ref}” không có trong bộ chỉ tiêu")
        except RuleError as e:
            add(("rules", j), f"quy tắc “{_rule_text(rule)}”: {e}")
    phrases = data.get("phrases") or {}
    if not isinstance(phrases, dict):
        add(("phrases",), "phrases phải là bảng “mã phần: danh sách câu”")
        phrases = {}
    for sec, items in phrases.items():
        if str(sec) not in keys:
            add(("phrases", sec), f"câu báo cáo của phần “{sec}” nhưng không có phần này")
        for j, item in enumerate(items or []):
            if not isinstance(item, dict) or not str(item.get("text") or "").strip():
                add(("phrases", sec, j, "text"), "câu báo cáo để trống")
                continue
            for c in item.get("needs") or []:
                if c not in names:
                    add(("phrases", sec, j, "needs"), f"câu báo cáo cần mã “{c}” không có trong bộ chỉ tiêu")
            phrased.update(item.get("needs") or [])
            for field in ("text", "zero"):
                if item.get(field):
                    phrased.update(phrase_codes(str(item[field])))
                    for p in phrase_problems(str(item[field]), names):
                        add(("phrases", sec, j, field), p)
    report = data.get("report") or {}
    for key in ("compare", "appendix"):
        for c in (report.get(key) or []) if isinstance(report, dict) else []:
            if c not in names:
                add(("report", key), f"report.{key}: mã “{c}” không có trong bộ chỉ tiêu")
    for row in rows:       # a ratio's denominator is said with it (tyle('MA'))
        if isinstance(row, dict) and row.get("code") in phrased and _kind(row.get("kind")) == "ratio_num" and row.get("pair"):
            phrased.add(row["pair"])
    if warn_unphrased:
        for i, row in enumerate(rows):
            if isinstance(row, dict) and row.get("code") in names and row["code"] not in phrased:
                add(("indicators", i, "phrase"),
                    f"{row['code']}: chưa có câu báo cáo; báo cáo sẽ viết câu đơn giản từ nội dung và đơn vị tính "
                    f"(“{str(row.get('label') or '').strip()}: … {row.get('unit') or ''}”)", Severity.WARNING)
    return out


def _rule_text(rule: object) -> str:
    """A rule as text: a string, or a mapping {rule|expr, severity, when} (a province's YAML)."""
    if isinstance(rule, dict):
        text = str(rule.get("rule") or rule.get("expr") or rule.get("check") or "")
        when = rule.get("when") or rule.get("khi")
        sev = rule.get("severity") or rule.get("muc_do")
        return text + (f" khi {when}" if when else "") + (f" [{sev}]" if sev else "")
    return str(rule)


def unphrased(cat: Catalogue) -> list[str]:
    """Codes no report sentence mentions: the report says them in a plain sentence."""
    said: set[str] = set()
    for items in cat.phrases.values():
        for item in items:
            said.update(item.get("needs") or [])
            said.update(phrase_codes(str(item.get("text", ""))) + phrase_codes(str(item.get("zero") or "")))
    said.update(num_den[1] for num_den in cat.ratios if num_den[0] in said)
    said.update(i.code for i in cat.indicators if i.phrase)
    return [i.code for i in cat.indicators if i.code not in said]


# ------------------------------------------------------------------ building
def catalogue_from_dict(data: dict[str, Any], where: str = "", locate: Locate = _no_where) -> Catalogue:
    problems = [p for p in catalogue_problems(data, locate, warn_unphrased=False) if p.severity == Severity.ERROR]
    if problems:
        p = problems[0]
        more = f" (và {len(problems) - 1} lỗi khác; chạy `batn catalogue check` để xem hết)" if len(problems) > 1 else ""
        at = p.where()
        raise CatalogueError(f"{Path(where).name + ': ' if where else ''}{at + ': ' if at else ''}{p.message}{more}",
                             problems)
    sections = tuple(Section(str(s["key"]).strip(), str(s["heading"]).strip()) for s in data["sections"])
    indicators = []
    extra_rules: dict[str, list[Rule]] = {}
    for spec in data.get("rules") or []:
        r = parse_rule(_rule_text(spec))
        owner = r.test.left[0].code if r.test and r.test.left and r.test.left[0].code else rule_codes(r)[0]
        extra_rules.setdefault(owner, []).append(r)
    for row in data["indicators"]:
        code = row["code"]
        rules = tuple(parse_rule(_rule_text(r), code) for r in split_rules(row.get("rules")))
        indicators.append(Indicator(
            code=code,
            section=str(row["section"]).strip(),
            label=str(row["label"]).strip(),
            unit=str(row["unit"]).strip(),
            kind=_kind(row["kind"]),
            pair=row.get("pair") or None,
            rules=rules + tuple(extra_rules.get(code, ())),
            max=parse_ceiling(row["max"], f"{code}: max") if row.get("max") is not None else None,
            required=_opt_severity(row.get("required")),
            target=parse_target(row["target"]) if row.get("target") not in (None, "") else None,
            phrase=str(row.get("phrase") or "").strip(),
            compare=_yes(row.get("compare")),
            short=str(row.get("short") or "").strip(),
        ))
    ratios = tuple((i.code, i.pair) for i in indicators if i.kind == "ratio_num" and i.pair)
    narratives = DEFAULT_NARRATIVES
    try:
        if data.get("narratives"):
            narratives = tuple(NarrativeList(n["key"], n["sheet"], n["title"], tuple(n["columns"]), n["name"])
                               for n in data["narratives"])
    except (KeyError, TypeError) as e:
        raise CatalogueError(f"{where}: danh sách (narratives) thiếu khóa {e}") from None
    report = dict(data.get("report") or {})
    own = [i.code for i in indicators if i.compare]
    if own:      # `compare:` on an indicator adds it to the report's comparisons
        report["compare"] = list(dict.fromkeys([*(report.get("compare") or []), *own]))
    cat = Catalogue(
        id=str(data["id"]).strip(),
        title=str(data["title"]).strip(),
        movement=str(data.get("movement") or "3 trách nhiệm"),
        sections=sections,
        indicators=tuple(indicators),
        narratives=narratives,
        phrases={str(k): list(v or []) for k, v in (data.get("phrases") or {}).items()},
        ratios=ratios,
        report=report,
        ceilings=_ceilings(data.get("ceilings")),
        version=str(data.get("version") or "").strip(),
        source=str(where),
    )
    cat = replace(cat, digest=catalogue_digest(catalogue_to_dict(cat)))
    remember(cat)
    return cat


# Catalogues seen in this process by content hash: a file's BATN_CATALOG_HASH names its catalogue
# exactly, whatever its id ("3tn-2024" edited by a province keeps the id, not the hash).
_by_digest: dict[str, Catalogue] = {}
NAME_HASH = "BATN_CATALOG_HASH"


def remember(cat: Catalogue) -> None:
    if cat.digest:
        if len(_by_digest) > 64:
            _by_digest.pop(next(iter(_by_digest)))
        _by_digest.setdefault(cat.digest, cat)


def catalogue_of(sub: Any) -> Catalogue:
    """The catalogue a read submission was made from: the one its hash names (the file's own
    carried copy, read with it), else the shipped or given one its id names."""
    digest = (getattr(sub, "meta_cells", None) or {}).get(NAME_HASH, "")
    if digest and digest in _by_digest:
        return _by_digest[digest]
    return load_catalogue(sub.catalogue)


def catalogue_to_dict(cat: Catalogue) -> dict[str, Any]:
    """The catalogue in the YAML schema (today's keys, plus `version`, `required`, `target`,
    `phrase`, `compare` where used): for `catalogue build`, the copy a workbook carries, the hash."""
    own_compare = {i.code for i in cat.indicators if i.compare}
    report = dict(cat.report)
    if own_compare and "compare" in report:
        rest = [c for c in report["compare"] if c not in own_compare]
        if rest:
            report["compare"] = rest
        else:
            report.pop("compare")
    out: dict[str, Any] = {"id": cat.id, "title": cat.title, "movement": cat.movement}
    if cat.version:
        out["version"] = cat.version
    out["ceilings"] = dict(cat.ceilings)
    out["sections"] = [{"key": s.key, "heading": s.heading} for s in cat.sections]
    inds = []
    for i in cat.indicators:
        row: dict[str, Any] = {"code": i.code, "section": i.section, "label": i.label, "unit": i.unit, "kind": i.kind}
        if i.pair:
            row["pair"] = i.pair
        if i.rules:
            row["rules"] = [rule_spec(r) for r in i.rules]
        if i.max is not None:
            row["max"] = i.max
        if i.required:
            row["required"] = str(i.required)
        if i.target:
            row["target"] = target_spec(i.target)
        if i.phrase:
            row["phrase"] = i.phrase
        if i.compare:
            row["compare"] = True
        if i.short:                    # only where used: a catalogue without it keeps its hash
            row["short"] = i.short
        inds.append(row)
    out["indicators"] = inds
    if cat.narratives != DEFAULT_NARRATIVES:
        out["narratives"] = [{"key": n.key, "sheet": n.sheet, "title": n.title, "columns": list(n.columns),
                              "name": n.name} for n in cat.narratives]
    out["phrases"] = {k: [dict(x) for x in v] for k, v in cat.phrases.items()}
    out["report"] = report
    return out


def catalogue_digest(data: dict[str, Any]) -> str:
    """A content hash of the catalogue as written: two files with the same digest mean the same."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def dump_yaml(cat: Catalogue | dict) -> str:
    data = catalogue_to_dict(cat) if isinstance(cat, Catalogue) else cat
    head = ("# Bộ chỉ tiêu do batn ghi (batn catalogue build). Mã chỉ tiêu (code) là tên định danh của ô nhập\n"
            "# trong mọi biểu mẫu: không đổi mã khi đã gửi biểu mẫu. Xem docs/bo-chi-tieu.md.\n")
    return head + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)


def indicator_phrase(ind: Indicator) -> dict[str, Any] | None:
    """The indicator's own sentence as a phrase item of its section (jinja2)."""
    if not ind.phrase:
        return None
    return {"needs": [ind.code], "text": compile_phrase(ind.phrase)}


def same_catalogue_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False
