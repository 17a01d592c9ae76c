"""Stamped templates are the openpyxl-built ones, part by part (golden-file comparison)."""
from __future__ import annotations

import io
import re
import zipfile

import pytest

from batn.catalogue import load_catalogue
from batn.model import Unit
from batn.pipeline import load_period
from batn.xlsx.reader import read_submission
from batn.xlsx.stamp import TemplateStamper
from batn.xlsx.template import build_template


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        out = {n: z.read(n) for n in z.namelist()}
    # the only part that always differs: creation and modification times
    out["docProps/core.xml"] = re.sub(rb"<dcterms:(created|modified)[^<]*</dcterms:\1>", b"", out["docProps/core.xml"])
    return out


@pytest.mark.parametrize("cid,pid", [("3tn-2024", "2024-H1"), ("3tn-2009", "2009-2013")])
@pytest.mark.parametrize("has_children", [False, True])
@pytest.mark.parametrize("unit", [
    Unit("DP_BN", "Đoàn phường Bến Nghé", "T", level="Đoàn cơ sở"),
    Unit("X-1.2", "Chi đoàn “A & B” <Khối 3>", "T"),
])
def test_stamped_equals_built(cid, pid, has_children, unit):
    cat, period = load_catalogue(cid), load_period(pid)
    built = io.BytesIO()
    build_template(cat, unit, period, has_children=has_children).save(built)
    stamped = TemplateStamper(cat, period).stamp(unit, has_children=has_children)
    assert _parts(stamped) == _parts(built.getvalue())


def test_stamped_file_reads_as_the_unit(tmp_path):
    st = TemplateStamper(load_catalogue("3tn-2024"), load_period("2024"))
    for code in ("A", "B"):
        st.write(tmp_path / f"{code}.xlsx", Unit(code, f"Đoàn {code}", "T"))
    assert [read_submission(tmp_path / f"{c}.xlsx").unit for c in "AB"] == ["A", "B"]
    # a blank form is only warned about: it carries no figures yet
    assert [f.kind for f in read_submission(tmp_path / "B.xlsx").findings] == ["no-figures"]


def test_many_templates_on_two_processes(tmp_path):
    from batn.model import UnitTree
    from batn.pipeline import make_templates

    units = [Unit("T", "Tỉnh Đoàn", None)] + [Unit(f"X{i:04d}", f"Đoàn xã {i}", "T") for i in range(520)]
    tree = UnitTree(units)
    files = make_templates(load_catalogue("3tn-2024"), tree, load_period("2025"), tmp_path, workers=2)
    assert [p.name for p in files] == [f"{u.code}.xlsx" for u in units]
    assert all(p.exists() for p in files)
    assert read_submission(tmp_path / "X0517.xlsx").unit == "X0517"
    assert read_submission(tmp_path / "T.xlsx").unit == "T"
