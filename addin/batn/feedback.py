"""Feedback packages (`batn phan-hoi`): for each unit whose report must be fixed, a folder with the
coloured copy of its file and a short message in Vietnamese, ready to paste into Zalo or e-mail,
listing each problem with its sheet, cell, indicator and how to fix it (the `fix` of each finding
kind in templates/messages.yaml); e-mailed when the run configuration has a mail server.

A unit needs feedback when the level above sent its report back (`batn tra-lai`), or when its
newest file still has lỗi and is not approved. The newest file is re-read from the ledger's
archive, so the package shows exactly what was received.
"""
from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from . import review as R
from .findings import _kinds
from .model import Severity

__all__ = ["Package", "write_feedback", "feedback_text"]


@dataclass
class Package:
    unit: str
    state: str
    folder: Path
    message_file: Path
    annotated: Path | None
    problems: int
    text: str
    sha256: str = ""               # the file the feedback is about: a package is mailed once per file


def _where(f, numbers, catalogue) -> str:
    parts = []
    if f.cell and "!" in f.cell:
        sheet, cell = f.cell.rsplit("!", 1)
        parts.append(f"Trang “{sheet}”, ô {cell}")
    if f.indicator and f.indicator in catalogue:
        stt = numbers.get(f.indicator)
        parts.append((f"mục {stt} " if stt else "") + f"“{catalogue[f.indicator].label}”")
    return ", ".join(parts) or "Cả tệp"


def _said_once(f, catalogue) -> str:
    """The finding's message without the indicator's name in front: `_where` has named it already."""
    if f.indicator and f.indicator in catalogue:
        head = f"“{catalogue[f.indicator].label}”: "
        if f.message.startswith(head):
            return f.message[len(head):]
    return f.message


def feedback_text(unit_name: str, issuer_name: str, period_label: str, file: str, received: str,
                  reason: str, findings, catalogue, annotated: str | None, deadline: str = "") -> str:
    """The message to the unit (templates/phan_hoi.txt.j2, which a province may reword)."""
    import jinja2

    from .resources import templates_dir
    from .tables import indicator_numbers

    kinds = _kinds()
    numbers = indicator_numbers(catalogue)
    ordered = sorted(findings, key=lambda f: f.severity != Severity.ERROR)
    problems = [{"where": _where(f, numbers, catalogue), "message": _said_once(f, catalogue).rstrip("."),
                 "fix": kinds.get(f.kind, {}).get("fix", "")} for f in ordered]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=False,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    return env.get_template("phan_hoi.txt.j2").render(
        unit_name=unit_name, issuer_name=issuer_name, period_label=period_label, file=file, received=received,
        reason=reason, problems=problems, annotated=annotated, deadline=deadline)


def write_feedback(cfg, period_id: str, out_dir: str | Path, *, send: bool = True,
                   log: Callable[[str], None] = print) -> tuple[list[Package], int, int]:
    """One package per unit that must act; returns (packages, e-mails sent, e-mails failed)."""
    from .catalogue import load_catalogue
    from .checks import check_submission
    from .ledger import PAST_STATUS, Ledger
    from .pipeline import FileCheck, annotate_file, load_period
    from .rollup import expectation_for
    from .textsafe import shown
    from .units import load_units
    from .xlsx.reader import read_submission

    catalogue = load_catalogue(cfg.catalogue)
    period = load_period(period_id, cfg.period_file)
    tree = load_units(cfg.units)
    expect = expectation_for(tree, catalogue, period)
    out_dir = Path(out_dir)
    packages: list[Package] = []
    with Ledger(cfg.ledger, cfg.archive) as led:
        latest = {}
        for s in led.submissions(period=period_id):
            if s.status != PAST_STATUS and s.unit:
                latest[s.unit] = s                      # ordered by time received: the last one wins
        events = [R.ReviewEvent(*e) for e in led.reviews(period_id)]
        states = R.reviews_by_unit({u: s.sha256 for u, s in latest.items()}, events)
        root = tree[cfg.root or tree.root]
        for unit, sub_row in sorted(latest.items()):
            review = states[unit]
            if not (review.state == R.SENT_BACK or (sub_row.errors and review.state != R.APPROVED)):
                continue
            copy = led.archived(sub_row.sha256)
            folder = out_dir / unit
            folder.mkdir(parents=True, exist_ok=True)
            findings, annotated = [], None
            if copy is not None and copy.is_file():
                sub = read_submission(copy, catalogue)
                findings = [f for f in check_submission(sub, catalogue, expect)]
                name = Path(shown(sub_row.source)).name
                stem = name.rsplit(".", 1)[0] if "." in name else name
                if copy.suffix.lower() in (".xlsx", ".xlsm"):
                    annotated = annotate_file(FileCheck(copy, sub, findings), folder / f"{stem}.kiem-tra.xlsx")
            name = tree[unit].name if unit in tree else (sub_row.unit_name or unit)
            reason = review.last.reason if review.state == R.SENT_BACK and review.last else ""
            text = feedback_text(name, root.name, period.label, Path(shown(sub_row.source)).name,
                                 f"{datetime.fromtimestamp(sub_row.received):%H:%M ngày %d/%m/%Y}", reason,
                                 [f for f in findings if f.kind != "skipped-file"], catalogue,
                                 annotated.name if annotated else None)
            message_file = folder / "tin_nhan.txt"
            message_file.write_text(text, encoding="utf-8")
            packages.append(Package(unit, review.state, folder, message_file, annotated,
                                    len(findings), text, sub_row.sha256))
        sent = failed = 0
        if send and cfg.reminders.email:
            sent, failed = _mail(packages, tree, cfg.reminders, led, period_id, period.label, log)
    return packages, sent, failed


def _mail(packages: list[Package], tree, settings, led, period_id: str, period_label: str, log) -> tuple[int, int]:
    """E-mail each package to the unit's addresses (its `contact`), once per file and address."""
    from .reminders import _EMAIL

    from .reminders import Outgoing, deliver

    todo = []
    for p in packages:
        contact = tree[p.unit].contact if p.unit in tree else ""
        addresses = _EMAIL.findall(contact or "")
        if not addresses:
            log(f"Không gửi được phản hồi cho {p.unit}: chưa có địa chỉ thư trong cột contact")
            continue
        todo += [Outgoing(p.unit, f"phan-hoi {p.state} {p.sha256[:16]}", a, "-",
                          lambda p=p, a=a: _package_mail(settings, p, a, period_label)) for a in addresses]
    return deliver(settings, todo, led, period_id, log)


def _package_mail(settings, p: Package, addr: str, period_label: str):
    from .reminders import _message

    m = _message(settings, addr, f"Phản hồi báo cáo {period_label}", p.text)
    if p.annotated is not None:
        ctype = mimetypes.guess_type(p.annotated.name)[0] or "application/octet-stream"
        main, sub = ctype.split("/", 1)
        m.add_attachment(p.annotated.read_bytes(), maintype=main, subtype=sub, filename=p.annotated.name)
    return m
