"""Print settings of a sheet meant to be read on paper: A4, orientation, scaling, print area,
the rows and columns repeated on every page, header and footer.

Written as the sheet's own pageSetup / headerFooter and the workbook's _xlnm.Print_Area and
_xlnm.Print_Titles names, which Excel, LibreOffice and WPS all honour."""
from __future__ import annotations

import math
from dataclasses import dataclass

# Column-width units (Excel's "characters") across A4 at 100% with the margins below, as LibreOffice
# lays them out (measured: it gives a unit about 2.5 mm; Excel a little less, so it fits more).
A4_PORTRAIT_CHARS = 72
A4_LANDSCAPE_CHARS = 106
MIN_SCALE = 55              # below this a figure cannot be read; the sheet takes more pages across instead


@dataclass(frozen=True)
class PageText:
    """What every page says: the unit on the left of the header, the period on the right; the sheet
    on the left of the footer, the page number on the right."""

    unit: str
    period: str


def _hf(text: str) -> str:
    return text.replace("&", "&&")          # "&" starts a header/footer code


def print_setup(ws, *, landscape: bool = False, fit_width: bool = True, scale: int | None = None,
                area: str | None = None, title_rows: str | None = None, title_cols: str | None = None,
                page: PageText | None = None, first_page_header: bool = True) -> None:
    """A4 print settings for `ws`. `fit_width`: one page across, as many down as needed; otherwise
    `scale` (percent). `first_page_header=False` leaves the header off page 1 (a cover carries its own)."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    if fit_width:
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.page_setup.scale = None
    else:
        ws.sheet_properties.pageSetUpPr.fitToPage = False
        ws.page_setup.scale = scale or 100
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.65
    ws.page_margins.header = ws.page_margins.footer = 0.3
    ws.print_options.horizontalCentered = True
    if area:
        ws.print_area = area
    if title_rows:
        ws.print_title_rows = title_rows
    if title_cols:
        ws.print_title_cols = title_cols
    if page is not None:
        for hf in (ws.oddHeader, ws.firstHeader) if first_page_header else (ws.oddHeader,):
            hf.left.text, hf.right.text = _hf(page.unit), _hf(page.period)
            hf.left.size = hf.right.size = 9
        for hf in (ws.oddFooter, ws.firstFooter):
            hf.left.text, hf.right.text = _hf(ws.title), "Trang &P/&N"
            hf.left.size = hf.right.size = 9
        if not first_page_header:
            ws.HeaderFooter.differentFirst = True


def across(title_chars: float, widths: list[float], landscape: bool = True) -> tuple[int, int]:
    """(pages across, scale) for columns of `widths` beside `title_chars` of title columns repeated
    on every page: one page when they fit at MIN_SCALE or more, else the fewest pages that do."""
    page = A4_LANDSCAPE_CHARS if landscape else A4_PORTRAIT_CHARS
    total = sum(widths)
    if not widths or scale_for(title_chars + total, landscape) > MIN_SCALE:
        return 1, scale_for(title_chars + total, landscape)
    room = page * 100 / MIN_SCALE - title_chars
    pages, widest = _pack(widths, room)
    even = _pack(widths, min(room, total / pages + max(widths)))      # the same pages, evened out
    if even[0] <= pages:
        widest = even[1]
    return pages, scale_for(title_chars + widest, landscape)


def _pack(widths: list[float], room: float) -> tuple[int, float]:
    """(pages, widest page) when columns go page by page, each page holding up to `room`."""
    pages, widest, cur = 1, 0.0, 0.0
    for w in widths:
        if cur and cur + w > room:
            pages, widest, cur = pages + 1, max(widest, cur), 0.0
        cur += w
    return pages, max(widest, cur)


def scale_for(width_chars: float, landscape: bool) -> int:
    """The largest scale (percent, at most 100, at least MIN_SCALE) at which `width_chars` of
    columns fit one page across."""
    page = A4_LANDSCAPE_CHARS if landscape else A4_PORTRAIT_CHARS
    return max(MIN_SCALE, min(100, int(100 * page / max(width_chars, 1))))
