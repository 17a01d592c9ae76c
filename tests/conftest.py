"""Shared fixtures: the shipped catalogues, a period, a unit and filled templates written to tmp_path."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Callable, Mapping, Sequence

import pytest

from batn.catalogue import load_catalogue
from batn.demo import sample_values
from batn.model import Catalogue, Period, Unit
from batn.pipeline import load_period
from batn.xlsx.template import write_template


@pytest.fixture(scope="session")
def cat2024() -> Catalogue:
    return load_catalogue("3tn-2024")


@pytest.fixture(scope="session")
def cat2009() -> Catalogue:
    return load_catalogue("3tn-2009")


@pytest.fixture(scope="session")
def period2024() -> Period:
    return load_period("2024")


@pytest.fixture(scope="session")
def unit() -> Unit:
    return Unit("DCS_STP", "Đoàn cơ sở Sở Tư pháp", "TD")


@pytest.fixture
def valid_values(cat2024) -> dict[str, int]:
    """Figures for 3tn-2024 that pass every rule (a fresh dict for each test, safe to modify)."""
    return dict(sample_values(cat2024, random.Random(1), 20))


MakeFilled = Callable[..., Path]


@pytest.fixture
def make_filled(tmp_path, cat2024, unit, period2024) -> MakeFilled:
    """`make_filled(values, name="u.xlsx", narratives=None)` writes a filled template into tmp_path.

    Keyword-only `catalogue`, `unit` and `period` override the defaults (3tn-2024, DCS_STP, 2024).
    """

    def make(values: Mapping[str, object] | None, name: str = "u.xlsx",
             narratives: Mapping[str, Sequence[Sequence[object]]] | None = None, *,
             catalogue: Catalogue | None = None, unit: Unit | None = None,
             period: Period | None = None) -> Path:
        return write_template(tmp_path / name, catalogue or cat2024, unit or default_unit,
                              period or period2024, values=values, narratives=narratives)

    default_unit = unit
    return make
