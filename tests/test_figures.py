"""Figures and Narratives: the packed figures and text a consolidation keeps for every unit."""
from __future__ import annotations

import json
import pickle
import threading

import pytest

from batn.model import Figures, Narratives, Submission, TextSpool
from batn.rollup import keep_for_rollup

INDEX = {"A": 0, "B": 1, "C": 2}


def test_reads_back_what_was_packed():
    f = Figures.pack(INDEX, {"A": 8964, "B": None, "C": 2.5})
    assert isinstance(f, Figures)
    assert f == {"A": 8964, "B": None, "C": 2.5} and dict(f) == {"A": 8964, "B": None, "C": 2.5}
    assert type(f["A"]) is int and type(f["C"]) is float and f["B"] is None
    assert f.get("X") is None and "A" in f and "X" not in f and list(f) == ["A", "B", "C"]
    assert f.get("X", 0) == 0 and f.get("B", 0) is None and f.get("A", 0) == 8964     # as Mapping.get
    assert json.dumps(dict(f)) == '{"A": 8964, "B": null, "C": 2.5}'


def test_keeps_a_dict_when_packing_would_change_something():
    for values in ({"A": 1, "B": 2},                          # a code missing: must stay missing
                   {"A": 1, "B": 2, "C": 3, "D": 4},          # a code of another catalogue
                   {"A": 2 ** 60, "B": 0, "C": 0},            # not exact as a double
                   {"A": True, "B": 0, "C": 0},
                   {"A": "8.964", "B": 0, "C": 0}):
        packed = Figures.pack(INDEX, values)
        assert type(packed) is dict and packed == values


def test_a_pickled_batch_shares_one_layout():
    batch = [Figures.pack(INDEX, {"A": i, "B": i + 1, "C": None}) for i in range(50)]
    back = pickle.loads(pickle.dumps(batch))
    assert back == batch
    assert len({id(f._index) for f in back}) == 1          # the layout travelled once
    one = Figures.pack(INDEX, {"A": 1, "B": 1, "C": 1})
    assert len(pickle.dumps(batch)) < 50 * len(pickle.dumps(one)) / 3


def test_keep_for_rollup_shares_the_catalogue_layout(cat2024):
    from batn.model import Submission

    values = {c: n for n, c in enumerate(cat2024.codes)}
    subs = [Submission("U1", "2024", "3tn-2024", dict(values), {}, source=f"/x/{i}.xlsx") for i in range(3)]
    sent = pickle.loads(pickle.dumps([Figures.pack(cat2024.code_index, s.values) for s in subs]))
    for s, v in zip(subs, sent):
        s.values = v
    kept = [keep_for_rollup(s, cat2024) for s in subs]
    assert all(k.values._index is cat2024.code_index for k in kept)
    assert all(dict(k.values) == values for k in kept)
    assert kept[0].unit is kept[1].unit                        # interned


def test_counts_take_four_bytes_and_large_or_fractional_figures_eight():
    counts = Figures.pack(INDEX, {"A": 8964, "B": None, "C": 0})
    money = Figures.pack(INDEX, {"A": 1_540_000_000, "B": 3_065_000_000, "C": None})   # over 2**31
    ratio = Figures.pack(INDEX, {"A": 12.5, "B": 1, "C": None})
    assert counts._data.typecode == "i" and dict(counts) == {"A": 8964, "B": None, "C": 0}
    assert money._data.typecode == "d" and dict(money) == {"A": 1_540_000_000, "B": 3_065_000_000, "C": None}
    assert type(money["B"]) is int
    assert ratio._data.typecode == "d" and dict(ratio) == {"A": 12.5, "B": 1, "C": None}
    assert Figures.pack(INDEX, {"A": -(2 ** 31), "B": 0, "C": 0})._data.typecode == "d"   # the blank marker itself


ROWS = {"mo_hinh": [("Tủ sách pháp luật điện tử", "Đoàn xã A", "Tốt"), ("Ngày thứ bảy tình nguyện", "", "")],
        "kho_khan": [("Thiếu kinh phí =SUM(A1)\n  dòng hai ",)]}


def test_narratives_read_back_what_was_packed_in_memory_and_spooled():
    packed = Narratives.pack(ROWS)
    spool = TextSpool()
    spooled = packed.spooled(spool)
    for n in (packed, spooled):
        assert n == ROWS and dict(n.items()) == ROWS and list(n) == ["mo_hinh", "kho_khan"] and len(n) == 2
        assert n["kho_khan"] == ROWS["kho_khan"] and n.get("guong") is None and "guong" not in n
        n["mo_hinh"].append(("đổi", "", ""))                # a copy each time: nothing kept changes
        assert n["mo_hinh"] == ROWS["mo_hinh"]
    assert spooled._blob is None                             # the text is in the file, not in memory
    assert Narratives.pack({"mo_hinh": []})._keys is Narratives.pack({"mo_hinh": [("x",)]})._keys


def test_spooled_narratives_travel_as_bytes_and_many_share_one_spool():
    spool = TextSpool()
    many = [Narratives.pack({"guong": [(f"Nguyễn Văn {i}", f"Đoàn {i}", "x" * (i % 7))]}).spooled(spool)
            for i in range(500)]
    back = pickle.loads(pickle.dumps(many))
    assert all(b._spool is None for b in back)               # another process cannot read our file
    assert [b["guong"] for b in back] == [n["guong"] for n in many]
    assert many[321]["guong"] == [("Nguyễn Văn 321", "Đoàn 321", "x" * (321 % 7))]


def test_a_spool_is_read_while_it_is_written():
    spool = TextSpool()
    first = Narratives.pack(ROWS).spooled(spool)
    errors = []

    def read():
        try:
            for _ in range(200):
                assert first == ROWS
        except AssertionError as e:                          # pragma: no cover - the failure itself
            errors.append(e)

    t = threading.Thread(target=read)
    t.start()
    for i in range(200):
        Narratives.pack({"mo_hinh": [(str(i),)]}).spooled(spool)
    t.join()
    assert not errors


def test_keep_for_rollup_spools_the_text(cat2024):
    spool = TextSpool()
    sub = Submission("U1", "2024", "3tn-2024", {c: None for c in cat2024.codes}, dict(ROWS))
    kept = keep_for_rollup(sub, cat2024, spool)
    assert isinstance(kept.narratives, Narratives) and kept.narratives._spool is spool
    assert kept.narratives == ROWS
    empty = keep_for_rollup(Submission("U2", "2024", "3tn-2024", {}, {}), cat2024, spool)
    assert dict(empty.narratives) == {}


def test_a_damaged_spool_is_reported_not_read_short():
    spool = TextSpool()
    n = Narratives.pack(ROWS).spooled(spool)
    spool._file.truncate(5)                                  # as if the temporary disk had failed
    with pytest.raises(OSError, match="bị cắt cụt"):
        dict(n.items())
