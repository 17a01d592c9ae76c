"""What issue 19's speed work promises, checked by counting, never by the clock (the machine is shared):
each part of a received file is inflated once and each sheet parsed once; the command line loads
what it draws and writes only when it needs it; the add-in keeps Python warm between clicks."""
from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from batn.catalogue import load_catalogue
from batn.demo import sample_narratives, sample_values
from batn.model import Unit
from batn.pipeline import load_period
from batn.xlsx import package, reader, sheetxml
from batn.xlsx.template import write_template

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    cat, period = load_catalogue("3tn-2024"), load_period("2024")
    rng = random.Random(19)
    path = tmp_path_factory.mktemp("one_pass") / "DCS_01.xlsx"
    write_template(path, cat, Unit("DCS_01", "Đoàn cơ sở 1", "T"), period, values=sample_values(cat, rng, 20),
                   narratives=sample_narratives(rng, "Đoàn cơ sở 1"))
    return path, cat


def test_every_part_inflated_once_every_sheet_parsed_once(filled, monkeypatch):
    path, cat = filled
    parts, sheets = Counter(), Counter()
    read_part, read_sheet = package.read_part, sheetxml.read_sheet

    def counting_part(z, name, data):
        parts[name] += 1
        return read_part(z, name, data)

    def counting_sheet(xml, *args, **kwargs):
        sheets[xml] += 1
        return read_sheet(xml, *args, **kwargs)

    monkeypatch.setattr(package, "read_part", counting_part)
    monkeypatch.setattr(reader, "read_sheet", counting_sheet)
    monkeypatch.setattr(package, "cell_facts", lambda *a, **k: pytest.fail("a second scan of a sheet"))
    monkeypatch.setattr(reader, "cell_facts", lambda *a, **k: pytest.fail("a second scan of a sheet"))
    sub = reader.read_submission(path, cat)
    assert sub.unit == "DCS_01" and any(v for v in sub.values.values())
    assert any(sub.narratives.values())                  # narrative sheets were read too
    assert parts and max(parts.values()) == 1, parts
    assert sheets and max(sheets.values()) == 1


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_command_line_loads_help_machinery_only_for_help():
    out = _run("import sys, batn.cli; print('typer.rich_utils' in sys.modules, 'openpyxl' in sys.modules); "
               "from typer import rich_utils as ru; print(ru.OPTIONS_PANEL_TITLE)")
    assert out.split("\n")[:2] == ["False False", "Tùy chọn"]


def test_writer_loads_without_numpy_unless_numpy_is_there():
    out = _run("import sys; from batn.startup import load_writer; load_writer(); "
               "import openpyxl.compat.numbers as n; print('numpy' in sys.modules, n.NUMPY); "
               "import numpy; print(numpy.float64(1.5) + 1)")
    assert out.split() == ["False", "False", "2.5"]
    out = _run("import numpy, sys; from batn.startup import load_writer; load_writer(); "
               "import openpyxl.compat.numbers as n; print(n.NUMPY)")
    assert out.strip() == "True"


def test_writer_loads_without_the_web_client_modules():
    # xml.sax.saxutils (for its escape) would load urllib.request, http.client and ssl
    out = _run("import sys; from batn.startup import load_writer; load_writer(); "
               "print(sorted(m for m in ('xml.sax.saxutils', 'urllib.request', 'http.client', 'ssl') if m in sys.modules))")
    assert out.strip() == "[]"


def test_a_command_line_is_read_without_pydantic(filled):
    """batn validate FILE --json --period 2024: parsed, run and printed, and pydantic never loaded."""
    path, _ = filled
    out = _run("import sys; from batn.cli import app\n"
               f"try: app(['validate', {str(path)!r}, '--json', '--period', '2024'])\n"
               "except SystemExit: pass\n"
               "print('pydantic' in sys.modules)")
    assert '"files"' in out and out.split()[-1] == "False"


def _typer_params():
    import typer.main

    from batn.cli import app

    todo = [typer.main.get_command(app)]
    while todo:
        cmd = todo.pop()
        todo.extend(getattr(cmd, "commands", {}).values())      # batn catalogue …, batn gsheets …
        for p in cmd.params:
            yield cmd, p


PLAIN_TEXTS = ["tong_hop.xlsx", "", " a b ", "/tmp/Báo cáo/ü.xlsx", "-", "~/x", "0", "7", "007", "12a", "1_000",
               "-3", "99999999999999999999"]


def test_plain_values_are_what_typers_own_adapter_gives():
    """Every str, Path, bool and int parameter of every command: batn's coercion (startup.plain_values)
    gives the same value, or the same error, as typer's pydantic adapter, for the same text."""
    from typer._click import Context
    from typer._coercion import build_runtime_param

    from batn.startup import plain_values

    seen = Counter()
    for cmd, p in _typer_params():
        ours = type(p).__new__(type(p))
        ours.__dict__.update(p.__dict__)
        ours._runtime_param = None
        plain_values([ours])
        if ours._runtime_param is None:
            continue
        seen[ours._runtime_param.kind] += 1
        theirs = build_runtime_param(p.type_descriptor)
        ctx = Context(cmd)
        values = [[t] for t in PLAIN_TEXTS] if ours._runtime_param.many else PLAIN_TEXTS + [True, False, 3]
        for v in values:
            got = want = None
            try:
                want = ("ok", theirs.coerce(v, param=p, ctx=ctx))
            except Exception as e:
                want = ("error", type(e).__name__, str(e))
            try:
                got = ("ok", ours._runtime_param.coerce(v, param=p, ctx=ctx))
            except Exception as e:
                got = ("error", type(e).__name__, str(e))
            assert got == want, (cmd.name, p.name, v)
    assert set(seen) == {"str", "path", "bool", "int"}, seen


def test_reader_processes_load_no_openpyxl(filled):
    """The readers fork with what startup.load_reader loads and read a received file (its carried
    catalogue included) without openpyxl, which loads meanwhile in the main process only."""
    path, _ = filled
    out = _run("import sys; from batn.startup import load_reader; load_reader()\n"
               "from batn.pipeline import read_checked\n"
               "from batn.xlsx.reader import read_submission\n"
               "from batn.catalogue import load_catalogue\n"
               "from batn.checks import Expectation\n"
               f"s = read_checked({str(path)!r}, load_catalogue('3tn-2024'), Expectation())\n"
               f"t = read_submission({str(path)!r})\n"
               "print(s.unit, len(t.values) > 0, 'openpyxl' in sys.modules)")
    assert out.split() == ["DCS_01", "True", "False"]


def test_addin_runs_buttons_in_a_warm_python():
    pytest.importorskip("xlwings")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_addin
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    vba = build_addin.xlwings_module()
    assert 'OPTIMIZED_CONNECTION = GetConfig("USE UDF SERVER", True)' in vba
    assert 'Public Const PROJECT_NAME As String = "batn"' in vba
    assert ("USE UDF SERVER", True) in [row[:2] for row in build_addin.CONF_ROWS]


def _copy_with(src: Path, dst: Path, replace: dict[str, bytes] | None = None) -> Path:
    """A copy of a workbook, its parts re-zipped (same compressed streams for unchanged parts)."""
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, (replace or {}).get(info.filename, zin.read(info.filename)))
    return dst


def test_a_part_seen_in_an_earlier_file_is_inflated_once(filled, tmp_path, monkeypatch):
    """The inbox trick (package.SEEN_PARTS): the second of two reports made from one template
    inflates only what differs, and reads to the same submission as a fresh process would."""
    path, cat = filled
    first, second = _copy_with(path, tmp_path / "a.xlsx"), _copy_with(path, tmp_path / "b.xlsx")
    monkeypatch.setattr(package, "SEEN_PARTS", package._SeenParts())
    monkeypatch.setattr(sheetxml, "SEEN_PARTS", package.SEEN_PARTS)
    inflated = Counter()
    real = package.zlib.decompressobj

    class Counting:
        def __init__(self, *a):
            self.d = real(*a)

        def decompress(self, raw, n):
            inflated["n"] += 1
            return self.d.decompress(raw, n)

    monkeypatch.setattr(package.zlib, "decompressobj", Counting)
    a = reader.read_submission(first, cat)
    n_first = inflated["n"]
    b = reader.read_submission(second, cat)
    assert n_first >= 5 and inflated["n"] == n_first          # nothing inflated again
    assert (a.values, a.narratives, [f.kind for f in a.findings]) == \
           (b.values, b.narratives, [f.kind for f in b.findings])
    monkeypatch.setattr(package, "SEEN_PARTS", package._SeenParts())   # a fresh process: the same reading
    monkeypatch.setattr(sheetxml, "SEEN_PARTS", package.SEEN_PARTS)
    c = reader.read_submission(second, cat)
    assert (c.values, c.narratives, [f.kind for f in c.findings]) == \
           (b.values, b.narratives, [f.kind for f in b.findings])


def test_a_seen_stream_under_another_declared_crc_is_still_refused(filled, tmp_path, monkeypatch):
    """The cache never vouches for a file: the same compressed bytes declared with another CRC in
    a later file's directory are refused exactly as when inflated afresh."""
    import struct
    import zipfile

    path, cat = filled
    monkeypatch.setattr(package, "SEEN_PARTS", package._SeenParts())
    monkeypatch.setattr(sheetxml, "SEEN_PARTS", package.SEEN_PARTS)
    good = _copy_with(path, tmp_path / "good.xlsx")
    assert not [f for f in reader.read_submission(good, cat).findings if f.kind == "unreadable-file"]
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("xl/workbook.xml")
    # the central directory entry of xl/workbook.xml: its CRC field sits 16 bytes in
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        n = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46:at + 46 + n] == b"xl/workbook.xml":
            struct.pack_into("<L", data, at + 16, info.CRC ^ 1)
            break
        at = data.find(b"PK\x01\x02", at + 4)
    assert at >= 0
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(bytes(data))
    kinds = [f.kind for f in reader.read_submission(bad, cat).findings]
    assert "unreadable-file" in kinds
