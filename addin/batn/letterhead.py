"""The Đoàn header and signature of a document a unit issues (domain.md §3): who issues it, its
number, place and date, who signs. Read from the report settings (templates/report.toml or
--config), the unit's own columns in the units file winning, as in the BÁO CÁO, so the consolidated
workbook's cover and the report say the same."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Mapping

from . import vn
from .model import Unit


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

    @property
    def left(self) -> list[str]:
        """The issuing body's lines, upper case, then "***"."""
        return [t.strip().upper() for t in (self.superior, self.issuer) if t.strip()] + ["***"]

    @property
    def signature(self) -> list[str]:
        return [t.strip().upper() for t in (self.sign_on_behalf, self.sign_title) if t.strip()]


def letterhead(settings: Mapping | None, unit: Unit, on: date, number: str | None = None) -> Letterhead:
    """The header of a document `unit` issues on `on`. `number` (or the settings' `number`) gives
    "Số: …"; without either the line is left out (a workbook, unlike a BÁO CÁO, needs none)."""
    d = dict((settings or {}).get("document", {}))
    place = unit.place or d.get("place", "")
    num = (number if number is not None else d.get("number", "")) or ""
    issuer_code = unit.issuer or d.get("issuer_code", "TĐTN")
    return Letterhead(
        superior=d.get("superior", ""),
        issuer=d.get("issuer", "") or unit.name,
        organisation=d.get("organisation", "ĐOÀN TNCS HỒ CHÍ MINH"),
        number=vn.so_van_ban(num, d.get("doc_type", "BC"), issuer_code, d.get("ban", "")) if num.strip() else "",
        place_date=vn.dia_diem_ngay(place, on) if place else vn.ngay_van_ban(on).capitalize(),
        sign_on_behalf=d.get("sign_on_behalf", ""),
        sign_title=d.get("sign_title", ""),
        signer=unit.signer or d.get("signer", ""),
    )
