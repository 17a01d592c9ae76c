"""The ribbon add-in addin/xlam/batn.xlam: rebuilt from text by one command, and proven by independent readers.

- oletools' olevba decodes the VBA project (compound file, dir stream, compressed module source);
- every ribbon callback of customUI.xml is a Sub of the VBA that runs, through RunPython, a Python
  entry point that exists (imported here);
- LibreOffice opens the add-in and imports every module with its kind (its own [MS-OVBA] reader);
- the compound file's directory is a valid red-black tree and the compression round-trips.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import os
import random
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")   # before xlwings is imported (remote engine)
olevba = pytest.importorskip("oletools.olevba", reason="oletools not installed (pip install oletools)")
xlwings = pytest.importorskip("xlwings")

import lo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import vba_project as V  # noqa: E402

CUSTOMUI_NS = "{http://schemas.microsoft.com/office/2006/01/customui}"
CALLBACK_ATTRS = ("onAction", "getLabel", "getEnabled", "getVisible", "getImage", "getScreentip", "getSupertip",
                  "onLoad")
MODULES = {"ThisWorkbook": "document", "Sheet1": "document", "xlwings": "normal", "Dictionary": "class",
           "BatnRibbon": "normal"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("addin") / "batn.xlam"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_addin.py"), "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return out


@pytest.fixture(scope="module")
def vba(built, tmp_path_factory) -> dict[str, str]:
    """Module name -> source code, as olevba decodes them from the built add-in."""
    parser = olevba.VBA_Parser(str(built))
    assert parser.detect_vba_macros()
    code = {}
    for _file, stream, _name, text in parser.extract_macros():
        code[stream.split("/")[-1]] = text
    parser.close()
    return code


def test_build_is_reproducible_and_committed(built, tmp_path):
    again = tmp_path / "again.xlam"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_addin.py"), "--out", str(again)], check=True,
                   capture_output=True, timeout=120)
    assert again.read_bytes() == built.read_bytes()
    committed = ROOT / "addin" / "xlam" / "batn.xlam"
    with zipfile.ZipFile(committed) as z:
        made_with = re.search(r"xlwings (\S+)</dc:description>", z.read("docProps/core.xml").decode()).group(1)
    if made_with != xlwings.__version__:
        pytest.skip(reason=f"committed add-in embeds xlwings {made_with}, installed is {xlwings.__version__}")
    assert committed.read_bytes() == built.read_bytes(), "run: python scripts/build_addin.py"


def test_package_is_a_macro_enabled_addin_with_the_ribbon(built):
    with zipfile.ZipFile(built) as z:
        assert z.testzip() is None
        types = z.read("[Content_Types].xml").decode()
        assert 'PartName="/xl/workbook.xml" ContentType="application/vnd.ms-excel.addin.macroEnabled.main+xml"' in types
        rels = z.read("_rels/.rels").decode()
        assert "relationships/ui/extensibility" in rels and 'Target="customUI/customUI.xml"' in rels
        assert 'relationships/vbaProject" Target="vbaProject.bin"' in z.read("xl/_rels/workbook.xml.rels").decode()
        assert 'codeName="ThisWorkbook"' in z.read("xl/workbook.xml").decode()
        ui = ET.fromstring(z.read("customUI/customUI.xml"))
    tab = ui.find(f".//{CUSTOMUI_NS}tab")
    assert tab.get("label") == "3 Trách nhiệm"
    buttons = ui.findall(f".//{CUSTOMUI_NS}button")
    assert [b.get("label") for b in buttons] == ["Kiểm tra", "Tạo biểu mẫu", "Tổng hợp", "Xuất báo cáo", "Trả lại",
                                                 "Duyệt"]
    assert all(b.get("imageMso") for b in buttons)


def test_olevba_decodes_every_module(vba):
    assert set(vba) == set(MODULES)
    xlw = vba["xlwings"]
    assert 'Public Const PROJECT_NAME As String = "batn"' in xlw
    assert f'Public Const XLWINGS_VERSION As String = "{xlwings.__version__}"' in xlw
    assert re.search(r"^Public Function RunPython\(", xlw, re.M)
    assert "Dictionary v1.4" in vba["Dictionary"]


def _callbacks() -> list[str]:
    ui = ET.parse(ROOT / "addin" / "xlam" / "customUI.xml").getroot()
    return [el.get(a) for el in ui.iter() for a in CALLBACK_ATTRS if el.get(a)]


def _sub_body(code: str, name: str) -> str:
    m = re.search(rf"^Sub {name}\(control As IRibbonControl\)\s*$(.*?)^End Sub", code, re.M | re.S)
    assert m, f"no Sub {name}(control As IRibbonControl)"
    return m.group(1)


def test_every_ribbon_callback_runs_an_existing_python_entry_point(vba):
    from batn.excel import buttons

    callbacks = _callbacks()
    assert len(callbacks) == len(buttons.BUTTONS) == 6
    seen = {}
    for cb in callbacks:
        module, sub = cb.split(".")
        body = _sub_body(vba[module], sub)
        command = re.fullmatch(r'\s*RunPython "([^"]+)"\s*', body).group(1)
        tree = ast.parse(command)
        imp, call = tree.body
        assert isinstance(imp, ast.Import) and isinstance(call.value, ast.Call)
        target = importlib.import_module(imp.names[0].name)
        func = getattr(target, call.value.func.attr)
        assert call.value.func.value.id == (imp.names[0].asname or imp.names[0].name)
        assert callable(func) and not inspect.signature(func).parameters and not call.value.args
        seen[sub] = func.__name__
    assert seen == buttons.BUTTONS
    for name in buttons.BUTTONS.values():   # and each has its Lite/Server twin that receives the book
        assert list(inspect.signature(getattr(buttons, f"{name}_script")).parameters) == ["book"]


def test_vba_sources_stay_in_the_project_code_page():
    for bas in (ROOT / "addin" / "xlam").glob("*.bas"):
        bas.read_text(encoding="ascii")


# ---------------------------------------------------------------- the container itself

def _check_red_black(entries, sid) -> int:
    """Black height of the sibling tree at `sid`; asserts BST order and no red node with a red child."""
    if sid == V.NOSTREAM:
        return 1
    e = entries[sid]
    for side in (e.sid_left, e.sid_right):
        if side != V.NOSTREAM:
            assert not (e.color == V.RED and entries[side].color == V.RED)
    if e.sid_left != V.NOSTREAM:
        assert V._cfb_key(entries[e.sid_left].name) < V._cfb_key(e.name)
    if e.sid_right != V.NOSTREAM:
        assert V._cfb_key(entries[e.sid_right].name) > V._cfb_key(e.name)
    left, right = _check_red_black(entries, e.sid_left), _check_red_black(entries, e.sid_right)
    assert left == right
    return left + (e.color == V.BLACK)


def test_compound_file_directory_is_a_red_black_tree(built):
    import olefile

    with zipfile.ZipFile(built) as z:
        data = z.read("xl/vbaProject.bin")
    ole = olefile.OleFileIO(data)
    entries = ole.direntries
    for e in entries:
        if e is not None and e.sid_child != V.NOSTREAM:
            assert entries[e.sid_child].color == V.BLACK
            _check_red_black(entries, e.sid_child)
    assert ole.openstream("VBA/_VBA_PROJECT").read() == V.VBA_PROJECT_STREAM


@pytest.mark.parametrize("n", range(1, 40))
def test_sibling_trees_of_any_size(n):
    import olefile

    files = {f"S/{'x' * (i % 7 + 1)}{i}": bytes([i]) * (i * 150) for i in range(n)}
    ole = olefile.OleFileIO(V.compound_file(files))
    for path, data in files.items():
        assert ole.openstream(path).read() == data
    storage = next(e for e in ole.direntries if e is not None and e.name == "S")
    _check_red_black(ole.direntries, storage.sid_child)


def test_compression_round_trips():
    rng = random.Random(3)
    samples = [b"", b"a", b"abcabcabcabc" * 900, bytes(rng.randrange(256) for _ in range(10_000)),
               (ROOT / "addin" / "xlam" / "BatnRibbon.bas").read_bytes() * 40]
    for data in samples:
        assert bytes(olevba.decompress_stream(bytearray(V.compress(data)))) == data
    # the specification's "no compression" example ([MS-OVBA] 3.2.1)
    assert V.compress(b"abcdefghijklmnopqrstuv.") == bytes.fromhex(
        "0119B000616263646566676800696A6B6C6D6E6F7000717273747576 2E".replace(" ", ""))


def _decrypt(hexed: str, project_id: str) -> tuple[int, bytes, bytes]:
    """[MS-OVBA] 2.4.3.3 decryption: (version, ignored bytes, data); checks the project key."""
    b = bytes.fromhex(hexed)
    seed, version, key = b[0], b[0] ^ b[1], b[0] ^ b[2]
    assert key == sum(project_id.encode("cp1252")) & 0xFF
    unenc1, enc1, enc2, plain = key, b[2], b[1], []
    for byte_enc in b[3:]:
        byte = byte_enc ^ ((enc2 + unenc1) & 0xFF)
        plain.append(byte)
        enc2, enc1, unenc1 = enc1, byte_enc, byte
    n = (seed & 6) // 2
    length = int.from_bytes(bytes(plain[n:n + 4]), "little")
    return version, bytes(plain[:n]), bytes(plain[n + 4:n + 4 + length])


def test_project_properties_encryption_matches_excel():
    pid = "{318BEE36-5BE1-492A-826D-473DB19B0F30}"
    # what Excel wrote in xlwings' own add-in for that project id: not protected, no password, visible
    for excel, data in (("5D5F8AADDAA8DEA8DEA8DEA8DE", bytes(4)), ("5D5F8AADDAADDBADDBAD", bytes(1)),
                        ("5D5F8AADDAADDBADDB52", b"\xff")):
        version, ignored, decrypted = _decrypt(excel, pid)
        assert (version, decrypted) == (2, data)
        assert V.encrypt(data, pid, 0x5D, ignored) == excel


def test_built_project_is_unprotected_and_visible(built):
    import olefile

    with zipfile.ZipFile(built) as z:
        text = olefile.OleFileIO(z.read("xl/vbaProject.bin")).openstream("PROJECT").read().decode("cp1252")
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("&H"))
    pid = props["ID"].strip('"')
    assert _decrypt(props["CMG"].strip('"'), pid)[::2] == (2, bytes(4))
    assert _decrypt(props["DPB"].strip('"'), pid)[::2] == (2, bytes(1))
    assert _decrypt(props["GC"].strip('"'), pid)[::2] == (2, b"\xff")
    assert [line for line in text.splitlines() if line.split("=")[0] in ("Document", "Module", "Class")] == [
        "Document=ThisWorkbook/&H00000000", "Document=Sheet1/&H00000000", "Module=xlwings", "Class=Dictionary",
        "Module=BatnRibbon"]


# ---------------------------------------------------------------- LibreOffice as an independent reader

def _soffice_open(src: Path, outdir: Path) -> Path:
    """Open `src` in LibreOffice with the Excel 2007 VBA filter and save it as .ods (Basic modules included).

    Type detection does not recognise the add-in content type (it refuses xlwings' own .xlam too),
    so the input filter is named, as a user does when opening it from Calc's file dialog."""
    session = lo._session()
    outdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HOME=str(session / "home"))
    env.setdefault("SAL_USE_VCLPLUGIN", "svp")
    cmd = [lo.soffice_path(), f"-env:UserInstallation={(session / 'profile').as_uri()}", "--headless",
           "--invisible", "--nologo", "--nodefault", "--norestore", "--nolockcheck",
           "--infilter=Calc MS Excel 2007 VBA XML", "--convert-to", "ods", "--outdir", str(outdir), str(src)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=lo.TIMEOUT_S, env=env, cwd=outdir)
    out = outdir / (src.stem + ".ods")
    assert run.returncode == 0 and out.is_file(), f"{run.stdout}\n{run.stderr}"
    return out


@pytest.mark.libreoffice
@pytest.mark.skipif(not lo.available(), reason="LibreOffice (soffice) not installed")
def test_libreoffice_opens_the_addin_and_imports_every_module(built, tmp_path):
    src = tmp_path / "batn.xlam"
    shutil.copy(built, src)
    ods = _soffice_open(src, tmp_path / "out")
    with zipfile.ZipFile(ods) as z:
        names = z.namelist()
        lib = z.read("Basic/batn/script-lb.xml").decode()
        kinds = {}
        for m in MODULES:
            xml = z.read(f"Basic/batn/{m}.xml").decode()
            kinds[m] = re.search(r'script:moduleType="(\w+)"', xml).group(1)
        ribbon = z.read("Basic/batn/BatnRibbon.xml").decode()
        content = z.read("content.xml").decode()
    assert 'library:name="batn"' in lib
    assert kinds == MODULES
    for sub in ("KiemTra", "TongHop", "XuatBaoCao", "TaoBieuMau"):
        assert f"Sub {sub}(control As IRibbonControl)" in ribbon
    assert "b.kiem_tra()" in ribbon
    assert "_batn.conf" in content and "Interpreter_Win" in content
    assert "Basic/Standard/script-lb.xml" in names
