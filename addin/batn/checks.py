"""Checks of a submission against its catalogue and the run's expectations.

Checking returns findings; it never raises. The catalogue's rules are the same
`Rule` objects the template compiles into Excel formulas (batn.xlsx.template).
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from dataclasses import dataclass

from . import layout as L
from .findings import finding
from .model import Catalogue, Finding, Submission, UnitTree
from .numbers import readable as _fmt


@dataclass(frozen=True)
class Expectation:
    """What the run expects of every file: the period, catalogue and unit tree being consolidated."""

    period: str | None = None
    catalogue: str | None = None
    units: UnitTree | None = None


def check_values(sub: Submission, catalogue: Catalogue) -> list[Finding]:
    out: list[Finding] = []
    loc = dict(file=sub.source, unit=sub.unit)
    for ind in catalogue.indicators:
        v = sub.values.get(ind.code)
        cell = sub.cells.get(ind.code, "")
        if v is None:
            if ind.code in sub.cells or not sub.cells:       # a code the file has (or a door without cells)
                out.extend(_required(sub, ind, cell, loc))
            continue
        if v < 0:
            out.append(finding("negative", indicator=ind.code, cell=cell, label=ind.label, value=_fmt(v), **loc))
            continue
        if not v <= catalogue.ceiling(ind):          # NaN too, from a door that let one through
            out.append(finding("implausible-value", indicator=ind.code, cell=cell, label=ind.label, value=_fmt(v),
                               limit=f"{_fmt(catalogue.ceiling(ind))} {ind.unit}", **loc))
            continue
        if isinstance(v, float) and not v.is_integer():
            out.append(finding("fractional", indicator=ind.code, cell=cell, label=ind.label, value=_fmt(v), **loc))
            continue
        for rule in ind.rules:
            if rule.op in ("required", "expr"):
                if rule.op == "expr" and rule.broken(ind.code, sub.values):
                    out.append(finding("rule-expr", severity=rule.severity, indicator=ind.code, cell=cell,
                                       label=ind.label, rule=_rule_words(rule), detail=_detail(rule, sub.values, catalogue),
                                       **loc))
                continue
            o = sub.values.get(rule.other)
            if rule.violated(v, o):
                other = catalogue[rule.other]
                out.append(finding(f"rule-{rule.op}", severity=rule.severity, indicator=ind.code, cell=cell,
                                   label=ind.label, value=_fmt(v), other_label=other.label,
                                   other_value=_fmt(o if o is not None else 0), **loc))
    return out


def _required(sub: Submission, ind, cell: str, loc: dict) -> list[Finding]:
    if ind.required:
        return [finding("required", severity=ind.required, indicator=ind.code, cell=cell, label=ind.label,
                        when="", **loc)]
    for rule in ind.rules:
        if rule.op == "required" and rule.broken(ind.code, sub.values):
            when = " khi " + " và ".join(_cmp_words(c) for c in rule.when) if rule.when else ""
            return [finding("required", severity=rule.severity, indicator=ind.code, cell=cell, label=ind.label,
                            when=when, **loc)]
    return []


def _cmp_words(c) -> str:
    def side(terms) -> str:
        out = []
        for n, t in enumerate(terms):
            f = abs(t.factor)
            word = _fmt(f) if t.code is None else ("" if f == 1 else f"{_fmt(f)} × ") + t.code
            out.append(("- " if t.factor < 0 and n == 0 else "") + word if n == 0 else
                       ("- " if t.factor < 0 else "+ ") + word)
        return " ".join(out)
    return f"{side(c.left)} {c.op} {side(c.right)}"


def _rule_words(rule) -> str:
    text = _cmp_words(rule.test) if rule.test else ""
    if rule.when:
        text += " khi " + " và ".join(_cmp_words(c) for c in rule.when)
    return text


def _detail(rule, values, catalogue: Catalogue) -> str:
    """The figures the rule compared: "CV_A = 5, CV_B = 7, TT_X = 10"."""
    from .rulelang import rule_codes

    return ", ".join(f"{c} = {_fmt(values.get(c)) if values.get(c) is not None else 'trống'}"
                     for c in rule_codes(rule) if c in catalogue)


@lru_cache(maxsize=4096)
def _norm(s: str) -> str:
    return " ".join(unicodedata.normalize("NFC", s).split()).casefold()


def _same(a: str, b: str) -> bool:
    return _norm(a) == _norm(b)


def check_structure(sub: Submission, catalogue: Catalogue) -> list[Finding]:
    """Protected cells altered and names moved: the label beside each named cell must be its indicator's."""
    out: list[Finding] = []
    labels = {i.code: i.label for i in catalogue.indicators}
    for code, found in sub.labels.items():
        expected = labels.get(code)
        if expected is None or _same(found, expected):
            continue
        cell = sub.cells.get(code, "")
        other = next((c for c, lab in labels.items() if c != code and _same(found, lab)), None)
        if other or not found.strip():
            # onto another indicator's row, or onto a row with no label at all: the cell is not this figure
            out.append(finding("name-moved", file=sub.source, unit=sub.unit, indicator=code, cell=cell,
                               name=code, found=found or "ô không có nội dung chỉ tiêu"))
        else:
            out.append(finding("label-altered", file=sub.source, unit=sub.unit, indicator=code, cell=cell,
                               label=expected, found=found or "(trống)"))
    return out


def check_expectation(sub: Submission, expect: Expectation) -> list[Finding]:
    out: list[Finding] = []
    at = sub.meta_cells.get
    if expect.period and sub.period and sub.period != expect.period:
        out.append(finding("wrong-period", file=sub.source, unit=sub.unit, cell=at(L.NAME_PERIOD, ""),
                           found=sub.period, expected=expect.period))
    if expect.catalogue and sub.catalogue and sub.catalogue != expect.catalogue:
        out.append(finding("wrong-catalogue", file=sub.source, unit=sub.unit, cell=at(L.NAME_CATALOG, ""),
                           found=sub.catalogue, expected=expect.catalogue))
    if expect.units is not None and sub.unit and sub.unit not in expect.units \
            and not expect.units.successor(sub.unit):        # a former unit's file belongs to its successor
        out.append(finding("unknown-unit", file=sub.source, unit=sub.unit, cell=at(L.NAME_UNIT, ""),
                           found=sub.unit))
    return out


def check_submission(sub: Submission, catalogue: Catalogue, expect: Expectation = Expectation()) -> list[Finding]:
    """All findings for one submission: those found while reading, then these checks."""
    if any(f.kind in ("unreadable-file", "not-a-template") for f in sub.findings):
        return list(sub.findings)
    return [*sub.findings, *check_expectation(sub, expect), *check_structure(sub, catalogue),
            *check_values(sub, catalogue)]
