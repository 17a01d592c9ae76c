"""Plain-text and Markdown renderings of a `ReportDocument`.

The plain text imitates the typed report (seed 002): the header in two
columns padded with spaces, the title and subject centred, one body block per
line, then the recipients on the left and the signature on the right.
Markdown keeps the same order with `##`/`###`/`####` headings.

Neither writer adds "./." — the caller ends the last paragraph with it.
Output is NFC-normalised; files are UTF-8 with "\\n" line ends.
"""
from __future__ import annotations

import textwrap
import unicodedata
from pathlib import Path

from ..textsafe import clean
from .document import ReportDocument

# Plain-text page: left column, gap, right column (characters).
LEFT_WIDTH = 36
GAP = 4
RIGHT_WIDTH = 44
PAGE_WIDTH = LEFT_WIDTH + GAP + RIGHT_WIDTH

TITLE_RULE = "-----"
STARS = "***"
RECIPIENTS_LABEL = "Nơi nhận:"
MARKDOWN_SUFFIXES = (".md", ".markdown")
SIGNATURE_BLANK_LINES = 3

_MD_HEADINGS = {"heading1": "## ", "heading2": "### ", "heading3": "#### "}


def nfc(text: str) -> str:
    """NFC text both report writers can carry (batn.textsafe.clean: a control character from the
    units file, which .docx XML refuses, is shown escaped)."""
    return unicodedata.normalize("NFC", clean(text))


def format_recipients(items: list[str]) -> list[str]:
    """Recipient lines as the Đoàn writes them: "- x;" … and the last "- y."

    Whatever punctuation or leading dash an item already carries is dropped
    first, so "- Lưu VP." and "Lưu VP" both give "- Lưu VP.".
    """
    cleaned = []
    for item in items:
        text = item.strip()
        if text.startswith(("- ", "+ ")):
            text = text[2:].strip()
        text = text.rstrip(" ;.,")
        if text:
            cleaned.append(text)
    return [f"- {t}{'.' if i == len(cleaned) - 1 else ';'}" for i, t in enumerate(cleaned)]


def subject_lines(doc: ReportDocument) -> list[str]:
    return [line.strip() for line in doc.subject.split("\n") if line.strip()]


def signature_lines(doc: ReportDocument, blank_lines: int = SIGNATURE_BLANK_LINES) -> list[str]:
    """Right-hand signature block; "" stands for an empty line."""
    lines = [t.upper() for t in (doc.sign_on_behalf, doc.sign_title) if t.strip()]
    if doc.signer.strip():
        lines += [""] * blank_lines + [doc.signer.strip()]
    return lines


def header_columns(doc: ReportDocument) -> tuple[list[str], list[str], str, str]:
    """(left names, right names, number, place_date) of the header table."""
    left = [t.upper() for t in (doc.superior, doc.issuer) if t.strip()] + [STARS]
    right = [doc.organisation.upper()] if doc.organisation.strip() else []
    return left, right, doc.number.strip(), doc.place_date.strip()


# --------------------------------------------------------------------------
# plain text

def _centre(text: str, width: int) -> str:
    text = nfc(text)
    if len(text) >= width:
        return text
    pad = (width - len(text)) // 2
    return " " * pad + text + " " * (width - len(text) - pad)


def _two_columns(left: list[str], right: list[str]) -> list[str]:
    rows = max(len(left), len(right))
    left = left + [""] * (rows - len(left))
    right = right + [""] * (rows - len(right))
    out = []
    for lt, rt in zip(left, right):
        line = lt + " " * (LEFT_WIDTH - len(lt)) if len(lt) < LEFT_WIDTH else lt + " "
        out.append((line + " " * GAP + rt).rstrip())
    return out


def _plain_header(doc: ReportDocument) -> list[str]:
    left, right, number, place_date = header_columns(doc)
    # Names on top; the number and the date share the last line.
    if len(right) < len(left):
        right = right + [""] * (len(left) - len(right))
    left_col = [_centre(t, LEFT_WIDTH) for t in left]
    right_col = [_centre(t, RIGHT_WIDTH) if t else "" for t in right]
    lines = _two_columns(left_col, right_col)
    lines += _two_columns([_centre(number, LEFT_WIDTH) if number else ""],
                          [_centre(place_date, RIGHT_WIDTH) if place_date else ""])
    return lines


def _plain_title(doc: ReportDocument) -> list[str]:
    lines = [_centre(doc.title.upper(), PAGE_WIDTH).rstrip()]
    lines += [_centre(s, PAGE_WIDTH).rstrip() for s in subject_lines(doc)]
    lines.append(_centre(TITLE_RULE, PAGE_WIDTH).rstrip())
    return lines


def _plain_body(doc: ReportDocument) -> list[str]:
    return [b.text.upper() if b.kind == "heading1" else b.text for b in doc.body]


def _wrap(item: str, width: int) -> list[str]:
    """A recipient line folded inside the left column, continuation lines under its text."""
    return textwrap.wrap(nfc(item), width=width, subsequent_indent="  ", break_long_words=False) or [""]


def _plain_signature(doc: ReportDocument) -> list[str]:
    """Recipients folded to the left column, so the signature block stays in its own column."""
    recipients = format_recipients(doc.recipients)
    left = ([RECIPIENTS_LABEL] + [line for r in recipients for line in _wrap(r, LEFT_WIDTH)]) if recipients else []
    right = [_centre(t, RIGHT_WIDTH) if t else "" for t in signature_lines(doc)]
    return _two_columns(left, right)


def _md_escape(text: str) -> str:
    return text.replace("*", r"\*").replace("|", r"\|")


def _markdown(doc: ReportDocument) -> list[str]:
    # Header as a two-column pipe table; the number and the date share the last row.
    left = []
    if doc.superior.strip():
        left.append(_md_escape(doc.superior.upper()))
    if doc.issuer.strip():
        left.append(f"**{_md_escape(doc.issuer.upper())}**")
    left.append(_md_escape(STARS))
    right = [f"**{_md_escape(doc.organisation.upper())}**"] if doc.organisation.strip() else []
    right += [""] * (len(left) - len(right))
    left.append(_md_escape(doc.number.strip()))
    right.append(f"*{_md_escape(doc.place_date.strip())}*" if doc.place_date.strip() else "")
    out = [f"| {left[0]} | {right[0]} |", "|:---:|:---:|"]
    out += [f"| {lt} | {rt} |" for lt, rt in zip(left[1:], right[1:])]

    out += ["", f"# {doc.title.upper()}", ""]
    subj = subject_lines(doc)
    if subj:
        # Backslash hard breaks keep the subject's lines in one paragraph.
        out += ["\\\n".join(f"**{s}**" for s in subj), ""]
    out += [TITLE_RULE, ""]  # after a blank line: a thematic break, not a setext underline

    for b in doc.body:
        text = b.text.upper() if b.kind == "heading1" else b.text
        out += [_MD_HEADINGS.get(b.kind, "") + text, ""]

    sig = [s for s in signature_lines(doc) if s]
    if sig:
        out += ["\\\n".join(f"**{s}**" for s in sig), ""]
    recipients = format_recipients(doc.recipients)
    if recipients:
        out += [f"***{RECIPIENTS_LABEL}***", ""] + recipients
    return out


def render_text(doc: ReportDocument, markdown: bool = False) -> str:
    """The whole report as one NFC string ending in "\\n"."""
    if markdown:
        lines = _markdown(doc)
    else:
        lines = (_plain_header(doc) + [""] + _plain_title(doc) + [""]
                 + _plain_body(doc) + [""] + _plain_signature(doc))
    text = "\n".join(line.rstrip() for line in lines).rstrip("\n") + "\n"
    return nfc(text)


def write_text(doc: ReportDocument, path: str | Path) -> Path:
    """Write plain text, or Markdown when the suffix is .md / .markdown."""
    path = Path(path)
    markdown = path.suffix.lower() in MARKDOWN_SUFFIXES
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(render_text(doc, markdown=markdown))
    return path
