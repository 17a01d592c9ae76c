"""Who issues a document and how it names itself, by the issuing unit's level (domain.md §1, §3):
the Đoàn header, number, place and date, the signer's block, the body the text speaks as
("Ban Thường vụ Tỉnh Đoàn", "Ban Chấp hành Đoàn phường …"), whom proposals go to (the parent unit
in the units file) and the Nơi nhận. The BÁO CÁO and the consolidated workbook's cover both come
from `letterhead`, so they say the same.

Each value is, in order: the unit's own column in the units file (place, issuer, signer); the
settings' [document] (a province's own file: it wins); the entry of the unit's level in the
settings' [levels] (templates/report.toml), rendered with the unit and its parent; the
[levels.default] entry. No wording lives here: it is all in [levels]."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping

import jinja2
import jinja2.sandbox

from . import vn
from .model import Unit

_env = jinja2.sandbox.SandboxedEnvironment(autoescape=False, undefined=jinja2.ChainableUndefined)

# Keys of a [levels] entry that are also [document] keys (the province's [document] wins).
DOCUMENT_KEYS = ("superior", "issuer", "issuer_short", "issuer_code", "sign_on_behalf", "sign_title", "signer",
                 "recipients")


@dataclass(frozen=True)
class Letterhead:
    superior: str             # left column, line 1 (may be "")
    issuer: str               # left column, bold
    organisation: str         # right column: "ĐOÀN TNCS HỒ CHÍ MINH"
    number: str               # "Số: 25-BC/TĐTN", or "" when no number is given
    place_date: str           # "Rạch Giá, ngày 25 tháng 6 năm 2026"
    sign_on_behalf: str       # "TM. BAN THƯỜNG VỤ TỈNH ĐOÀN"
    sign_title: str           # "BÍ THƯ"
    signer: str               # the signer's name (may be "")
    issuer_short: str = ""    # the issuer in a sentence: "Ban Thường vụ Tỉnh Đoàn"
    addressee: str = ""       # the level above, for proposals: "Trung ương Đoàn", "Ban Thường vụ Tỉnh Đoàn An Giang"
    recipients: tuple[str, ...] = ()     # Nơi nhận
    self_names: tuple[str, ...] = ()     # how sub-units name the issuer ("Tỉnh Đoàn"): their requests are its tasks
    level: str = ""           # the [levels] entry used
    issuer_code: str = ""     # "TĐTN", "ĐTN": the issuer in the document's number
    warnings: tuple[str, ...] = field(default=(), compare=False)   # for the person running batn

    @property
    def left(self) -> list[str]:
        """The issuing body's lines, upper case, then "***"."""
        return [t.strip().upper() for t in (self.superior, self.issuer) if t.strip()] + ["***"]

    @property
    def signature(self) -> list[str]:
        return [t.strip().upper() for t in (self.sign_on_behalf, self.sign_title) if t.strip()]


def _render(template: object, **ctx: Any) -> str:
    text = str(template or "")
    if "{" not in text:
        return text.strip()
    return " ".join(_env.from_string(text).render(**ctx).split())


def _names(entry: Mapping) -> list[str]:
    return [str(x) for x in entry.get("also", []) or []]


def _entry(levels: Mapping, key: str, seen: tuple[str, ...] = ()) -> dict:
    """A [levels] entry with what it is `like` (another entry) and [levels.default] under it."""
    own = dict(levels.get(key, {}) or {})
    like = str(own.pop("like", "") or "")
    if like and like in levels and like not in seen:
        base = _entry(levels, like, seen + (key,))
    else:
        base = dict(levels.get("default", {}) or {})
    base.update(own)
    return base


def find_level(settings: Mapping | None, unit: Unit) -> tuple[str, bool]:
    """The [levels] entry for `unit`: by its level (the units file's column, or the consolidated
    workbook's "Cấp"), else by the start of its name ("Huyện Đoàn …", "Đoàn phường …"); "default"
    when neither tells. The flag says whether the level was found."""
    levels = dict((settings or {}).get("levels", {}) or {})
    keys = [k for k in levels if k != "default"]
    if unit.level:
        lv = unit.level.strip().casefold()
        for k in keys:
            if lv == k.casefold() or lv in (a.casefold() for a in _names(levels[k])):
                return k, True
    name = unit.name.strip().casefold()
    by_start = sorted(((n, k) for k in keys for n in [k, *_names(levels[k])]), key=lambda x: -len(x[0]))
    for n, k in by_start:
        if name.startswith(n.casefold() + " ") or name == n.casefold():
            return k, True
    return "default", False


def letterhead(settings: Mapping | None, unit: Unit, on: date, number: str | None = None,
               parent: Unit | None = None) -> Letterhead:
    """The header, signer and addressees of a document `unit` issues on `on`; `parent`: its parent
    unit in the units file, when known. `number` (or the settings' `number`) gives "Số: …"; without
    either the line is left out (a workbook, unlike a BÁO CÁO, needs none)."""
    s = settings or {}
    d = dict(s.get("document", {}) or {})
    pv = dict(s.get("proposals", {}) or {})
    levels = dict(s.get("levels", {}) or {})
    key, known = find_level(s, unit)
    lv = _entry(levels, key)
    warnings: list[str] = []
    if not known:
        warnings.append(f"Không rõ cấp của {unit.name}: văn bản dùng cách xưng hô chung của mục [levels.default] "
                        "(“" + _render(lv.get("issuer_short", ""), unit=unit, parent=parent) + "”). Hãy ghi cấp "
                        "(cột level) trong danh sách đơn vị (--units), hoặc ghi mục [document] trong tệp thiết lập "
                        "(--config).")

    # whom the issuer reports to: the parent as its own level names it, else the level's default
    if str(pv.get("addressee", "") or "").strip():
        above = str(pv["addressee"]).strip()
    elif parent is not None:
        pe = _entry(levels, find_level(s, parent)[0])
        above = _render(pe.get("called") or pe.get("issuer_short", ""), unit=parent, parent=None)
    else:
        above = _render(lv.get("above_unknown", ""), unit=unit, parent=None)
        if not lv.get("top"):
            warnings.append(f"Không rõ đơn vị cấp trên của {unit.name}: đề xuất, kiến nghị gửi “{above}”. Hãy dùng "
                            "danh sách đơn vị (--units, cột parent) hoặc ghi `addressee` ở mục [proposals] của tệp "
                            "thiết lập (--config).")

    ctx: dict[str, Any] = {"unit": unit, "parent": parent, "above": above}

    def pick(k: str) -> Any:
        own = d.get(k)
        if own not in (None, "", []):
            return own
        return lv.get(k, "")

    short = _render(pick("issuer_short"), **ctx) or unit.name
    ctx["issuer_short"] = short
    for k in ("issuer_short", "sign_on_behalf"):        # a province's wording used below the province
        own = str(d.get(k) or "").casefold()
        other = next((o for o in levels if o not in ("default", key) and o not in _names(lv) and own
                      and o.casefold() in own and o.casefold() not in unit.name.casefold()), None)
        if other:
            warnings.append(f"Tệp thiết lập ghi “{d[k]}” ([document] {k}), cách xưng của cấp {other}, nhưng đơn vị "
                            f"ban hành là {unit.name}: hãy bỏ dòng này (hoặc chuyển vào [levels.\"{other}\"]) để "
                            "batn ghi theo cấp của đơn vị.")
    place = unit.place or d.get("place", "")
    num = (number if number is not None else d.get("number", "")) or ""
    issuer_code = unit.issuer or _render(pick("issuer_code"), **ctx) or "ĐTN"
    selves = [_render(x, **ctx) for x in [*(lv.get("self_names") or []), *(pv.get("self_names") or [])]]
    return Letterhead(
        superior=_render(pick("superior"), **ctx),
        issuer=_render(pick("issuer"), **ctx) or unit.name,
        organisation=d.get("organisation", "ĐOÀN TNCS HỒ CHÍ MINH"),
        number=vn.so_van_ban(num, d.get("doc_type", "BC"), issuer_code, d.get("ban", "")) if num.strip() else "",
        place_date=vn.dia_diem_ngay(place, on) if place else vn.ngay_van_ban(on).capitalize(),
        sign_on_behalf=_render(pick("sign_on_behalf"), **ctx),
        sign_title=_render(pick("sign_title"), **ctx),
        signer=unit.signer or _render(pick("signer"), **ctx),
        issuer_short=short,
        addressee=above,
        recipients=tuple(r for r in (_render(x, **ctx) for x in (pick("recipients") or [])) if r),
        self_names=tuple(dict.fromkeys(x for x in selves if x)),
        level=key,
        issuer_code=issuer_code,
        warnings=tuple(warnings),
    )
