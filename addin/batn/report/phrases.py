"""The catalogue's sentence templates (jinja2) rendered against a set of figures.

Functions a template may call: n('MA') figure with its unit noun; so('MA' or a number) the
figure; tien('MA') money in tỷ/triệu; tyle('MA') the ratio to its pair; rate('MA') the same as a
number (None without a denominator); has('MA') figure > 0; v('MA') the raw figure; ss('MA') the
comparison with the earlier period; names(list) a capped list of names. Filters: capfirst,
lowerfirst.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping

import jinja2
import jinja2.sandbox

from .. import vn
from ..model import Catalogue
from ..numbers import finite


def capfirst(s: str) -> str:
    s = s.strip()
    return s[:1].upper() + s[1:]


def lowerfirst(s: str) -> str:
    """Lower the first letter unless it starts an acronym or a name ("ĐVTN", "UBND", "Tỉnh Đoàn")."""
    s = s.strip()
    words = s.split(" ", 2)
    if len(s) > 1 and (s[1].isupper() or words[0] in _KEEP_CAPITAL) and " ".join(words[:2]) not in _COMMON:
        return s
    return s[:1].lower() + s[1:]


_COMMON = {"Đoàn viên", "Nhà nhân", "Nhà văn", "Ban ngày"}    # common nouns that start like a name
_KEEP_CAPITAL = {"Tỉnh", "Thành", "Huyện", "Trung", "Đoàn", "Đảng", "Nhà", "Ban", "Sở", "Bác"}


def tidy(text: str) -> str:
    """One line, no space before punctuation, no doubled punctuation."""
    out = re.sub(r"\s+", " ", text)
    out = re.sub(r"\s+([,.;:)])", r"\1", out).replace("( ", "(")
    out = re.sub(r"([;,])\s*\.", ".", out)
    out = re.sub(r"\.{2,}$", ".", out.strip())
    return out


def _pct(share: float) -> str:
    return vn.so(round(share * 100, 1)) + "%" if (share * 100) % 1 else f"{int(round(share * 100))}%"


class Phrases:
    """Renders templates against figures; `section(key)` gives the sentences of one part."""

    def __init__(self, catalogue: Catalogue, values: Mapping[str, float | int | None], pad_small: bool = True,
                 max_names: int = 5, names_more: str = "và {{ n }} {{ noun }} khác"):
        self.cat = catalogue
        self.values = values
        self.pad = pad_small
        self.max_names = max_names
        self.names_more = names_more
        self.den = dict(catalogue.ratios)
        # Sandboxed: a catalogue may come inside a received workbook (the copy it carries)
        self.env = jinja2.sandbox.SandboxedEnvironment(autoescape=False, undefined=jinja2.StrictUndefined,
                                                       extensions=["jinja2.ext.do"])
        self.env.filters["capfirst"] = capfirst
        self.env.filters["lowerfirst"] = lowerfirst
        self.compare: Callable[[str], str] = lambda code: ""
        self.env.globals.update(n=self.n, so=self.so, tien=self.tien, tyle=self.tyle, rate=self.rate, has=self.has,
                                v=self._v, ss=lambda code: self.compare(code), names=self.names,
                                so_voi=lambda code: self.compare(code), chitieu=self.chitieu)
        self._templates: dict[str, jinja2.Template] = {}
        self._targets_said: set[str] = set()
        self._pending_targets: list[str] = []

    # ------------------------------------------------------------ figures
    def _v(self, code: str) -> float | int:
        if code not in self.cat:
            raise KeyError(f"câu báo cáo dùng mã chỉ tiêu không có: {code}")
        return finite(self.values.get(code)) or 0      # no figure a sentence cannot say (inf, NaN)

    def has(self, code: str) -> bool:
        return self._v(code) > 0

    def so(self, x: str | float | int) -> str:
        return vn.so(self._v(x) if isinstance(x, str) else x, pad_small=self.pad)

    def n(self, code: str) -> str:
        return vn.dem(self._v(code), self.cat[code].unit, pad_small=self.pad)

    def tien(self, code: str) -> str:
        return vn.tien(self._v(code))

    def tyle(self, code: str) -> str:
        return vn.ty_le(self._v(code), self._v(self.den[code])) or "0%"

    def rate(self, code: str) -> float | None:
        den = self._v(self.den[code]) if code in self.den else 0
        return round(self._v(code) * 100 / den, 1) if den else None

    def names(self, items: list[str], noun: str = "đơn vị") -> str:
        """"A, B, C" or "A, B, C, D, E và 03 đơn vị khác" (at most `max_names`)."""
        items = list(items)
        if len(items) <= self.max_names:
            return ", ".join(items)
        rest = len(items) - self.max_names
        return ", ".join(items[:self.max_names]) + " " + self.render(self.names_more, capital=False, n=self.so(rest), noun=noun)

    # ------------------------------------------------------------ rendering
    def render(self, tpl: str, /, capital: bool = True, strip: bool = True, **ctx: Any) -> str:
        t = self._templates.get(tpl)
        if t is None:
            t = self._templates[tpl] = self.env.from_string(tpl)
        out = t.render(**ctx)
        if not strip:
            return out
        out = tidy(out)
        return capfirst(out) if capital else out

    # ------------------------------------------------------------ targets (chỉ tiêu kế hoạch)
    def verdict(self, code: str) -> str | None:
        """"vượt", "đạt", "chưa đạt" against the indicator's target; None without one."""
        ind = self.cat[code]
        if ind.target is None:
            return None
        v = self.values.get(code)
        return ind.target.verdict(finite(v) if v is not None else None, self.values)

    def goal_text(self, code: str) -> str:
        """The target as the report says it: "1.550 người", "100%" (of its base), "1.200 ý tưởng"."""
        ind = self.cat[code]
        t = ind.target
        if t.of is not None and ("%" in t.text or ind.kind == "ratio_num"):
            base, own = self._v(t.of), self._v(code)
            short = base and self.verdict(code) == "chưa đạt"
            return _pct(t.value) + (f", mới đạt {vn.ty_le(own, base)}" if short else "")
        return self._amount(code, t.goal(self.values))

    def _amount(self, code: str, value: float | None) -> str:
        if value is None:
            return ""
        ind = self.cat[code]
        value = round(value) if abs(value - round(value)) < 1e-9 else value
        if ind.kind == "money":
            return vn.tien(value)
        return vn.dem(value, ind.unit, pad_small=self.pad)

    def chitieu(self, code: str) -> str:
        """" (vượt chỉ tiêu kế hoạch: 1.550 người)", or "" without a target or a figure."""
        self._targets_said.add(code)
        verdict = self.verdict(code)
        if verdict is None:
            return ""
        return f" ({verdict} chỉ tiêu kế hoạch: {self.goal_text(code)})"

    def _plain_items(self, key: str) -> list[dict]:
        """Indicators of the part no sentence mentions, said plainly from label and unit (and
        their own `phrase`, for indicators that have one)."""
        from ..catalogue import indicator_phrase, unphrased

        items = [indicator_phrase(i) for i in self.cat.in_section(key) if i.phrase]
        for a, b in zip(items, items[1:]):     # "…; thu hút 1.000 lượt tiếp cận": a sentence starting
            if b["text"][:1].islower():        # in lower case runs on from the one before
                a["join"] = ", "
        plain = set(unphrased(self.cat))
        codes = [i.code for i in self.cat.in_section(key) if i.code in plain and self.values.get(i.code) is not None]
        if codes:
            items.append({"needs": codes, "plain": codes})
        return items

    def _plain(self, codes: list[str]) -> str:
        parts = []
        for c in codes:
            ind = self.cat[c]
            v = finite(self.values.get(c))
            if v is None:
                continue
            if v == 0:
                said = "chưa có"
            elif ind.kind == "money":
                said = vn.tien(v)
            elif ind.kind == "ratio_num" and c in self.den:
                said = f"{self.n(c)} (đạt {self.tyle(c)})"
            else:
                said = self.n(c)
            label = ind.label.rstrip(" .:;")
            parts.append(f"{label if not parts else lowerfirst(label)}: {said}{self.compare(c)}{self.chitieu(c)}")
        return "; ".join(parts)

    def _target_sentence(self) -> str:
        """The targets no sentence of the part has said: "Đối chiếu chỉ tiêu kế hoạch: …"."""
        parts = []
        for c in self._pending_targets:
            if c in self._targets_said or self.verdict(c) is None:
                continue
            self._targets_said.add(c)
            ind = self.cat[c]
            v = finite(self.values.get(c))
            said = f"đạt {self._amount(c, v)}" if v else "chưa thực hiện"
            parts.append(f"{lowerfirst(ind.label.rstrip(' .:;'))} {said} ({self.verdict(c)} chỉ tiêu: {self.goal_text(c)})")
        return ("Đối chiếu với chỉ tiêu kế hoạch: " + "; ".join(parts) + ".") if parts else ""

    def section(self, key: str, **ctx: Any) -> list[str]:
        """The sentences of one part: the catalogue's sentences of the part, the indicators' own
        sentences, a plain sentence for the indicators none mentions, and the targets not yet said.
        A sentence whose figures are all blank is left out; one whose figures are all zero uses its
        `zero` wording if it has one. An item with `join` runs on into the next one ("…; thực
        hiện …"), so several figures share a sentence."""
        self._targets_said = set()
        self._pending_targets = [i.code for i in self.cat.in_section(key) if i.target is not None]
        out = self._section(key, **ctx)
        tail = self._target_sentence()
        return out + [tail] if tail else out

    def _section(self, key: str, **ctx: Any) -> list[str]:
        out: list[str] = []
        joining: str | None = None
        for item in [*self.cat.phrases.get(key, []), *self._plain_items(key)]:
            needs = item.get("needs", [])
            vals = [self.values.get(c) for c in needs]
            if needs and all(v is None for v in vals):
                continue
            if item.get("only_if") and not self.env.compile_expression(item["only_if"])(**ctx):
                continue
            if item.get("plain"):
                text = self._plain(item["plain"])
            elif needs and all((finite(v) or 0) == 0 for v in vals):
                if not item.get("zero"):
                    continue
                text = self.render(item["zero"], capital=False, **ctx)
            else:
                text = self.render(item["text"], capital=False, **ctx)
            if not text:
                continue
            if joining and out:
                out[-1] = out[-1].rstrip(" .;,") + joining + lowerfirst(text)
            else:
                out.append(capfirst(text))
            joining = item.get("join")
        return [s if s.endswith((".", ":", "!", "?")) else s.rstrip(" ;,") + "." for s in out]

    def zero_part(self, key: str) -> bool | None:
        """True when every figure of the part was reported as 0; None when none was reported."""
        codes = [i.code for i in self.cat.in_section(key)]
        vals = [finite(self.values.get(c)) for c in codes]
        if not codes or all(v is None for v in vals):
            return None
        return all((v or 0) == 0 for v in vals)
