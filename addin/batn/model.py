"""The plain objects every door and every step shares.

No I/O and no spreadsheet library here: a catalogue, a unit tree, a period,
a submission and a finding are data, so the same checks and roll-up run behind
an Excel button, a Google Sheet or a scheduled script.
"""
from __future__ import annotations

import math
import pickle
import sys
import tempfile
import threading
from array import array
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field, replace
from datetime import date
from enum import Enum
from typing import Iterable, Iterator, Mapping


class Severity(str, Enum):
    ERROR = "lỗi"        # blocks the submission
    WARNING = "cảnh báo"  # shown, accepted

    def __str__(self) -> str:
        return self.value


# Indicator kinds, as in the product owner's specification.
KINDS = ("count", "turns", "people", "money", "ratio_num", "ratio_den")

# No figure is read above this (2**53, about 9 triệu tỷ): every whole number up to it is exact in
# a double, and the sums of a national tree of them stay far from overflowing. A catalogue's
# ceilings (`Catalogue.ceiling`) are lower still.
MAX_FIGURE = 2 ** 53


@dataclass(frozen=True)
class Term:
    """One term of a sum in a rule: `factor` × the indicator `code`, or the number `factor` (code None)."""

    code: str | None
    factor: float = 1.0


_CMP = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
        ">": lambda a, b: a > b, "=": lambda a, b: a == b, "<>": lambda a, b: a != b}


@dataclass(frozen=True)
class Comparison:
    """"CV_A + CV_B <= TT_X". A blank figure counts as 0, except that a comparison whose two sides
    both name indicators is not judged while one side has no figure at all (nothing to compare)."""

    left: tuple[Term, ...]
    op: str                 # <=, >=, <, >, =, <>
    right: tuple[Term, ...]

    @staticmethod
    def side(terms: tuple[Term, ...], values: Mapping[str, float | int | None]) -> tuple[float, bool, bool]:
        total, named, filled = 0.0, False, False
        for t in terms:
            if t.code is None:
                total += t.factor
                continue
            named = True
            v = values.get(t.code)
            if v is not None:
                filled = True
                total += t.factor * v
        return total, named, filled

    def holds(self, values: Mapping[str, float | int | None]) -> bool | None:
        """True or False; None when it cannot be judged (a side of indicators all blank)."""
        lv, ln, lf = self.side(self.left, values)
        rv, rn, rf = self.side(self.right, values)
        if ln and rn and not (lf and rf):
            return None
        return _CMP[self.op](round(lv - rv, 9), 0)


@dataclass(frozen=True)
class Rule:
    """A check of an indicator against others (one model; batn.checks and the template's formulas
    are its two compilers).

    op:
      "le"        value <= other                       (e.g. registered <= total)
      "ge_both"   value >= other when both are > 0     (lượt >= số cuộc)
      "needs"     value > 0 requires other > 0         (trị giá needs số phần quà)
      "expr"      `test` must hold when every `when` holds ("CV_A + CV_B <= TT_X khi TT_X > 0")
      "required"  the indicator must be filled when every `when` holds
    """

    op: str
    other: str
    severity: Severity
    test: "Comparison | None" = None
    when: tuple["Comparison", ...] = ()
    text: str = ""          # as written in the catalogue ("" for the legacy forms built in code)

    def violated(self, value: float | None, other: float | None) -> bool:
        v = value or 0
        o = other or 0
        if self.op == "le":
            return value is not None and other is not None and v > o
        if self.op == "ge_both":
            return v > 0 and o > 0 and v < o
        if self.op == "needs":
            return v > 0 and o <= 0
        raise ValueError(f"unknown rule op {self.op!r}")

    def applies(self, values: Mapping[str, float | int | None]) -> bool:
        return all(c.holds(values) is True for c in self.when)

    def broken(self, own: str, values: Mapping[str, float | int | None]) -> bool:
        """Whether the rule of indicator `own` is broken by `values` (code -> figure, None blank)."""
        v = values.get(own)
        if self.op == "required":
            return v is None and self.applies(values)
        if v is None:
            return False          # a blank cell is not checked (the template's "Kiểm tra" is blank too)
        if self.op == "expr":
            return self.applies(values) and self.test is not None and self.test.holds(values) is False
        return self.violated(v, values.get(self.other))


@dataclass(frozen=True)
class Target:
    """A planned figure (chỉ tiêu kế hoạch): `value`, or `value` × the figure of `of`
    ("100% TT_COSO_TONG" is 1.0 × TT_COSO_TONG, "1 mỗi TT_DOANVIEN" is 1 × TT_DOANVIEN).
    `at_most`: the figure should not exceed it (vi phạm: tối đa 0)."""

    value: float
    of: str | None = None
    at_most: bool = False
    text: str = ""

    def goal(self, values: Mapping[str, float | int | None]) -> float | None:
        if self.of is None:
            return self.value
        base = values.get(self.of)
        return None if base is None else self.value * base

    def verdict(self, result: float | int | None, values: Mapping[str, float | int | None]) -> str | None:
        """"vượt", "đạt" or "chưa đạt"; None when the result or the goal is not known."""
        goal = self.goal(values)
        if result is None or goal is None:
            return None
        goal = round(goal, 9)
        if self.at_most:
            return "đạt" if result <= goal else "chưa đạt"
        if result > goal:
            return "vượt"
        return "đạt" if result == goal else "chưa đạt"


@dataclass(frozen=True)
class Indicator:
    code: str
    section: str          # "0", "I", "II.1", "II.2", "II.3", "III"
    label: str
    unit: str             # unit noun used in the text: "đêm", "lượt", "đồng"
    kind: str
    pair: str | None = None
    rules: tuple[Rule, ...] = ()
    max: int | None = None  # the catalogue's `max:` for this indicator; None = its kind's ceiling
    required: Severity | None = None   # blank is a lỗi / cảnh báo (`required:`)
    target: Target | None = None       # chỉ tiêu kế hoạch (`target:`)
    phrase: str = ""                   # the indicator's own report sentence (`phrase:`)
    compare: bool = False              # compared with the earlier period in the report (`compare:`)
    short: str = ""                    # a short label for a table's column head (`short:`), "" = cut from label

    @property
    def is_money(self) -> bool:
        return self.kind == "money"


@dataclass(frozen=True)
class Section:
    key: str       # "I", "II.1", ...
    heading: str   # "Trách nhiệm với công việc"


@dataclass(frozen=True)
class NarrativeList:
    """A repeatable list on its own sheet (mô hình tiêu biểu, gương điển hình, ...)."""

    key: str                       # "mo_hinh"
    sheet: str                     # sheet title in the template
    title: str                     # heading shown on the sheet
    columns: tuple[str, ...]       # column headers after STT
    name: str                      # defined name of the input block


@dataclass(frozen=True)
class Catalogue:
    id: str
    title: str
    movement: str
    sections: tuple[Section, ...]
    indicators: tuple[Indicator, ...]
    narratives: tuple[NarrativeList, ...]
    phrases: Mapping[str, str]          # section key -> jinja2 text
    ratios: tuple[tuple[str, str], ...]  # (numerator code, denominator code)
    report: Mapping[str, object] = field(default_factory=dict)  # title, subject, opening ...
    ceilings: Mapping[str, int] = field(default_factory=dict)   # kind -> largest plausible figure
    version: str = ""                   # the catalogue's own version ("2024.1"), shown and compared
    digest: str = ""                    # content hash (batn.catalogue.catalogue_digest)
    source: str = ""                    # where it was loaded from (a path, "nhúng trong <tệp>")

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {i.code: i for i in self.indicators})
        object.__setattr__(self, "_index", {i.code: n for n, i in enumerate(self.indicators)})

    @property
    def code_index(self) -> Mapping[str, int]:
        """Code -> position in `codes`: the layout of every `Figures` of this catalogue."""
        return self._index  # type: ignore[attr-defined]

    def __getitem__(self, code: str) -> Indicator:
        return self._by_code[code]  # type: ignore[attr-defined]

    def __contains__(self, code: object) -> bool:
        return code in self._by_code  # type: ignore[attr-defined]

    @property
    def codes(self) -> list[str]:
        return [i.code for i in self.indicators]

    def ceiling(self, ind: Indicator) -> int:
        """The largest plausible figure of `ind`: its own `max`, else its kind's; above it a figure
        is a lỗi (`implausible-value`) and is not summed."""
        if ind.max is not None:
            return ind.max
        return self.ceilings.get(ind.kind, MAX_FIGURE)

    def in_section(self, key: str) -> list[Indicator]:
        return [i for i in self.indicators if i.section == key]

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)


@dataclass(frozen=True, slots=True)    # slots: a national tree holds tens of thousands of these
class Unit:
    code: str
    name: str
    parent: str | None
    level: str = ""
    place: str = ""
    issuer: str = ""
    signer: str = ""
    contact: str = ""
    merged_into: str = ""   # a former unit: the code of the unit that took it over (a rename is a merge)
    merged_from: str = ""   # the first period of the merge ("2025-H2"); "" = before any period batn sees


class UnitTree:
    """A validated tree of units (any depth). Build it with `batn.units.load_units`.

    Former units (merged into another, or renamed) are kept aside in `former`: they are not in
    the tree, expect no report and get no template; a file sent under a former code belongs to its
    `successor`, and a successor's history includes its `predecessors`. A unit under a former unit
    hangs under that unit's successor. `at(period)` gives the tree as it was for an earlier period."""

    def __init__(self, units: Iterable[Unit]):
        units = list(units)
        self.former: dict[str, Unit] = {u.code: u for u in units if u.merged_into}
        self.units: dict[str, Unit] = {u.code: u for u in units if not u.merged_into}
        self._given: list[Unit] | None = None          # as written, for `at` (only when there are former units)
        if self.former:
            self._given = units
            self.units = {c: (replace(u, parent=self.successor(u.parent)) if u.parent in self.former else u)
                          for c, u in self.units.items()}
        children: dict[str, list[str]] = {c: [] for c in self.units}
        roots = []
        for u in self.units.values():
            if u.parent:
                children[u.parent].append(u.code)
            else:
                roots.append(u.code)
        # Tuples: read-only, and the leaves (most of a national tree) share the one empty tuple.
        self.children: dict[str, tuple[str, ...]] = {c: tuple(k) for c, k in children.items()}
        self.root = roots[0] if roots else ""

    def __getitem__(self, code: str) -> Unit:
        return self.units[code]

    def __contains__(self, code: object) -> bool:
        return code in self.units

    def __len__(self) -> int:
        return len(self.units)

    def depth(self, code: str) -> int:
        d = 0
        while self.units[code].parent:
            code = self.units[code].parent  # type: ignore[assignment]
            d += 1
        return d

    def walk(self, code: str | None = None) -> list[str]:
        """Codes of `code`'s subtree, parent before children, in file order."""
        out: list[str] = []
        stack = [code or self.root]
        while stack:
            c = stack.pop()
            out.append(c)
            stack.extend(reversed(self.children[c]))
        return out

    def parent_of(self, code: str) -> Unit | None:
        """The unit `code` reports to, or None (the root, or a code not in the tree)."""
        u = self.units.get(code)
        return self.units.get(u.parent) if u is not None and u.parent else None

    def subtree(self, code: str) -> "UnitTree":
        keep = self.walk(code)
        units = [self.units[c] for c in keep]
        top = units[0]
        units[0] = replace(top, parent=None)
        inside = set(keep)
        return UnitTree(units + [u for u in self.former.values() if self.successor(u.code) in inside])

    # ------------------------------------------------------------ reorganisation
    def successor(self, code: str | None) -> str | None:
        """The unit of the tree that `code` now belongs to: itself, or where its merges lead."""
        seen = set()
        while code in self.former and code not in seen:
            seen.add(code)
            code = self.former[code].merged_into
        return code if code in self.units else None

    def predecessors(self, code: str) -> list[str]:
        """Former units whose merges lead to `code`, in file order."""
        return [c for c in self.former if self.successor(c) == code]

    def at(self, period: "Period") -> "UnitTree":
        """The tree for `period`: a unit merged only from a later period still stood on its own then."""
        from .periods import parse_period

        def still_separate(u: Unit) -> bool:
            try:
                return bool(u.merged_from) and period.start < parse_period(u.merged_from).start
            except ValueError:
                return False
        back = [u for u in self.former.values() if still_separate(u)]
        if not back:
            return self
        revived = {u.code: replace(u, merged_into="", merged_from="") for u in back}
        return UnitTree([revived.get(u.code, u) for u in self._given or ()])


@dataclass(frozen=True)
class Period:
    id: str                 # "2024", "2024-H1", "2009-2013"
    label: str              # "năm 2024", "6 tháng đầu năm 2024", "giai đoạn 2009 - 2013"
    start: date             # data window
    end: date
    deadlines: Mapping[str, date] = field(default_factory=dict)  # level label -> deadline; "" = default
    kind: str = ""          # "year", "H1", "H2" or "phase": only periods of one kind are compared

    def deadline_for(self, level: str) -> date | None:
        return self.deadlines.get(level) or self.deadlines.get("")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found, located as precisely as we can: plain data (frictionless-style)."""

    kind: str                # stable id, e.g. "rule-le", "not-a-number"
    severity: Severity
    message: str             # Vietnamese, for the clerk
    file: str = ""
    unit: str = ""
    indicator: str = ""
    cell: str = ""           # "Số liệu!D12"

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.file,
            "unit": self.unit,
            "indicator": self.indicator,
            "cell": self.cell,
        }


_INT_MIN, _INT_MAX = -(2 ** 31), 2 ** 31 - 1     # array("i"); INT_MIN marks a blank


class Figures(MappingABC):
    """Indicator code -> figure (None = blank), read-only, stored as one array of doubles laid out
    by the catalogue's `code_index` (NaN = blank).

    A consolidation keeps every unit's figures and totals until its tables are written; as dicts
    of boxed numbers that is about 5 KB a unit, as Figures 0.5 KB, so a 10,000-unit run stays
    near the size of a 1,000-unit one. Whole numbers come back as int (figures are counts).
    Build with `Figures.pack`, which keeps a plain dict when a value cannot round-trip exactly."""

    __slots__ = ("_index", "_data")

    def __init__(self, index: Mapping[str, int], data: array):
        self._index, self._data = index, data

    @classmethod
    def pack(cls, index: Mapping[str, int], values: Mapping[str, float | int | None]) -> Mapping[str, float | int | None]:
        if len(values) != len(index):
            return dict(values)                  # a missing code must stay missing, not become None
        whole = True
        for code, v in values.items():
            if code not in index or isinstance(v, bool) or not (v is None or isinstance(v, (int, float))):
                return dict(values)              # not a figure of this catalogue: keep it as it is
            if isinstance(v, int):
                if abs(v) > MAX_FIGURE:
                    return dict(values)
                whole = whole and _INT_MIN < v <= _INT_MAX
            elif isinstance(v, float):
                if not math.isfinite(v):
                    return dict(values)
                whole = False
        if whole:                                # counts, the usual case: 4 bytes a figure
            data = array("i", [_INT_MIN]) * len(index)
        else:
            data = array("d", [math.nan]) * len(index)
        for code, v in values.items():
            if v is not None:
                data[index[code]] = v
        return cls(index, data)

    def __getitem__(self, code: str) -> float | int | None:
        return self._at(self._index[code])

    def get(self, code: str, default=None):
        # Mapping.get's answer (a blank is None, an unknown code `default`) without its try/except
        # around __getitem__: the workbook's tables ask for every figure of every unit.
        i = self._index.get(code)
        return default if i is None else self._at(i)

    def _at(self, i: int) -> float | int | None:
        v = self._data[i]
        if self._data.typecode == "i":
            return None if v == _INT_MIN else v
        if v != v:
            return None
        return int(v) if v.is_integer() else v

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self):
        # The index object itself, not a copy: pickling a batch of results (a process pool's
        # chunk) then stores the layout once, and the receiver re-points it at its catalogue's.
        return (Figures, (self._index, self._data))

    @property
    def layout(self) -> Mapping[str, int]:
        """Code -> position: the catalogue's `code_index` these figures were packed over."""
        return self._index

    def with_index(self, index: Mapping[str, int]) -> "Figures":
        """The same figures over `index` (an equal layout held elsewhere), so that thousands of
        them share one index."""
        return self if self._index is index else Figures(index, self._data)


_NARRATIVE_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}


class TextSpool:
    """An anonymous temporary file holding the narrative rows of one consolidation's units.

    Their text is data the consolidated workbook needs at the end (every mô hình and gương sent),
    and in a national run it is most of what a unit weighs: on disk it costs the parent a few
    bytes a unit. The file has no name, and goes when the last `Narratives` using it goes."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="batn-text-")
        self._end = 0
        self._lock = threading.Lock()        # a writer and a reader may share one spool

    def put(self, blob: bytes) -> int:
        """Store `blob`; returns where it starts."""
        with self._lock:
            at = self._end
            self._file.seek(at)
            self._file.write(blob)
            self._end += len(blob)
            return at

    def get(self, at: int, size: int) -> bytes:
        with self._lock:
            self._file.flush()
            self._file.seek(at)
            data = self._file.read(size)
        if len(data) != size:
            raise OSError(f"Tệp tạm chứa chữ mô hình, gương… của bản tổng hợp bị cắt cụt: đọc được {len(data)}/{size} "
                          "byte. Hãy kiểm tra chỗ trống của thư mục tạm rồi tổng hợp lại.")
        return data


class Narratives(MappingABC):
    """List key -> rows of text (mô hình, gương, khó khăn, đề xuất), read-only, held as one bytes
    blob (or in a `TextSpool`) until asked for.

    A consolidation keeps every unit's rows until its workbook is written. As a dict of lists of
    tuples of str that is about 1.4 KB for a unit's usual two or three rows, as one blob about a
    third of that, and spooled about 100 bytes. Rows come back as a new list of tuples at each
    access."""

    __slots__ = ("_keys", "_blob", "_spool", "_at")

    def __init__(self, keys: tuple[str, ...], blob: bytes | None, spool: TextSpool | None = None, at: int = 0):
        # Every unit of a catalogue has the same few keys: one tuple for all of them.
        self._keys = _NARRATIVE_KEYS.setdefault(keys, keys)
        self._blob, self._spool, self._at = blob, spool, at

    @classmethod
    def pack(cls, narratives: Mapping[str, Iterable[Iterable[str]]]) -> "Narratives":
        keys = tuple(sys.intern(k) for k in narratives)
        rows = tuple(tuple(tuple(r) for r in narratives[k]) for k in keys)
        return cls(keys, pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL))

    def spooled(self, spool: TextSpool) -> "Narratives":
        """The same rows, their bytes moved to `spool` (`_at` = start * 2**32 + size)."""
        blob = self._bytes()
        return Narratives(self._keys, None, spool, spool.put(blob) << 32 | len(blob))

    def _bytes(self) -> bytes:
        if self._spool is None:
            return self._blob                   # type: ignore[return-value]
        return self._spool.get(self._at >> 32, self._at & 0xFFFFFFFF)

    def _rows(self) -> tuple:
        return pickle.loads(self._bytes())     # our own bytes, made by pack(): never a received file's

    def __getitem__(self, key: str) -> list[tuple[str, ...]]:
        try:
            i = self._keys.index(key)
        except ValueError:
            raise KeyError(key) from None
        return list(self._rows()[i])

    def items(self):                            # one decoding for all keys, not one per key
        return list(zip(self._keys, (list(rows) for rows in self._rows())))

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def __reduce__(self):                       # sent as bytes: a spool is this process's own file
        return (Narratives, (self._keys, self._bytes()))


# Where a submission's time of receipt comes from, most trusted first: the save time the workbook
# records itself (docProps/core.xml), the time batn's ledger first saw the file, and last the file
# system's modification time, which a copy, a USB stick or a download rewrites.
SAVED_IN_FILE, FIRST_SEEN, FILE_TIME = "saved", "first-seen", "file-time"


@dataclass(slots=True)    # a consolidation keeps one per unit: no per-object __dict__
class Submission:
    """What one unit sent for one period, whatever the door it came through."""

    unit: str
    period: str
    catalogue: str
    values: dict[str, float | None]                     # code -> figure (None = left blank)
    narratives: dict[str, list[tuple[str, ...]]]        # list key -> rows (a packed Narratives once checked)
    source: str = ""                                    # file path or sheet URL
    sha256: str = ""
    received: float = 0.0                               # POSIX time the file was received (see received_from)
    received_from: str = ""                             # what `received` is: SAVED_IN_FILE, FIRST_SEEN or FILE_TIME
    cells: dict[str, str] = field(default_factory=dict)  # code -> "Sheet!D12"
    meta_cells: dict[str, str] = field(default_factory=dict)  # BATN_UNIT/PERIOD/CATALOG -> "Sheet!C5"
    findings: list[Finding] = field(default_factory=list)  # found while reading
    is_total: bool = False                              # a total for the unit's whole subtree
    labels: dict[str, str] = field(default_factory=dict)  # code -> row label found beside the cell
    sheets: list[str] = field(default_factory=list)     # sheet titles found in the file

    @property
    def has_errors(self) -> bool:
        return any(f.severity == Severity.ERROR for f in self.findings)
