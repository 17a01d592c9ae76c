"""The units file: who reports to whom, read from CSV or YAML.

A province keeps its hierarchy as data (code, name, parent, level label, ...),
never as fixed levels: since July 2025 the tree has no fixed depth. This module
reads that file, refuses a broken tree with every problem listed at once (in
Vietnamese, naming the rows), and writes a tree back.

    code,name,parent,level
    T,Tỉnh Đoàn Kiên Giang,,Tỉnh Đoàn
    RG,Đoàn phường Rạch Giá,T,Đoàn cơ sở

`units_from_rows` holds all the checks, so another door (a Google Sheet) only
has to turn its rows into dicts and say where each one came from.
"""
from __future__ import annotations

import sys

import csv
import re
from array import array
import unicodedata
from os import PathLike
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, Sized

import yaml

from .model import Unit, UnitTree

__all__ = ["UnitsFileError", "load_units", "units_from_rows", "write_units_csv", "COLUMNS"]

REQUIRED = ("code", "name", "parent")
OPTIONAL = ("level", "place", "issuer", "signer", "contact", "merged_into", "merged_from")
COLUMNS = REQUIRED + OPTIONAL

_CODE_OK = re.compile(r"[A-Za-z0-9_.\-]+")
# Names Windows will not give to a file, whatever the extension ("CON.xlsx" too).
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}


class UnitsFileError(ValueError):
    """The units file cannot be used; `problems` lists every reason, in Vietnamese."""

    def __init__(self, problems: list[str], source: str = ""):
        self.problems = list(problems)
        self.source = source          # the file, named before the problems (a command reads several files)
        super().__init__(self.problems)

    def __str__(self) -> str:
        head = [f"Danh sách đơn vị {self.source}:"] if self.source else []
        return "\n".join(head + self.problems)


# ---------------------------------------------------------------- cleaning

def _clean(value: Any) -> str:
    """Trimmed, NFC-normalised text; None -> ""; 101.0 (from a sheet) -> "101"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFC", str(value))
    return text.strip().strip("\ufeff").strip()


def _clean_row(row: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in row.items():
        k = _clean(key).lower()
        if k and k not in out:          # first of two same-named columns wins
            out[k] = _clean(value)
    return out


def _cap(where: str) -> str:
    return where[:1].upper() + where[1:]


def _and(items: list[str]) -> str:
    """"a", "a và b", "a, b và c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " và " + items[-1]


def _compact(wheres: list[str]) -> str:
    """["dòng 2", "dòng 4", "dòng 9"] -> "dòng 2, 4, 9" when they share a prefix."""
    parts = [re.fullmatch(r"(.*?)(\d+)", w) for w in wheres]
    if all(parts) and len({p.group(1) for p in parts}) == 1:  # type: ignore[union-attr]
        return parts[0].group(1) + ", ".join(p.group(2) for p in parts)  # type: ignore[union-attr]
    return ", ".join(wheres)


# ---------------------------------------------------------------- checks

def _code_problem(code: str) -> str | None:
    if not _CODE_OK.fullmatch(code):
        return f"mã đơn vị '{code}' chỉ được gồm chữ cái không dấu, chữ số, '_', '-', '.'"
    if set(code) == {"."}:
        return f"mã đơn vị '{code}' không được chỉ gồm dấu chấm"
    if ".." in code:
        return f"mã đơn vị '{code}' không được chứa '..'"
    if code.split(".")[0].upper() in _WINDOWS_RESERVED:
        return f"mã đơn vị '{code}' trùng tên dành riêng của Windows, không dùng làm tên tệp được"
    return None


def _check(rows: Iterable[dict], where: Sequence[str]) -> tuple[list[Unit], list[str]]:
    """Units built from `rows` and the problems found; `where[i]` names row i ("dòng 5").

    `rows` may be a stream: each row is cleaned, turned into a Unit and dropped, so a national
    units file is never held as a list of dicts. `where` is read only where a problem is named,
    and may fill as the stream advances (the CSV reader's does)."""
    if isinstance(rows, Sized) and len(rows) != len(where):
        raise ValueError("rows and where must have the same length")
    problems: list[str] = []
    units: list[Unit] = []
    first: dict[str, int] = {}                  # code -> index of its first row
    again: dict[str, list[int]] = {}            # code -> its later rows (duplicates only)

    for i, raw in enumerate(rows):
        row = _clean_row(raw)
        code, name, parent = row.get("code", ""), row.get("name", ""), row.get("parent", "")
        if not code:
            problems.append(f"{_cap(where[i])}: thiếu mã đơn vị" + (f" (đơn vị '{name}')" if name else ""))
            continue
        bad = _code_problem(code)
        if bad:
            problems.append(f"{_cap(where[i])}: {bad}")
        if not name:
            problems.append(f"{_cap(where[i])}: thiếu tên đơn vị '{code}'")
        if parent == code:
            problems.append(f"{_cap(where[i])}: đơn vị '{code}' lại là đơn vị cấp trên của chính nó")
        # Interned: a parent's code and a unit's own code become one string, and the few level,
        # place and issuer names are stored once, whatever the size of the tree.
        code = sys.intern(code)
        if code in first:
            again.setdefault(code, []).append(i)
        else:
            first[code] = i
        units.append(Unit(code=code, name=name, parent=sys.intern(parent) if parent else None,
                          **{k: sys.intern(row.get(k) or "") for k in OPTIONAL}))

    if not units and not problems:
        problems.append("Danh sách đơn vị trống")

    for code in sorted(again, key=first.__getitem__):
        rows_of = [where[i] for i in (first[code], *again[code])]
        problems.append(f"Mã đơn vị '{code}' bị trùng ở {_and(rows_of)}")

    folded: dict[str, str] = {}                 # casefolded code -> the first code folding to it
    clash: dict[str, list[str]] = {}            # casefolded code -> every code folding to it
    for code in first:
        f = code.casefold()
        if f not in folded:
            folded[f] = code
        else:
            clash.setdefault(f, [folded[f]]).append(code)
    for codes in sorted(clash.values(), key=lambda cs: first[cs[0]]):
        listed = _and([f"'{c}' ({where[first[c]]})" for c in codes])
        problems.append(f"Các mã đơn vị {listed} chỉ khác nhau chữ hoa, chữ thường; "
                        "tên tệp của chúng sẽ trùng nhau trên Windows")
    del folded

    # The tree checks look at each code's first row; later duplicates are reported above.
    parent_of: dict[str, str] = {}
    roots: list[str] = []
    seen: set[str] = set()
    for u in units:
        if u.code in seen:
            continue
        seen.add(u.code)
        if u.merged_into and u.parent is None:
            continue                        # a former unit needs no place in today's tree
        if u.parent is None:
            roots.append(u.code)
        elif u.parent == u.code:
            pass                                        # reported above
        elif u.parent not in first:
            problems.append(f"{_cap(where[first[u.code]])}: đơn vị cấp trên '{u.parent}' "
                            "không có trong danh sách")
        else:
            parent_of[u.code] = u.parent
    del seen

    problems.extend(_merge_problems(units, first, where))

    for cycle in _cycles(parent_of, first):
        chain = " → ".join(cycle + cycle[:1])
        problems.append(f"Vòng lặp cấp trên: {chain} ({_compact([where[first[c]] for c in cycle])})")

    if units and not roots:
        problems.append("Không có đơn vị gốc (đơn vị không có đơn vị cấp trên); phải có đúng một")
    elif len(roots) > 1:
        listed = ", ".join(f"{where[first[c]]} ({c})" for c in roots)
        problems.append(f"Có {len(roots)} đơn vị gốc (không có đơn vị cấp trên): {listed}; "
                        "chỉ được có một")
    return units, problems


def _merge_problems(units: list[Unit], first: dict[str, int], where: Sequence[str]) -> list[str]:
    """A merge must lead, through any chain of merges, to a unit that still exists."""
    from .periods import parse_period

    into = {u.code: u.merged_into for u in units if u.merged_into}
    out = []
    for u in units:
        if not u.merged_into or first.get(u.code) is None:
            continue
        at = _cap(where[first[u.code]])
        if u.merged_into == u.code:
            out.append(f"{at}: đơn vị '{u.code}' sáp nhập vào chính nó")
            continue
        if u.merged_into not in first:
            out.append(f"{at}: đơn vị '{u.code}' sáp nhập vào '{u.merged_into}', mã này không có trong danh sách")
            continue
        code, seen = u.code, set()
        while code in into and code not in seen:
            seen.add(code)
            code = into[code]
        if code in seen:
            out.append(f"{at}: sáp nhập vòng quanh bắt đầu từ đơn vị '{u.code}'")
        if u.merged_from:
            try:
                parse_period(u.merged_from)
            except ValueError:
                out.append(f"{at}: kỳ bắt đầu sáp nhập '{u.merged_from}' của đơn vị '{u.code}' không hợp lệ "
                           "(ví dụ: 2025, 2025-H2)")
    return out


def _cycles(parent_of: dict[str, str], order: dict[str, int]) -> list[list[str]]:
    """Each cycle once, starting at its unit that comes first in the file."""
    state: dict[str, int] = {}          # 1 = on the current path, 2 = done
    found: list[list[str]] = []
    for start in sorted(parent_of, key=order.__getitem__):
        path: list[str] = []
        c: str | None = start
        while c is not None and c not in state:
            state[c] = 1
            path.append(c)
            c = parent_of.get(c)
        if c is not None and state[c] == 1:
            cycle = path[path.index(c):]
            k = min(range(len(cycle)), key=lambda j: order[cycle[j]])
            found.append(cycle[k:] + cycle[:k])
        for p in path:
            state[p] = 2
    return sorted(found, key=lambda cy: order[cy[0]])


def units_from_rows(rows: Iterable[dict], where: Sequence[str]) -> UnitTree:
    """Check rows (dicts with keys code, name, parent, [level, place, issuer, signer, contact])
    and build the tree; `where[i]` says where row i came from ("dòng 5", "mục 3").

    Keys are matched case-insensitively, values trimmed and NFC-normalised. Raises
    `UnitsFileError` listing every problem at once.
    """
    units, problems = _check(rows, where)
    if problems:
        raise UnitsFileError(problems)
    return UnitTree(units)


# ---------------------------------------------------------------- files

def load_units(path: str | PathLike) -> UnitTree:
    """Read a units file: `.csv` (UTF-8, with or without BOM; comma, semicolon or tab)
    or `.yaml`/`.yml` (a list of mappings, or a mapping with key `units:`)."""
    path = Path(path)
    try:
        return _load_units(path)
    except UnitsFileError as e:
        if not e.source:
            e.source = str(path)
        raise


def unknown_codes(units_file: str | PathLike, codes: Iterable[str]) -> list[str]:
    """The codes a units file does not know, current or former (a typo in a command); [] when the
    file cannot be read (whatever reads it next says why)."""
    try:
        tree = load_units(units_file)
    except (UnitsFileError, OSError):
        return []
    return [c for c in codes if c not in tree and c not in tree.former]


def _load_units(path: Path) -> UnitTree:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _load_csv(path)
    if suffix in (".yaml", ".yml"):
        rows, where, problems = _read_yaml(path)
    else:
        raise UnitsFileError([f"Tệp danh sách đơn vị '{path.name}' phải là .csv, .yaml hoặc .yml"])
    if problems:
        raise UnitsFileError(problems)
    return units_from_rows(rows, where)


class _LineNames(Sequence[str]):
    """`where` for a CSV: row i is "dòng N", N its first line in the file. Line numbers are
    held as 4-byte ints and worded only when a problem names them."""

    def __init__(self) -> None:
        self.lines = array("i")

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        return f"dòng {self.lines[i]}"


def _load_csv(path: Path) -> UnitTree:
    """The CSV streamed through the checks: a national units file has tens of thousands of
    rows, and neither the text nor a list of row dicts is kept while the tree is built."""
    where = _LineNames()
    header: list[str] = []

    def rows(reader) -> Iterator[dict]:
        for rec in reader:
            if not any(c.strip() for c in rec):
                continue                                   # blank line: skipped, still counted
            if not header:
                header.extend(_clean(h).lower() for h in rec)
                missing = [c for c in REQUIRED if c not in header]
                if missing:
                    cols = ", ".join(f"'{c}'" for c in missing)
                    raise UnitsFileError([f"Dòng {reader.line_num} (tiêu đề): thiếu cột {cols}; "
                                          "cần các cột code, name, parent"])
                continue
            where.lines.append(reader.line_num)
            yield dict(zip(header, rec))

    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            delimiter = _delimiter(f)
            units, problems = _check(rows(csv.reader(f, delimiter=delimiter)), where)
    except UnicodeDecodeError:
        raise UnitsFileError([f"Tệp '{path.name}' không phải mã UTF-8; hãy lưu lại dạng 'CSV UTF-8'"]) from None
    if not header:
        raise UnitsFileError([f"Tệp '{path.name}' không có dòng tiêu đề và không có đơn vị nào"])
    if problems:
        raise UnitsFileError(problems)
    return UnitTree(units)


def _delimiter(f) -> str:
    """',' by default; ';' or tab when that is what splits the header into a 'code' column
    (Excel in a Vietnamese locale saves CSV with ';'). Leaves `f` at its start."""
    first = next((line for line in f if line.strip()), "").rstrip("\r\n")
    f.seek(0)
    for d in (",", ";", "\t"):
        if "code" in (_clean(h).lower() for h in next(csv.reader([first], delimiter=d))):
            return d
    return ","


class _TextLoader(yaml.SafeLoader):
    """Safe YAML where every scalar stays text (codes like 001, 1.10, NO, 2024-01-01)
    and only null/~/empty means "nothing"."""


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_yaml(path: Path) -> tuple[list[dict], list[str], list[str]]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_TextLoader)  # noqa: S506
    except UnicodeDecodeError:
        return [], [], [f"Tệp '{path.name}' không phải mã UTF-8"]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" ở dòng {mark.line + 1}" if mark is not None else ""
        return [], [], [f"Tệp '{path.name}' không phải YAML hợp lệ{at}"]
    if isinstance(data, dict):
        key = next((k for k in data if _clean(k).lower() == "units"), None)
        if key is None:
            return [], [], [f"Tệp '{path.name}': cần một danh sách đơn vị, hoặc khóa 'units:' chứa danh sách đó"]
        data = data[key]
    if data is None:
        data = []
    if not isinstance(data, list):
        return [], [], [f"Tệp '{path.name}': 'units' phải là một danh sách đơn vị"]
    rows, where, problems = [], [], []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            problems.append(f"Mục {n}: không phải một đơn vị (cần các khóa code, name, parent)")
            continue
        rows.append(item)
        where.append(f"mục {n}")
    if problems:                       # report the shape problems with the tree's own
        _, more = _check(rows, where)
        problems += more
    return rows, where, problems


def write_units_csv(tree: UnitTree, path: str | PathLike) -> None:
    """Write `tree` as a units CSV (UTF-8 with BOM so Excel shows Vietnamese right),
    all columns, units in the tree's own order; `load_units` reads it back unchanged."""
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for u in tree._given or tree.units.values():          # former units too, with their parents as written
            w.writerow([u.code, u.name, u.parent or "", *(getattr(u, k) for k in OPTIONAL)])

