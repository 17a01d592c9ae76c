"""Text from outside made safe for every writer: file names, unit names, contacts, messages.

Three jobs, one place (every writer calls these; none has its own version):

- `shown(name)`: a file name or path as a clerk can read and find it. Whatever the bytes on disk
  (not UTF-8, a newline, a tab, an escape sequence, a right-to-left override), the result is one
  printable line with visible escapes: a byte that is not UTF-8 as ``\\xff``, a control character
  as ``\\n``, ``\\t`` or ``\\x1b``, an invisible or direction-changing character as ``\\u202e``.
  NFC, stable, and enough to find the file (`ls -b` on Linux shows the same escapes).
  A backslash is left as it is, so a Windows path reads as usual.
- `clean(text)`: any text a writer puts into a terminal, JSON, CSV, e-mail, xlsx, docx, Google
  Sheets: what none of them can carry (lone surrogates, the control characters XML 1.0 refuses,
  C1 controls a terminal obeys) becomes the same visible escapes; line breaks and tabs stay.
  `xml_text(text)` is `clean` with XML's &, < and > escaped, for the xlsx parts batn writes itself
  (batn.xlsx.rowstream, batn.xlsx.stamp).
- `inert(value)`: a cell for a CSV file, a Google Sheets USER_ENTERED write or an Excel COM write:
  text that a spreadsheet would run as a formula (it starts with = + - @, a tab or a carriage
  return; OWASP "CSV Injection") gets a leading apostrophe, which Excel, LibreOffice and Google
  keep as text and do not show. The xlsx writers need no apostrophe: they write text as a string
  cell (openpyxl with data_type "s", batn.xlsx.rowstream as an inline string), never as a formula;
  Google writes with valueInputOption RAW need none either (it would become part of the text).

And for the ledger, which must remember the real path of a file whose name is not UTF-8:
`stored(name)` gives what SQLite can hold (the text, or the file system's bytes), `unstored`
turns it back into the path.

Plain logic: standard library only.
"""
from __future__ import annotations

import os
import re
import unicodedata
from typing import Any

__all__ = ["shown", "clean", "xml_text", "inert", "json_ready", "stored", "unstored", "FORMULA_STARTS"]

# Starts that make a spreadsheet run a cell (OWASP), with their full-width forms (an IME types them).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

_POSIX = os.name != "nt"
# Lone surrogates; C0 controls but tab, line feed, carriage return; DEL and C1; XML's non-characters.
_UNCARRIABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
_HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}      # control, format (bidi, zero width), surrogate, separators


def _escape(ch: str) -> str:
    n = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if 0xDC80 <= n <= 0xDCFF and _POSIX:        # a byte that is not UTF-8, as os.fsdecode keeps it
        return f"\\x{n - 0xDC00:02x}"
    if n < 0x80:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n <= 0xFFFF else f"\\U{n:08x}"


def _hidden(ch: str) -> bool:
    return unicodedata.category(ch) in _HIDDEN or ch in "\ufffe\uffff"


def shown(name: object) -> str:
    """A file name or path (str, bytes or os.PathLike) as one printable line with visible escapes, NFC."""
    if name is None:
        return ""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    text = str(name)
    if text.isprintable() and text.isascii():
        return text
    text = "".join(_escape(c) if _hidden(c) else c for c in text)
    return unicodedata.normalize("NFC", text)


def clean(text: object) -> str:
    """Text any writer can carry: lone surrogates and control characters (but tab and line breaks)
    as visible escapes. Other text is returned unchanged."""
    text = "" if text is None else str(text)
    if not _UNCARRIABLE.search(text):
        return text
    return _UNCARRIABLE.sub(lambda m: _escape(m.group()), text)


def xml_text(text: object) -> str:
    """`clean(text)` as XML character data (what xml.sax.saxutils.escape gives, without importing
    it: that module loads urllib.request, http.client and ssl, 20 ms of every consolidation)."""
    return clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inert(value: Any) -> Any:
    """A cell value that a CSV file, a USER_ENTERED write or Excel COM keeps as the text it is.
    Numbers, dates and None pass unchanged."""
    if not isinstance(value, str):
        return value
    value = clean(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def json_ready(data: Any) -> Any:
    """`data` (dicts, lists, tuples) with every string cleaned: json.dumps(ensure_ascii=False) of it
    can be printed or encoded as UTF-8 whatever file names it holds."""
    if isinstance(data, str):
        return clean(data)
    if isinstance(data, dict):
        return {json_ready(k): json_ready(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_ready(v) for v in data]
    if isinstance(data, os.PathLike):
        return clean(os.fspath(data))
    return data


def stored(name: object) -> str | bytes:
    """What the ledger keeps for a path: the text when it is valid UTF-8, otherwise the file
    system's bytes (an SQLite BLOB), so the real file can still be found and opened."""
    text = os.fspath(name) if isinstance(name, os.PathLike) else str(name)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(text)
    except UnicodeEncodeError:            # a surrogate that no file system gave us: keep it readable
        return shown(text)


def unstored(value: object) -> str:
    """The path `stored` kept."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return os.fsdecode(bytes(value))
    return "" if value is None else str(value)
