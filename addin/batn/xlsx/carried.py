"""The copy of its catalogue every batn workbook carries, read back: a very hidden sheet holding the
catalogue as JSON (BATN_CATALOG_DATA), and two constant defined names, BATN_CATALOG_VERSION and
BATN_CATALOG_HASH, beside BATN_CATALOG (its id). Written by xlsx.catalogue_book.embed_catalogue.

The reader comes here for every received file; this module loads no openpyxl, so the reader
processes start without it (startup.load_reader).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..catalogue import CatalogueError, catalogue_from_dict
from ..model import Catalogue

CATALOG_SHEET = "batn-bo-chi-tieu"
NAME_VERSION = "BATN_CATALOG_VERSION"
NAME_HASH = "BATN_CATALOG_HASH"
NAME_DATA = "BATN_CATALOG_DATA"
CHUNK = 30000               # characters a cell holds (Excel: 32,767)
MARK = "batn:"              # so no chunk can read as a formula
MAX_EMBEDDED = 2_000_000    # characters of a carried catalogue we ever parse


def name_constant(names: dict[str, str], key: str) -> str:
    """The text of a constant defined name ('"2024.1"' or '="2024.1"' -> 2024.1); "" when absent."""
    ref = (names.get(key) or "").strip()
    if ref.startswith("="):
        ref = ref[1:]
    if len(ref) >= 2 and ref[0] == ref[-1] == '"':
        return ref[1:-1].replace('""', '"')
    return ""


def catalogue_from_text(chunks: list[object], where: str) -> Catalogue | None:
    """The carried catalogue from its cells' text; None when there is none or it cannot be used."""
    parts = [str(c)[len(MARK):] for c in chunks if isinstance(c, str) and c.startswith(MARK)]
    text = "".join(parts)
    if not text or len(text) > MAX_EMBEDDED:
        return None
    try:
        data = json.loads(text)
        return catalogue_from_dict(data, where=where)
    except (ValueError, CatalogueError, TypeError, KeyError, AttributeError):
        return None


def embedded_from_grid(grid, names: dict[str, str], where: str) -> Catalogue | None:
    """The catalogue a workbook carries, read through the reader's grid (a file or an open book)."""
    from .reader import Target, parse_ref

    t = parse_ref(names.get(NAME_DATA, ""))
    if t is None or t.row2 - t.row > MAX_EMBEDDED // CHUNK:
        return None
    cells = [grid.value(Target(t.sheet, t.col, r, t.col, r)) for r in range(t.row, t.row2 + 1)]
    return catalogue_from_text(cells, where)


def file_catalogue(sub, grid, names: dict[str, str]) -> Catalogue | None:
    """The catalogue a file was made from, for a reader told no catalogue: the one its hash names
    if batn knows it, else the copy the file carries, else the shipped catalogue of its id."""
    from ..catalogue import _by_digest, load_catalogue

    digest = name_constant(names, NAME_HASH)
    if digest:
        sub.meta_cells[NAME_HASH] = digest
        if digest in _by_digest:
            return _by_digest[digest]
    if NAME_DATA in names:
        cat = embedded_from_grid(grid, names, f"{sub.source} (bộ chỉ tiêu kèm trong tệp)")
        if cat is not None and (not sub.catalogue or cat.id == sub.catalogue):
            return cat
    try:
        return load_catalogue(sub.catalogue) if sub.catalogue else None
    except CatalogueError:
        return None


def flag_version(sub, names: dict[str, str], cat: Catalogue) -> None:
    """A file of another version of `cat` (same id, other hash): its figures are read where the
    codes match; the codes it lacks are blank and named in one cảnh báo (not a lỗi per code), and
    so are the codes it has that `cat` does not."""
    from ..findings import finding
    from ..rulelang import VALID_CODE
    from ..model import Severity as S

    digest = name_constant(names, NAME_HASH)
    if digest:
        sub.meta_cells[NAME_HASH] = digest
    if not digest or not cat.digest or digest == cat.digest:
        return
    missing = [f.indicator for f in sub.findings if f.kind == "missing-name"]
    sub.findings[:] = [f for f in sub.findings if f.kind != "missing-name"]
    extra = [n for n in names if VALID_CODE.match(n) and not n.startswith("BATN_") and n not in cat]
    version = name_constant(names, NAME_VERSION)

    def show(codes: list[str]) -> str:
        return ", ".join(codes[:8]) + (f" và {len(codes) - 8} mã khác" if len(codes) > 8 else "")
    sub.findings.append(finding(
        "catalogue-version", severity=S.WARNING, file=sub.source, unit=sub.unit, cell=sub.meta_cells.get("BATN_CATALOG", ""),
        catalog=cat.id, found=f"phiên bản {version or '?'}, mã nội dung {digest[:8]}",
        expected=f"phiên bản {cat.version or '?'}, mã nội dung {cat.digest[:8]}",
        missing=f"; tệp không có {len(missing)} chỉ tiêu (để trống): {show(missing)}" if missing else "",
        extra=f"; tệp có {len(extra)} chỉ tiêu không thuộc bộ đang dùng (không tổng hợp): {show(extra)}" if extra else ""))


def embedded_catalogue(path: str | Path) -> Catalogue | None:
    """The catalogue carried by the batn workbook at `path` (a template or a consolidated workbook)."""
    from python_calamine import CalamineWorkbook

    from .package import open_package

    path = Path(path)
    try:
        names = open_package(path).names
        if NAME_DATA not in names:
            return None
        from .reader import Grid

        return embedded_from_grid(Grid(CalamineWorkbook.from_path(str(path)), {CATALOG_SHEET: 100}), names,
                                  f"{path} (bộ chỉ tiêu kèm trong tệp)")
    except Exception:
        return None
