"""Indicator catalogues: YAML files under templates/catalogs/ that a province may edit.

A catalogue carries everything that differs between movements and periods:
indicators with their kinds and rules, section headings, the narrative lists,
and the jinja2 phrases that turn figures into report sentences.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from .model import KINDS, MAX_FIGURE, Catalogue, Indicator, NarrativeList, Rule, Section, Severity
from .resources import templates_dir


class CatalogueError(ValueError):
    pass


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


_RULE_PATTERNS = (
    # "<= CODE [lỗi]"
    (re.compile(r"^<=\s*([A-Z0-9_]+)\s*\[(.+)\]$"), "le"),
    # ">= CODE when both > 0 [cảnh báo]"
    (re.compile(r"^>=\s*([A-Z0-9_]+)\s+when both > 0\s*\[(.+)\]$"), "ge_both"),
    # "> 0 needs CODE > 0 [cảnh báo]"
    (re.compile(r"^> 0 needs\s+([A-Z0-9_]+)\s*> 0\s*\[(.+)\]$"), "needs"),
)


def parse_rule_spec(spec: str) -> Rule:
    """Parse the product owner's rule notation (the `rule` column of the CSV specs)."""
    spec = unicodedata.normalize("NFC", spec.strip())
    for pattern, op in _RULE_PATTERNS:
        m = pattern.match(spec)
        if m:
            return Rule(op, m.group(1), Severity(m.group(2).strip()))
    raise CatalogueError(f"Không hiểu quy tắc kiểm tra: {spec!r}")


def rule_spec(rule: Rule) -> str:
    """The inverse of parse_rule_spec: how a rule is written in a catalogue file."""
    return {
        "le": f"<= {rule.other} [{rule.severity}]",
        "ge_both": f">= {rule.other} when both > 0 [{rule.severity}]",
        "needs": f"> 0 needs {rule.other} > 0 [{rule.severity}]",
    }[rule.op]


def catalogue_path(ref: str | Path) -> Path:
    """A catalogue id ("3tn-2024") names a file of the shipped templates; a path is taken as is."""
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    return templates_dir() / "catalogs" / f"{ref}.yaml"


def available_catalogues() -> list[str]:
    return sorted(p.stem for p in (templates_dir() / "catalogs").glob("*.yaml"))


_cache: dict[Path, Catalogue] = {}


def load_catalogue(ref: str | Path) -> Catalogue:
    path = catalogue_path(ref).resolve()
    if path in _cache:
        return _cache[path]
    if not path.exists():
        raise CatalogueError(
            f"Không tìm thấy bộ chỉ tiêu '{ref}'. Có sẵn: {', '.join(available_catalogues())}"
        )
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cat = catalogue_from_dict(data, where=str(path))
    _cache[path] = cat
    return cat


def catalogue_from_dict(data: dict[str, Any], where: str = "") -> Catalogue:
    try:
        sections = tuple(Section(str(s["key"]), s["heading"]) for s in data["sections"])
        keys = {s.key for s in sections}
        indicators = []
        for row in data["indicators"]:
            ind = Indicator(
                code=row["code"],
                section=str(row["section"]),
                label=row["label"],
                unit=row["unit"],
                kind=row["kind"],
                pair=row.get("pair") or None,
                rules=tuple(parse_rule_spec(r) for r in row.get("rules") or ()),
                max=parse_ceiling(row["max"], f"{row['code']}: max") if row.get("max") is not None else None,
            )
            if ind.kind not in KINDS:
                raise CatalogueError(f"{ind.code}: loại chỉ tiêu '{ind.kind}' không hợp lệ")
            if ind.section not in keys:
                raise CatalogueError(f"{ind.code}: phần '{ind.section}' không có trong danh sách phần")
            indicators.append(ind)
        codes = {i.code for i in indicators}
        if len(codes) != len(indicators):
            raise CatalogueError("Mã chỉ tiêu bị trùng")
        for ind in indicators:
            for ref in [ind.pair, *(r.other for r in ind.rules)]:
                if ref and ref not in codes:
                    raise CatalogueError(f"{ind.code}: tham chiếu tới chỉ tiêu không có '{ref}'")
        ratios = tuple(
            (i.code, i.pair) for i in indicators if i.kind == "ratio_num" and i.pair
        )
        narratives = DEFAULT_NARRATIVES
        if data.get("narratives"):
            narratives = tuple(
                NarrativeList(n["key"], n["sheet"], n["title"], tuple(n["columns"]), n["name"])
                for n in data["narratives"]
            )
        return Catalogue(
            id=data["id"],
            title=data["title"],
            movement=data.get("movement", "3 trách nhiệm"),
            sections=sections,
            indicators=tuple(indicators),
            narratives=narratives,
            phrases=data.get("phrases") or {},
            ratios=ratios,
            report=data.get("report") or {},
            ceilings=_ceilings(data.get("ceilings")),
        )
    except KeyError as e:
        raise CatalogueError(f"{where}: thiếu khoá {e} trong tệp bộ chỉ tiêu") from e
