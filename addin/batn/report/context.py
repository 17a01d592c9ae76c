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

from .. import vn
from ..letterhead import letterhead
from ..model import Catalogue, Period, Unit
from ..numbers import finite
from ..previous import PreviousPeriod
from ..resources import templates_dir, unreadable_text
from . import narratives as nar
from .compare import Comparison
from .document import Appendix, Block, ReportDocument
from .phrases import Phrases, capfirst, lowerfirst
from .workbook import WorkbookFacts

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
    previous: PreviousPeriod | None = None        # the earlier period compared with (--previous, the ledger)
    facts: WorkbookFacts | None = None            # late / missing units, lỗi, sub-unit totals
    parent: Unit | None = None                    # the issuing unit's parent in the units file, when known
    own_figures: bool = False                     # the unit's own figures (a filled template), not a consolidation


def review_summary(counts: dict[str, int]) -> dict[str, int] | None:
    """{approved, waiting, sent_back} from the units' review states read back from the workbook;
    None when the consolidation had no review (no ledger)."""
    if not counts:
        return None
    from ..review import APPROVED, CHANGED_AFTER_APPROVAL, RECEIVED, RESUBMITTED, SENT_BACK

    return {"approved": counts.get(APPROVED, 0), "sent_back": counts.get(SENT_BACK, 0),
            "waiting": sum(counts.get(k, 0) for k in (RECEIVED, RESUBMITTED, CHANGED_AFTER_APPROVAL))}


def load_settings(path: str | Path | None = None) -> dict:
    """The shipped settings, with a province's file laid over them section by section."""
    base = tomllib.loads((templates_dir() / "report.toml").read_text(encoding="utf-8"))
    if path:
        try:
            over = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))     # Notepad's BOM is no mistake
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise ValueError(f"Không đọc được tệp thiết lập {path}: {unreadable_text(e)}") from e
        typos = _misspelt(base, over)
        if typos:
            raise ValueError(f"Tệp thiết lập {path}: batn không có " + "; ".join(typos) + ". Hãy sửa lại tên.")
        for section, values in over.items():
            if isinstance(values, dict):
                into = base.setdefault(section, {})
                for k, v in values.items():      # [levels."Tỉnh Đoàn"], [appendix.labels]: key by key
                    if isinstance(v, dict) and isinstance(into.get(k), dict):
                        into[k] = {**into[k], **v}
                    else:
                        into[k] = v
            else:
                base[section] = values
    return base


# Sections whose keys the province names itself (levels, subjects), or that are checked where they
# are used (layout: docx_writer.resolve_layout; direction: one key per kind of period).
_OWN_KEYS = {"subjects", "levels", "layout", "direction"}


def _misspelt(base: dict, over: dict) -> list[str]:
    """Section and key names of a province's settings that look like a misspelt shipped one
    ("plcae" for "place"): such a line would be silently ignored. Names like no shipped one are
    left alone (they may be meant for a later batn)."""
    import difflib

    out = []
    for section, values in over.items():
        if section not in base:
            close = difflib.get_close_matches(section, list(base), n=1, cutoff=0.75)
            if close:
                out.append(f"mục [{section}] (có phải [{close[0]}]?)")
            continue
        if section == "levels" and isinstance(values, dict):       # level names are the province's; their keys are not
            from ..letterhead import DOCUMENT_KEYS     # a level may set any of them ("signer" for one level)

            known = {k for entry in base["levels"].values() if isinstance(entry, dict) for k in entry}
            known.update(DOCUMENT_KEYS)
            for level, entry in values.items():
                for key in entry if isinstance(entry, dict) else ():
                    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75) if key not in known else []
                    if close:
                        out.append(f"khóa “{key}” ở mục [levels.\"{level}\"] (có phải “{close[0]}”?)")
            continue
        if section in _OWN_KEYS or not isinstance(values, dict) or not isinstance(base[section], dict):
            continue
        for key in values:
            if key not in base[section]:
                close = difflib.get_close_matches(key, list(base[section]), n=1, cutoff=0.75)
                if close:
                    out.append(f"khóa “{key}” ở mục [{section}] (có phải “{close[0]}”?)")
    return out


ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII")


def ngay(d: date) -> str:
    """A date inside the text: day padded, month not ("05/8/2009", "20/6/2026"; report-style.md)."""
    return f"{d.day:02d}/{d.month}/{d.year}"


def subject_for(unit: Unit, settings: Mapping) -> str:
    """"toàn tỉnh", "toàn khối"…: the settings' own subject, else by the unit's level, else by the
    start of its name ("Tỉnh Đoàn An Giang"), else the unit's name."""
    own = str(settings.get("text", {}).get("subject", "")).strip()
    if own:
        return own
    table = settings.get("subjects", {})
    if unit.level and unit.level in table:
        return table[unit.level]
    for key in sorted(table, key=len, reverse=True):
        if unit.name.casefold().startswith(key.casefold()):
            return table[key]
    return unit.name


def _list(value: object) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(x) for x in value]   # type: ignore[union-attr]


class _Body:
    """The body being written: headings numbered as they come (I., II. …; 1., 2. … inside)."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.n1 = 0
        self.n2 = 0

    def h1(self, text: str) -> None:
        self.blocks.append(Block("heading1", f"{ROMAN[self.n1]}. {text.upper()}"))
        self.n1 += 1
        self.n2 = 0

    def h2(self, text: str) -> None:
        self.n2 += 1
        self.blocks.append(Block("heading2", f"{self.n2}. {text}"))

    def para(self, *texts: str) -> None:
        text = " ".join(t for t in texts if t)
        if text:
            self.blocks.append(Block("para", text))

    def bullets(self, items: list[str]) -> None:
        for i, item in enumerate(items):
            self.blocks.append(Block("bullet", f"- {item.rstrip(' .;')}" + (";" if i < len(items) - 1 else ".")))


def build_report(inp: ReportInput, settings: Mapping | None = None, *, number: str | None = None,
                 on: date | None = None) -> ReportDocument:
    s = settings or load_settings()
    d = dict(s.get("document", {}))
    t = dict(s.get("text", {}))
    w = dict(s.get("wording", {}))
    heads = dict(s.get("headings", {}))
    u = inp.unit
    on = on or date.today()
    # Who speaks, signs and is addressed, by the unit's level and its parent (batn.letterhead; the
    # consolidated workbook's cover says the same); the unit's own columns and a province's file win.
    head = letterhead(s, u, on, number, parent=inp.parent)
    warnings: list[str] = list(head.warnings)
    signer = head.signer
    if not signer.strip():
        warnings.append("Chưa có họ tên người ký: ghi `signer` ở mục [document] của tệp thiết lập (--config) "
                        "hoặc cột signer của danh sách đơn vị (--units); chỗ ký để trống.")
    as_of = inp.as_of
    if as_of is not None and as_of.date() > on:
        warnings.append(f"Số liệu tính đến ngày {ngay(as_of.date())}, sau ngày ban hành báo cáo {ngay(on)}: "
                        f"báo cáo ghi “tính đến ngày {ngay(on)}”; hãy kiểm tra lại ngày ban hành (--date).")
        as_of = datetime.combine(on, datetime.min.time())

    if inp.previous is not None and inp.previous.unit and inp.previous.unit != u.code:
        warnings.append(f"Tệp kỳ trước là số liệu của đơn vị {inp.previous.unit}, không phải {u.code}: "
                        "các lời so sánh có thể không đúng.")
    ph = Phrases(inp.catalogue, inp.values, pad_small=t.get("pad_small_counts", True),
                 max_names=int(t.get("max_names", 5)), names_more=w.get("names_more", "và {{ n }} {{ noun }} khác"))
    rep = inp.catalogue.report
    if inp.previous is not None:
        cmp = Comparison(inp.catalogue, inp.period, inp.values, inp.previous, s.get("comparison", {}),
                         lambda tpl, strip=True, **kw: ph.render(tpl, capital=False, strip=strip, **kw),
                         codes=_list(rep.get("compare")) or None)
        ph.compare = cmp.phrase
    elif "so_voi" in inp.extra:    # an older caller's own comparison function
        ph.compare = inp.extra["so_voi"]
    own_subject = str((s.get("text") or {}).get("subject", "")).strip()
    subject = u.name if inp.own_figures and not own_subject else subject_for(u, s)   # one unit: its own name
    ctx: dict[str, Any] = {"period": inp.period, "unit": u, "parent": inp.parent, "issuer_short": head.issuer_short,
                           "above": head.addressee, "subject": subject, "year": inp.period.end.year}
    limit = int(t.get("max_examples", 8))
    facts = inp.facts or WorkbookFacts()

    b = _Body()
    for c in d.get("citations", []):
        b.para(ph.render(c, **ctx))
    for p in rep.get("opening", []):
        b.para(ph.render(p, **ctx))

    # I. Công tác triển khai
    b.h1(heads.get("deployment", "Công tác triển khai"))
    for p in rep.get("deployment", []):
        b.para(ph.render(p, **ctx))
    b.para(*(ph.section("0", **ctx) + ph.section("I", **ctx)))
    if inp.sent is not None and inp.expected:
        b.para(ph.render(s.get("completeness", {}).get("line", ""), ngay=ngay(as_of.date()) if as_of else "",
                         sent=inp.sent, expected=inp.expected, late=facts.late, missing=facts.missing,
                         reviews=review_summary(facts.reviews), **ctx))

    # II. Kết quả thực hiện: one part per responsibility, then models, then awards
    b.h1(heads.get("results", "Kết quả thực hiện"))
    for p in inp.extra.get("history", []):      # an older caller's comparison paragraphs
        b.para(p)
    leads = dict(rep.get("leads", {}))
    active, empty = [], []
    for sec in inp.catalogue.sections:
        if sec.key in ("0", "I", "III"):      # every other part of a catalogue is a result part
            continue
        zero = ph.zero_part(sec.key)
        if zero is None:
            continue                              # nothing reported: the part is left out
        b.h2(sec.heading)
        sentences = ph.section(sec.key, **ctx)
        if zero:
            empty.append(sec.heading)
            b.para(*(sentences or [ph.render(w.get("part_zero", ""), **ctx)]))
        else:
            active.append(sec.heading)
            b.para(ph.render(leads[sec.key], **ctx) if leads.get(sec.key) else "", *sentences)
    _models(b, ph, inp, s, ctx, limit)
    _awards(b, ph, inp, leads, w, ctx, limit)

    # III. Nhận xét, đánh giá: strengths, then "Tuy nhiên, …" from the data and the province's text
    pv = dict(s.get("proposals", {}), addressee=head.addressee, self_names=list(head.self_names))
    proposals = nar.sort_proposals(nar.by_text(inp.narratives.get("de_xuat", [])), pv,
                                   lambda tpl, **kw: ph.render(tpl, **kw))
    ev = dict(rep.get("evaluation", {}))
    sv = dict(s.get("evaluation", {}))
    ectx = dict(ctx, active_parts=active, empty_parts=empty, late=facts.late, missing=facts.missing,
                errors=facts.errors)
    b.h1(heads.get("evaluation", "Nhận xét, đánh giá"))
    b.para(*[ph.render(x, **ectx) for x in _list(sv.get("lead_strengths")) + _list(ev.get("strengths"))
             + _list(sv.get("strengths"))])
    clauses = [ph.render(x, capital=False, **ectx) for x in
               _list(ev.get("limitations")) + _list(sv.get("limitations_data")) + _list(sv.get("limitations"))]
    clauses = [c.rstrip(" .;") for c in clauses if c.strip()]
    if clauses:
        b.para(ph.render(sv.get("however", "{{ items|join('; ') }}."), items=clauses, **ctx))
    hard = nar.by_text(inp.narratives.get("kho_khan", []))[:limit]
    if hard:
        items = [ph.render(w["difficulty_item"], capital=False, text=g.text, units=[] if inp.own_figures else g.units,
                           **ctx) for g in hard]
        b.para(ph.render(w["difficulties"], items=items, **ctx))

    # IV. Phương hướng, nhiệm vụ; V. Đề xuất, kiến nghị
    dv = dict(s.get("direction", {}))
    kind = inp.period.kind or "year"
    tasks = [ph.render(x, **ctx) for x in _list(dv.get(kind))] + proposals.own_tasks[:limit]
    if tasks:
        b.h1(ph.render(dv.get(f"heading_{kind}", "Phương hướng, nhiệm vụ"), **ctx))
        b.bullets(tasks)
    upward = proposals.upward[:limit] + [ph.render(x, **ctx) for x in _list(pv.get("own"))]
    if upward:
        b.h1(heads.get("proposals", "Đề xuất, kiến nghị"))
        b.bullets(upward)

    body = b.blocks
    last = body[-1]
    last.text = re.sub(r"[.;,]*$", "", last.text) + "./."

    subject_t = rep.get("subject", "kết quả thực hiện phong trào {{ period.label }}")
    subject = "\n".join(ph.render(line, capital=False, **ctx) for line in subject_t.split("\n"))
    number = head.number or vn.so_van_ban("   ", d.get("doc_type", "BC"), head.issuer_code, d.get("ban", ""))
    appendix = _appendix(inp, s, facts, heads, ctx)
    if appendix is not None:      # which report it belongs to: it may be printed and filed apart
        appendix.attached = ph.render(str((s.get("appendix") or {}).get("attached", "")), capital=False, strip=False,
                                      **dict(ctx, so_hieu=number.removeprefix("Số: "), ngay=ngay(on),
                                             issuer_short=head.issuer_short)).strip()   # a number's room is kept
    return ReportDocument(
        superior=head.superior,
        issuer=head.issuer,
        number=number,
        organisation=head.organisation,
        place_date=head.place_date,
        title="BÁO CÁO",
        subject=subject,
        body=body,
        sign_on_behalf=head.sign_on_behalf,
        sign_title=head.sign_title,
        signer=signer,
        recipients=list(head.recipients),
        appendix=appendix,
        warnings=warnings,
    )


def _models(b: _Body, ph: Phrases, inp: ReportInput, s: Mapping, ctx: dict, limit: int) -> None:
    groups = nar.models(inp.narratives.get("mo_hinh", []))
    if not groups:
        return
    w = s.get("wording", {})
    items = [ph.render(w["model_item"], capital=False, name=g.text, units=[] if inp.own_figures else g.units,
                       results=g.results, **ctx) for g in groups[:limit]]    # one unit's own: it is the subject
    b.h2(s.get("headings", {}).get("models", "Mô hình, công trình, cách làm hay tiêu biểu"))
    b.para(ph.render(w["models_lead"], count=len(groups), items=items, more=max(len(groups) - limit, 0), **ctx))


def _awards(b: _Body, ph: Phrases, inp: ReportInput, leads: Mapping, w: Mapping, ctx: dict, limit: int) -> None:
    """The awards part: its figures, then the exemplary people grouped by achievement."""
    try:
        sec = inp.catalogue.section("III")
    except KeyError:
        return
    zero = ph.zero_part("III")
    groups = nar.people(inp.narratives.get("guong", []))
    if zero is None and not groups:
        return
    b.h2(sec.heading)
    sentences = ph.section("III", **ctx) if zero is not None else []
    lead = ph.render(leads["III"], **ctx) if leads.get("III") and (zero is False or groups) else ""
    b.para(lead, *sentences)
    lines = [ph.render(w["people_many"] if len(g.people) > 1 else w["people_one"], people=g.people,
                       deed=g.text, **ctx) for g in groups[:limit]]
    b.para(*lines)


def short_label(ind, settings: Mapping) -> str:
    """A column head for `ind`: the catalogue's `short`, else the settings' [appendix.labels], else its
    label without the brackets, abbreviated ([appendix.abbreviations]) and cut at the end of a clause
    near `label_words` words (never inside a quoted name, never inside a word)."""
    a = settings.get("appendix", {}) or {}
    if ind.short:
        return ind.short
    own = (a.get("labels") or {}).get(ind.code)
    if own:
        return str(own)
    text = re.sub(r"\s*\([^)]*\)", "", ind.label).strip()
    for long, abbr in (a.get("abbreviations") or {}).items():
        text = re.sub(re.escape(long), abbr, text, flags=re.IGNORECASE)
    words = text.split()
    limit = int(a.get("label_words", 6) or 6)
    if len(words) <= limit:
        return text
    weak = {x.casefold() for x in a.get("weak_words", [])}

    def closed(n: int) -> bool:                 # no quoted name left open by the first n words
        return sum(w.count("“") - w.count("”") for w in words[:n]) <= 0
    # where a clause ends: before a comma's next word, or before a linking word ("được", "của"…);
    # a label with no clause end near the limit stays whole rather than cut inside a word
    ends = [n for n in range(3, min(2 * limit, len(words) - 1) + 1) if closed(n)
            and (words[n - 1].endswith((",", ";")) or words[n].casefold() in weak)]
    if not ends:
        return text
    within = [n for n in ends if n <= limit]
    return " ".join(words[:max(within) if within else min(ends)]).rstrip(",;")


def _appendix(inp: ReportInput, s: Mapping, facts: WorkbookFacts, heads: Mapping, ctx: dict) -> Appendix | None:
    a = dict(s.get("appendix", {}))
    if not a.get("enabled", True) or not facts.children:
        return None
    cat = inp.catalogue
    codes = [c for c in (_list(a.get("indicators")) or _list(cat.report.get("appendix"))) if c in cat]
    if not codes:
        codes = [i.code for i in cat.indicators if i.kind in ("count", "ratio_num")][:12]

    def fig(v: object) -> str:
        v = finite(v)  # type: ignore[arg-type]
        return "" if v is None else vn.so(v)

    # each sub-unit's own sub-tree completeness, as the workbook's status table has it
    rated = a.get("rates", True) and any(r.sent or r.on_time for r in facts.children)
    rate_head = [a.get("sent_header", "Đã nộp"), a.get("on_time_header", "Đúng hạn")] if rated else []
    header = (["STT", a.get("unit_header", "Đơn vị")] + rate_head
              + [f"{short_label(cat[c], s)}\n({cat[c].unit})" for c in codes])
    rows = [[str(i), r.name] + ([r.sent, r.on_time] if rated else []) + [fig(r.totals.get(c)) for c in codes]
            for i, r in enumerate(facts.children, 1)]
    own = facts.rates.get(inp.unit.code, ("", ""))
    total = ["", a.get("total_label", "Tổng cộng")] + (list(own) if rated else []) + [fig(inp.values.get(c)) for c in codes]
    sub = f"{inp.period.label} ({inp.unit.name})"
    return Appendix(title=heads.get("appendix", "Phụ lục"), subtitle=sub, header=header, rows=rows, total=total,
                    rate_columns=len(rate_head))
