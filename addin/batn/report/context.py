"""Build the BÁO CÁO from consolidated figures: catalogue phrases (jinja2) + settings -> ReportDocument.

Everything said comes from data: the sentences from the catalogue's `phrases`,
the fixed paragraphs from its `report` part, issuer, place, signer and
recipients from the report settings (templates/report.toml or --config).
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Mapping

import jinja2

from .. import vn
from ..numbers import finite
from ..model import Catalogue, Period, Unit
from ..resources import templates_dir
from .document import Block, ReportDocument

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class ReportInput:
    """What the report needs, whatever it was read from (a consolidated workbook, a run)."""

    catalogue: Catalogue
    period: Period
    unit: Unit
    values: Mapping[str, float | int | None]
    narratives: Mapping[str, list[tuple[str, ...]]]   # key -> rows (unit column filled)
    sent: int | None = None
    expected: int | None = None
    as_of: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_settings(path: str | Path | None = None) -> dict:
    """The shipped settings, with a province's file laid over them section by section."""
    base = tomllib.loads((templates_dir() / "report.toml").read_text(encoding="utf-8"))
    if path:
        try:
            over = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ValueError(f"Không đọc được tệp thiết lập {path}: {e}") from e
        for section, values in over.items():
            if isinstance(values, dict):
                base.setdefault(section, {}).update(values)
            else:
                base[section] = values
    return base


def _capfirst(s: str) -> str:
    s = s.strip()
    return s[:1].upper() + s[1:]


class Phrases:
    """Renders a catalogue's sentence templates against a set of figures."""

    def __init__(self, catalogue: Catalogue, values: Mapping[str, float | int | None], pad_small: bool = True):
        self.cat = catalogue
        self.values = values
        self.pad = pad_small
        self.den = dict(catalogue.ratios)
        self.env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined,
                                      extensions=["jinja2.ext.do"])
        self.env.filters["capfirst"] = _capfirst
        self.env.globals.update(n=self.n, so=self.so, tien=self.tien, tyle=self.tyle, has=self.has, v=values,
                                so_voi=lambda code: "")

    def _v(self, code: str) -> float | int:
        if code not in self.cat:
            raise KeyError(f"câu báo cáo dùng mã chỉ tiêu không có: {code}")
        return finite(self.values.get(code)) or 0      # no figure a sentence cannot say (inf, NaN)

    def has(self, code: str) -> bool:
        return self._v(code) > 0

    def so(self, code: str) -> str:
        return vn.so(self._v(code), pad_small=self.pad)

    def n(self, code: str) -> str:
        return vn.dem(self._v(code), self.cat[code].unit, pad_small=self.pad)

    def tien(self, code: str) -> str:
        return vn.tien(self._v(code))

    def tyle(self, code: str) -> str:
        return vn.ty_le(self._v(code), self._v(self.den[code])) or "0%"

    def render(self, text: str, capital: bool = True, **ctx: Any) -> str:
        out = self.env.from_string(text).render(**ctx)
        out = re.sub(r"\s+", " ", out).replace(" ,", ",").replace(" .", ".").strip()
        return _capfirst(out) if capital else out

    def section(self, key: str) -> list[str]:
        """The sentences of one section; a sentence whose figures are all blank is left out,
        and one whose figures are all zero uses its `zero` wording if it has one."""
        out = []
        for item in self.cat.phrases.get(key, []):
            needs = item.get("needs", [])
            vals = [self.values.get(c) for c in needs]
            if needs and all(v is None for v in vals):
                continue
            if needs and all((v or 0) == 0 for v in vals):
                if item.get("zero"):
                    out.append(self.render(item["zero"]))
                continue
            out.append(self.render(item["text"]))
        return out


def _examples(rows: list[tuple[str, ...]], limit: int, unit_col: int = 1) -> str:
    items = []
    for row in rows[:limit]:
        name = row[0].strip().strip("“”\"")
        unit = row[unit_col].strip() if len(row) > unit_col else ""
        items.append(f"“{name}”" + (f" ({unit})" if unit else ""))
    return "; ".join(items)


def _grouped_bullets(rows: list[tuple[str, ...]], limit: int) -> list[Block]:
    """Bullets of free text; the same text sent by several units is said once, naming them all."""
    by_text: dict[str, list[str]] = {}
    for row in rows:
        text = row[0].rstrip(" .;")
        m = re.match(r"^(.*?)\s*\(([^()]*)\)$", text)   # "text (Unit)" as written in a consolidated workbook
        body, unit = (m.group(1), m.group(2)) if m else (text, "")
        names = by_text.setdefault(body, [])
        if unit and unit not in names:
            names.append(unit)
    out = []
    for body, names in list(by_text.items())[:limit]:
        out.append(Block("bullet", f"- {body}" + (f" ({', '.join(names)})" if names else "") + ";"))
    return out


def build_report(inp: ReportInput, settings: Mapping | None = None, *, number: str | None = None,
                 on: date | None = None) -> ReportDocument:
    s = settings or load_settings()
    d = dict(s.get("document", {}))
    t = dict(s.get("text", {}))
    u = inp.unit
    # A unit's own columns in the units file win over the shared settings.
    place = u.place or d.get("place", "")
    signer = u.signer or d.get("signer", "")
    issuer_code = u.issuer or d.get("issuer_code", "TĐTN")
    on = on or date.today()
    ph = Phrases(inp.catalogue, inp.values, pad_small=t.get("pad_small_counts", True))
    if "so_voi" in inp.extra:      # "tăng 12,5% so với năm 2023", for phrases that want it inline
        ph.env.globals["so_voi"] = inp.extra["so_voi"]
    rep = inp.catalogue.report
    ctx = {"period": inp.period, "unit": u, "issuer_short": d.get("issuer_short", u.name)}
    limit = int(t.get("max_examples", 8))

    body: list[Block] = []
    for c in d.get("citations", []):
        body.append(Block("para", ph.render(c, **ctx)))
    for p in rep.get("opening", []):
        body.append(Block("para", ph.render(p, **ctx)))

    body.append(Block("heading1", "I. CÔNG TÁC TRIỂN KHAI"))
    for p in rep.get("deployment", []):
        body.append(Block("para", ph.render(p, **ctx)))
    general = ph.section("0") + ph.section("I")
    if general:
        body.append(Block("para", " ".join(general)))
    if inp.sent is not None and inp.expected:
        when = f"Tính đến ngày {vn.ngay_ngan(inp.as_of.date())}, c" if inp.as_of else "C"
        body.append(Block("para", f"{when}ó {inp.sent}/{inp.expected} đơn vị đã gửi báo cáo."))

    body.append(Block("heading1", "II. KẾT QUẢ THỰC HIỆN"))
    for p in inp.extra.get("history", []):      # comparison with earlier periods (from the ledger)
        body.append(Block("para", p))
    n = 0
    for key in ("II.1", "II.2", "II.3"):
        try:
            sec = inp.catalogue.section(key)
        except KeyError:
            continue
        n += 1
        body.append(Block("heading2", f"{n}. {sec.heading}"))
        sentences = ph.section(key)
        body.append(Block("para", " ".join(sentences) if sentences else "Chưa có số liệu báo cáo về nội dung này."))
    models = inp.narratives.get("mo_hinh", [])
    if models:
        n += 1
        body.append(Block("heading2", f"{n}. Mô hình, công trình, cách làm hay tiêu biểu"))
        body.append(Block("para", "Các cấp bộ Đoàn đã triển khai nhiều mô hình, cách làm hay. Điển hình như: "
                          + _examples(models, limit) + "."))
    awards = ph.section("III")
    people = inp.narratives.get("guong", [])
    if awards or people:
        n += 1
        body.append(Block("heading2", f"{n}. {_section_heading(inp.catalogue, 'III', 'Biểu dương, khen thưởng')}"))
        if awards:
            body.append(Block("para", " ".join(awards)))
        if people:
            named = []
            for row in people[:limit]:
                who = f"đồng chí {row[0]}" + (f" ({row[1]})" if len(row) > 1 and row[1] else "")
                deed = row[2][:1].lower() + row[2][1:] if len(row) > 2 and row[2] else ""
                named.append(who + (f": {deed}" if deed else ""))
            body.append(Block("para", "Gương điển hình tiêu biểu: " + "; ".join(named) + "."))

    body.append(Block("heading1", "III. NHẬN XÉT, ĐÁNH GIÁ"))
    body.append(Block("heading2", "1. Ưu điểm"))
    for p in rep.get("strengths", []):
        body.append(Block("para", ph.render(p, **ctx)))
    body.append(Block("heading2", "2. Hạn chế, khó khăn"))
    if rep.get("limitations_lead"):
        body.append(Block("para", ph.render(rep["limitations_lead"], **ctx)))
    body.extend(_grouped_bullets(inp.narratives.get("kho_khan", []), limit))

    proposals = inp.narratives.get("de_xuat", [])
    if proposals:
        body.append(Block("heading1", "IV. ĐỀ XUẤT, KIẾN NGHỊ"))
        body.extend(_grouped_bullets(proposals, limit))
    # A list ends with "." where a heading follows; the whole body ends with "./.".
    for a, b in zip(body, body[1:]):
        if a.kind == "bullet" and b.kind != "bullet":
            a.text = a.text.rstrip(";") + "."
    last = body[-1]
    last.text = re.sub(r"[.;,]*$", "", last.text) + "./."

    subject_t = rep.get("subject", "kết quả thực hiện phong trào {{ period.label }}")
    subject = "\n".join(ph.render(line, capital=False, **ctx) for line in subject_t.split("\n"))
    num = number if number is not None else d.get("number", "")
    return ReportDocument(
        superior=d.get("superior", ""),
        issuer=d.get("issuer", ""),
        number=vn.so_van_ban(num or "   ", d.get("doc_type", "BC"), issuer_code, d.get("ban", "")),
        organisation=d.get("organisation", "ĐOÀN TNCS HỒ CHÍ MINH"),
        place_date=vn.dia_diem_ngay(place, on) if place else vn.ngay_van_ban(on).capitalize(),
        title="BÁO CÁO",
        subject=subject,
        body=body,
        sign_on_behalf=d.get("sign_on_behalf", ""),
        sign_title=d.get("sign_title", ""),
        signer=signer,
        recipients=list(d.get("recipients", [])),
    )


def _section_heading(cat: Catalogue, key: str, default: str) -> str:
    try:
        return cat.section(key).heading
    except KeyError:
        return default
