"""The comparison of one figure with the earlier period, said inside the sentence the Đoàn way:
"tăng 18 lớp so với cùng kỳ năm 2025", "tăng 12,5% so với năm 2025", "bằng cùng kỳ năm 2025".

The words come from the `[comparison]` settings (jinja2); this module only decides which:
an absolute difference for small bases, a percentage from `percent_min_base` up, the rate's own
difference in points for a ratio ("đạt 21,5%, tăng 3,2% so với ...").
"""
from __future__ import annotations

from typing import Callable, Mapping

from .. import vn
from ..model import Catalogue, Period
from ..numbers import finite
from ..previous import PreviousPeriod

Render = Callable[..., str]


def previous_label(current: Period, previous: Period, wording: Mapping[str, str], render: Render) -> str:
    """"cùng kỳ năm 2025" (same half, a year before), "năm 2025" (the year before), else its label."""
    kind = current.kind
    if kind and kind == previous.kind and kind in ("H1", "H2"):
        return render(wording["same_half"], year=previous.end.year, label=previous.label)
    if kind and kind == previous.kind and kind == "year":
        return render(wording["same_year"], year=previous.end.year, label=previous.label)
    return render(wording["other"], year=previous.end.year, label=previous.label)


class Comparison:
    """`phrase(code)` for the catalogue's `ss('CODE')`: "" when nothing can be said."""

    def __init__(self, catalogue: Catalogue, current: Period, values: Mapping[str, float | int | None],
                 previous: PreviousPeriod, wording: Mapping[str, object], render: Render,
                 codes: list[str] | None = None):
        self.cat = catalogue
        self.values = values
        self.prev = previous
        self.w = wording
        self.render = render
        self.codes = set(codes) if codes else None
        self.min_base = float(wording.get("percent_min_base", 100))   # type: ignore[arg-type]
        self.prev_label = previous_label(current, previous.period, wording, render)   # type: ignore[arg-type]
        # After its first mention the earlier period is "cùng kỳ" (`same_half_again`): "so với cùng kỳ
        # năm 2025" ten times over reads as machine-made. Other kinds of period keep their label.
        same_half = current.kind in ("H1", "H2") and current.kind == previous.period.kind
        again = str(wording.get("same_half_again", "") or "") if same_half else ""
        self.again_label = render(again, year=previous.period.end.year, label=previous.period.label) if again \
            else self.prev_label
        self.said = False
        self.den = dict(catalogue.ratios)

    def _pair(self, code: str) -> tuple[float, float] | None:
        """(current, earlier) as numbers, or rates for a ratio; None when either is unknown."""
        cur, old = finite(self.values.get(code)), finite(self.prev.get(code))
        if cur is None or old is None:
            return None
        den = self.den.get(code)
        if den is not None:
            cd, od = finite(self.values.get(den)), finite(self.prev.get(den))
            if not cd or not od:
                return None
            return cur * 100 / cd, old * 100 / od
        return cur, old

    def text(self, code: str) -> str:
        """"tăng 18 lớp so với cùng kỳ năm 2025" (no brackets)."""
        if self.codes is not None and code not in self.codes:
            return ""
        pair = self._pair(code)
        if pair is None:
            return ""
        cur, old = pair
        if cur == 0:
            return ""            # the zero sentence says it; "giảm 100%" reads as an accusation
        ctx = {"prev": self.again_label if self.said else self.prev_label}
        self.said = True
        if round(cur, 1) == round(old, 1):
            return self.render(self.w["same"], **ctx)
        diff = abs(cur - old)
        ind = self.cat[code]
        if code in self.den:
            ctx["diff"] = vn.so(round(diff, 1)) + "%"
        elif old >= self.min_base:
            ctx["diff"] = vn.ty_le(diff, old)
        elif ind.is_money:
            ctx["diff"] = vn.tien(diff)
        else:
            ctx["diff"] = vn.dem(diff, ind.unit, pad_small=False)
        return self.render(self.w["up"] if cur > old else self.w["down"], **ctx)

    def phrase(self, code: str) -> str:
        """The comparison as placed after the figure (`wrap`, by default " (…)")."""
        t = self.text(code)
        return self.render(self.w.get("wrap", " ({{ text }})"), text=t, strip=False) if t else ""
