"""The one pipeline every door calls: templates, validation, consolidation, report.

The command line, the Excel buttons and the scheduled run are thin layers over
these functions. `progress` is any callable taking (done, total) so each door
can show progress its own way.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from . import layout as L
from .actions import annotation_actions
from .catalogue import catalogue_of, load_catalogue
from .checks import Expectation, check_submission
from .model import Catalogue, Figures, Finding, Narratives, Period, Submission, Unit, UnitTree
from .periods import load_period_config, parse_period
from .resources import templates_dir
from .rollup import Consolidation, consolidate, expectation_for
from .units import load_units
from .textsafe import shown
from .xlsx.reader import NOT_A_WORKBOOK, list_inbox, read_named_values, read_submission

if TYPE_CHECKING:
    from .report.context import ReportInput
    from .report.document import ReportDocument

Progress = Callable[[int, int], None]


def _noop(done: int, total: int) -> None:
    pass


def load_period(pid: str, config: str | Path | None = None) -> Period:
    cfg = load_period_config(config or templates_dir() / "periods.toml")
    return parse_period(pid, cfg)


def make_templates(catalogue: Catalogue, tree: UnitTree, period: Period, out_dir: str | Path,
                   only: str | None = None, progress: Progress = _noop, workers: int | None = None) -> list[Path]:
    """One template per unit (or only `only`), named <CODE>.xlsx; many units are stamped on every core."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    from .xlsx.stamp import TemplateStamper

    tree = tree.at(period)            # a former unit gets no template
    if only and only not in tree:
        raise KeyError(f"Mã đơn vị '{only}' không có trong danh sách đơn vị")
    codes = [only] if only else list(tree.walk())
    jobs = [(tree[c], bool(tree.children[c])) for c in codes]
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1 or len(jobs) < 500:
        stamper = TemplateStamper(catalogue, period)
        out = []
        for i, (unit, kids) in enumerate(jobs, start=1):
            out.append(stamper.write(Path(out_dir) / f"{unit.code}.xlsx", unit, has_children=kids))
            progress(i, len(jobs))
        return out
    chunks = [jobs[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as ex:
        done = 0
        for n in ex.map(_stamp_chunk, [catalogue] * workers, [period] * workers, [str(out_dir)] * workers, chunks):
            done += n
            progress(done, len(jobs))
    return [Path(out_dir) / f"{c}.xlsx" for c in codes]


def _stamp_chunk(catalogue: Catalogue, period: Period, out_dir: str, jobs) -> int:
    from .xlsx.stamp import TemplateStamper

    stamper = TemplateStamper(catalogue, period)
    for unit, kids in jobs:
        stamper.write(Path(out_dir) / f"{unit.code}.xlsx", unit, has_children=kids)
    return len(jobs)


@dataclass
class FileCheck:
    path: Path
    submission: Submission
    findings: list[Finding]


def _expand_folders(paths: Iterable[str | Path]) -> tuple[list[str | Path], list[Finding]]:
    """Files as given; a folder stands for every file in it, as in a consolidation (list_inbox)."""
    files: list[str | Path] = []
    skipped: list[Finding] = []
    for p in paths:
        if Path(p).is_dir():
            listed, notes = list_inbox(p)
            files.extend(listed)
            skipped.extend(notes)
        else:
            files.append(p)
    return files, skipped


def validate_files(paths: Iterable[str | Path], expect: Expectation = Expectation(),
                   catalogue: Catalogue | None = None, progress: Progress = _noop) -> list[FileCheck]:
    paths = list(paths)
    named = {str(p) for p in paths if not Path(p).is_dir()}
    paths, skipped = _expand_folders(paths)
    out = [FileCheck(Path(f.file), Submission("", "", "", {}, {}, source=f.file, findings=[f]), [f]) for f in skipped]
    for i, p in enumerate(paths, start=1):
        cat = catalogue or (load_catalogue(expect.catalogue) if expect.catalogue else None)
        sub = read_submission(p, cat)
        if str(p) in named:
            sub.findings = [_named_not_a_workbook(f) for f in sub.findings]
        if cat is None and sub.catalogue:
            try:
                cat = catalogue_of(sub)       # the file's own: the copy it carries, else its id's
            except Exception:
                cat = None
        findings = check_submission(sub, cat, expect) if cat else list(sub.findings)
        sub.findings = findings
        out.append(FileCheck(Path(p), sub, findings))
        progress(i, len(paths))
    return out


def _named_not_a_workbook(f: Finding) -> Finding:
    """A file the clerk named to be checked that is not a workbook at all is a lỗi of that check
    (in a folder it is only set aside, a cảnh báo: mail clients leave all kinds of files there)."""
    from .findings import finding, skipped_reason

    reason = skipped_reason(f) or ""
    if reason.startswith(NOT_A_WORKBOOK + " (") and reason.endswith(")"):
        what = reason[len(NOT_A_WORKBOOK) + 2:-1]
        return finding("unreadable-file", file=f.file, reason=f"đây là {what}, không phải bảng tính"
                       if what.startswith("tệp ") and ";" not in what else what)
    return f


ANNOTATABLE = (".xlsx", ".xlsm")


def annotate_file(check: FileCheck, dst: str | Path | None = None) -> Path | None:
    """A coloured, annotated copy (<name>.kiem-tra.xlsx); None when the file cannot carry one
    (unreadable, not an .xlsx), in which case the reason is added as a finding."""
    from .findings import finding
    from .xlsx.annotate import apply_to_xlsx

    if any(f.kind in ("unreadable-file", "skipped-file") for f in check.findings):
        return None           # nothing to colour, or batn's own annotated copy (never annotated again)
    if check.path.suffix.lower() not in ANNOTATABLE:
        check.findings.append(finding("annotate-failed", file=str(check.path), reason="chỉ tô màu được tệp .xlsx"))
        return None
    try:
        return apply_to_xlsx(check.path, annotation_actions(check.findings),
                             dst or check.path.with_suffix(".kiem-tra.xlsx"))
    except Exception as e:   # openpyxl may refuse XML that calamine read: the findings still stand
        check.findings.append(finding("annotate-failed", file=str(check.path), reason=type(e).__name__))
        return None


def read_checked(path: str | Path, catalogue: Catalogue, expect: Expectation, data: bytes | None = None,
                 received: float | None = None) -> Submission:
    """Read and check one file, then drop what the roll-up no longer needs (memory stays flat).
    With `data` and `received` the file is not opened: a worker on another machine gets its bytes."""
    sub = read_submission(path, catalogue, data=data, received=received)
    sub.findings = check_submission(sub, catalogue, expect)
    sub.labels = {}
    sub.sheets = []
    sub.meta_cells = {}           # they only located the checks' findings, now made
    sub.narratives = Narratives.pack({k: rows for k, rows in sub.narratives.items() if rows})
    sub.values = Figures.pack(catalogue.code_index, sub.values)   # 0.5 KB to send back, not 5 KB
    if not sub.is_total:          # a sent total keeps its cells: differences with children point at them
        sub.cells = {}
    return sub


def consolidate_inbox(inbox: str | Path, tree: UnitTree, catalogue: Catalogue, period: Period,
                      root: str | None = None, progress: Progress = _noop, meanwhile: Callable[[], None] | None = None,
                      as_of: datetime | None = None, engine: str = "local", workers: int | None = None,
                      scheduler: str | None = None, ledger: str | Path | None = None,
                      approved_only: bool = False) -> Consolidation:
    """Read every workbook under `inbox` (a broken one becomes a finding) and roll the tree up.

    engine "local" reads on this machine's cores; "dask" sends the per-file read and check to a
    Dask cluster (`scheduler` address, or a local cluster) and rolls up here. `meanwhile` runs in
    this process while the files are read (engines.read_inbox).
    `ledger`: the review decisions recorded there (batn tra-lai, batn duyet) apply: an approved file
    stays in use until its correction is approved; `approved_only`: only approved files count."""
    from .engines import read_inbox

    expect = expectation_for(tree, catalogue, period)
    subs, skipped = read_inbox(inbox, catalogue, expect, engine=engine, workers=workers, scheduler=scheduler,
                               progress=progress, meanwhile=meanwhile)
    events = []
    if ledger is not None:
        from .ledger import Ledger

        with Ledger(ledger) as led:
            events = led.review_events(period.id)
    from .review import review_consolidation, standing_approvals

    cons = consolidate(subs, tree, catalogue, period, root=root, as_of=as_of, checked=True,
                       approved=standing_approvals(events), approved_only=approved_only)
    if ledger is not None:
        review_consolidation(cons, events)
    cons.findings[:0] = skipped            # every file of the inbox is read or named
    cons.inbox = str(inbox)                # files are shown relative to it (batn.tables.file_name)
    return cons


def consolidation_paper(catalogue: Catalogue, period: Period, *, config: str | Path | None = None,
                        number: str | None = None, on: date | None = None, previous: str | Path | None = None,
                        period_config: str | Path | None = None, parent: Unit | None = None):
    """What the printed consolidated workbook says besides the figures (xlsx.consolidated.Paper): the
    report settings (issuer, place, signer), the number and date of its cover, and the previous
    period's totals for its chart (batn.previous; PreviousError when that file cannot be used);
    `parent`: the consolidated unit's parent in the units file (its header and level come from it)."""
    from .previous import load_previous
    from .report.context import load_settings
    from .xlsx.consolidated import Paper

    prev = load_previous(previous, catalogue, current=period, period_config=period_config) if previous else None
    return Paper(load_settings(config), number, on, prev, parent)


def warn_outliers(cons: Consolidation, ledger_path: str | Path) -> int:
    """Figures far from a unit's history in the ledger at `ledger_path` (with its predecessors'),
    or from the same period of last year, or from its peers: cảnh báo added to `cons`."""
    from .history import add_outliers
    from .ledger import Ledger

    with Ledger(ledger_path) as led:
        return add_outliers(cons, led)


def report_input_from_workbook(path: str | Path, tree: UnitTree | None = None,
                               period_config: str | Path | None = None,
                               catalogue: str | Path | Catalogue | None = None) -> ReportInput:
    """The figures a report needs, read back from a consolidated workbook (or any filled template).
    The catalogue is the one the workbook carries, unless `catalogue` (--catalog) is given."""
    given = load_catalogue(catalogue) if catalogue is not None else None
    sub = read_submission(path, given)
    fatal = [f for f in sub.findings if f.kind in ("unreadable-file", "not-a-template", "wrong-catalogue", "skipped-file")]
    if fatal:
        raise ValueError(f"{path}: {fatal[0].message}")
    if given is not None and sub.catalogue and sub.catalogue != given.id:
        raise ValueError(f"{path}: tệp dùng bộ chỉ tiêu {sub.catalogue}, không phải {given.id} (--catalog)")
    cat = given or catalogue_of(sub)
    extra = read_named_values(path, [L.NAME_UNIT_NAME, L.NAME_SENT, L.NAME_EXPECTED, L.NAME_AS_OF])
    from .report.context import ReportInput
    from .report.workbook import read_facts

    facts = read_facts(path, tree)
    parent = None
    if tree is not None and sub.unit in tree:
        unit = tree[sub.unit]
        parent = tree.parent_of(sub.unit)
    else:      # no units file: the name and level the workbook carries (its status table's "Cấp")
        unit = Unit(sub.unit, str(extra[L.NAME_UNIT_NAME] or sub.unit), None, level=facts.levels.get(sub.unit, ""))
    as_of = extra[L.NAME_AS_OF]

    return ReportInput(
        catalogue=cat,
        period=load_period(sub.period, period_config),
        unit=unit,
        values=sub.values,
        narratives=sub.narratives,
        sent=int(extra[L.NAME_SENT]) if isinstance(extra[L.NAME_SENT], (int, float)) else None,
        expected=int(extra[L.NAME_EXPECTED]) if isinstance(extra[L.NAME_EXPECTED], (int, float)) else None,
        as_of=as_of if isinstance(as_of, datetime) else None,
        facts=facts,
        parent=parent,
        own_figures=not sub.is_total,      # "Đoàn các cơ quan Đảng tỉnh có…", not "các cơ sở Đoàn trực thuộc có…"
    )


REPORT_SUFFIXES = (".docx", ".pdf", ".txt", ".md")


def write_report(doc: ReportDocument, out: str | Path, settings: dict | None = None) -> Path:
    """.docx, .pdf (the .docx converted by LibreOffice), .txt or .md, by the suffix of `out`."""
    out = Path(out)
    if out.suffix.lower() == ".pdf":
        from .report.pdf import write_pdf

        return write_pdf(doc, out, layout=(settings or {}).get("layout"))
    if out.suffix.lower() == ".docx":
        from .report.docx_writer import write_docx
        from .safeio import atomic_path

        with atomic_path(out) as tmp:
            write_docx(doc, tmp, layout=(settings or {}).get("layout"))
    else:
        from .report.text_writer import render_text
        from .safeio import atomic_write_text

        atomic_write_text(out, render_text(doc, markdown=out.suffix.lower() == ".md"))
    return out


def report_from_workbook(path: str | Path, out: str | Path, *, number: str | None = None,
                         on: date | None = None, config: str | Path | None = None,
                         units: str | Path | None = None, previous: str | Path | None = None,
                         period_config: str | Path | None = None,
                         ledger: str | Path | None = None,
                         catalogue: str | Path | Catalogue | None = None) -> tuple[Path, ReportDocument]:
    """The report of a consolidated workbook; `previous`: an earlier period's consolidated workbook (or
    filled template) whose figures the sentences compare with (batn.previous.load_previous); else
    `ledger`: the latest earlier period of the same kind the ledger holds for the unit (with the
    units merged into it, when `units` names them), as `batn run` does."""
    from .previous import load_previous
    from .report.context import build_report, load_settings

    settings = load_settings(config)
    tree = load_units(units) if units else None
    inp = report_input_from_workbook(path, tree, period_config, catalogue=catalogue)
    if previous:
        inp.previous = load_previous(previous, inp.catalogue, current=inp.period, period_config=period_config)
    elif ledger:
        from .history import previous_from_history
        from .ledger import Ledger

        if not Path(ledger).is_file():
            raise ValueError(f"Không có sổ theo dõi {ledger}")
        with Ledger(ledger) as led:
            code = inp.unit.code
            history = led.totals_history(code, also=tree.predecessors(code) if tree is not None else ())
        inp.previous = previous_from_history(inp, history)
    doc = build_report(inp, settings, number=number, on=on)
    if not any(v is not None for v in inp.values.values()):
        doc.warnings.append(f"Tệp {shown(path)} chưa có số liệu nào (biểu mẫu còn trống): báo cáo không có phần kết "
                            "quả bằng số; hãy kiểm tra lại đã chọn đúng tệp tổng hợp chưa.")
    return write_report(doc, out, settings), doc


def load_tree(path: str | Path) -> UnitTree:
    return load_units(path)
