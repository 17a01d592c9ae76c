"""`batn demo`: a demo province filled with realistic figures, consolidated and reported.

The figures are made up but plausible (a chi đoàn of 10-40 young cadres), they
satisfy the catalogue's rules, and a few classic clerk mistakes are planted so
the demo shows what batn does with them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from .catalogue import load_catalogue
from .model import Catalogue, Period, UnitTree
from .pipeline import (consolidate_inbox, consolidation_paper, load_period, make_templates, report_from_workbook)
from .resources import templates_dir
from .units import load_units
from .xlsx.consolidated import write_consolidated
from .xlsx.template import write_template

DEMO_CATALOGUE = "3tn-2024"
DEMO_PERIOD = "2026-H1"
PREVIOUS_PERIOD = "2025-H1"          # shipped as templates/demo/TongHop_TD_AG_2025-H1.xlsx (build_previous)

MODELS = {"Ngày thứ bảy tình nguyện hỗ trợ thủ tục hành chính": "Hỗ trợ người dân nộp hồ sơ trực tuyến vào sáng thứ bảy",
          "Tuyến đường thanh niên tự quản xanh - sạch - đẹp": "Duy trì vệ sinh, trồng hoa trên tuyến đường được giao",
          "Bình dân học vụ số cho người cao tuổi": "Hướng dẫn người cao tuổi cài đặt, sử dụng ứng dụng VNeID",
          "Tủ sách pháp luật điện tử": "Cập nhật văn bản pháp luật mới cho cán bộ, người dân tra cứu",
          "Cà phê chuyển đổi số cuối tuần": "Giải đáp thắc mắc về dịch vụ công trực tuyến",
          "Mỗi tuần một hồ sơ trực tuyến toàn trình": "Đồng hành cùng người dân hoàn thành hồ sơ trực tuyến toàn trình",
          "Ánh sáng đường quê": "Lắp đặt đèn chiếu sáng tại các tuyến đường nông thôn",
          "Góc học tập cho em": "Tặng góc học tập cho học sinh có hoàn cảnh khó khăn"}
PEOPLE = ["Nguyễn Thị Mai", "Trần Văn Hùng", "Lê Hoàng Phúc", "Phạm Ngọc Ánh", "Võ Minh Tâm", "Huỳnh Thanh Trúc",
          "Đặng Quốc Bảo", "Ngô Thanh Hương", "Bùi Đức Thịnh", "Lý Kim Ngân"]
DEEDS = ["Có sáng kiến cải tiến quy trình được áp dụng", "Đạt giải cao hội thi tin học văn phòng cấp tỉnh",
         "Tích cực hiến máu tình nguyện nhiều lần"]
DIFFICULTIES = ["Kinh phí hoạt động còn hạn chế", "Đoàn viên bận công tác chuyên môn, thời gian sinh hoạt ít",
                "Sau sắp xếp bộ máy, nhiều chi đoàn mới kiện toàn, cán bộ Đoàn thay đổi"]
PROPOSALS = ["Đề nghị Tỉnh Đoàn tổ chức tập huấn kỹ năng chuyển đổi số cho cán bộ Đoàn cơ sở",
             "Đề nghị bố trí kinh phí cho công trình thanh niên gắn với chuyên môn"]


def sample_values(catalogue: Catalogue, rng: random.Random, size: int = 20) -> dict[str, int]:
    """Figures for one unit with about `size` young cadres, consistent with every rule."""
    v: dict[str, int] = {}
    for ind in catalogue.indicators:
        if ind.kind == "ratio_den":
            v[ind.code] = size if ind.unit == "người" else rng.randint(1, 4)
        elif ind.kind in ("people", "ratio_num"):
            # awards are rare; other head counts are a share of the unit's young cadres
            v[ind.code] = rng.choice([0, 0, 0, 1, 2]) if ind.section == "III" else rng.randint(0, max(1, size // 2))
        elif ind.kind == "count":
            v[ind.code] = rng.choice([0, 1, 1, 2, 3, 4, 6])
        elif ind.kind == "turns":
            v[ind.code] = rng.randint(0, size * 6)
        elif ind.kind == "money":
            v[ind.code] = rng.choice([0, 1, 2, 5, 10, 25]) * 1_000_000 + rng.choice([0, 0, 500_000])
    # Make every rule hold, in catalogue order (pairs point to earlier rows or to denominators).
    for _ in range(2):
        for ind in catalogue.indicators:
            for rule in ind.rules:
                x, o = v[ind.code], v[rule.other]
                if rule.op == "le" and x > o:
                    v[ind.code] = o
                elif rule.op == "ge_both" and x > 0 and 0 < o and x < o:
                    v[ind.code] = o * rng.randint(8, 30)
                elif rule.op == "needs" and x > 0 and o <= 0:
                    v[rule.other] = rng.randint(1, 5)
    return v


def sample_narratives(rng: random.Random, unit_name: str) -> dict[str, list[tuple[str, ...]]]:
    out: dict[str, list[tuple[str, ...]]] = {"mo_hinh": [], "guong": [], "kho_khan": [], "de_xuat": []}
    if rng.random() < 0.5:
        model = rng.choice(sorted(MODELS))
        out["mo_hinh"].append((model, unit_name, MODELS[model]))
    if rng.random() < 0.3:
        out["guong"].append((rng.choice(PEOPLE), unit_name, rng.choice(DEEDS)))
    if rng.random() < 0.3:
        out["kho_khan"].append((rng.choice(DIFFICULTIES),))
    if rng.random() < 0.2:
        out["de_xuat"].append((rng.choice(PROPOSALS),))
    return out


@dataclass
class DemoResult:
    folder: Path
    units_file: Path
    inbox: Path
    templates: Path
    consolidated: Path
    report_docx: Path
    report_text: Path
    planted: list[str] = field(default_factory=list)


def _stamp(path: Path, when: datetime) -> None:
    """The demo's units 'sent' their files at `when`: saved then, as Excel records it in the file."""
    from .xlsx.package import stamp_saved_time

    stamp_saved_time(path, when)


def fill_inbox(tree: UnitTree, catalogue: Catalogue, period: Period, inbox: Path, seed: int = 2026,
               missing: tuple[str, ...] = ("CD_LX_DH",)) -> list[str]:
    """Write every unit's filled workbook (but the root's and the missing ones), planting mistakes."""
    rng = random.Random(seed)
    inbox.mkdir(parents=True, exist_ok=True)
    deadline = period.deadline_for("") or period.end
    on_time = datetime.combine(deadline - timedelta(days=3), time(9, 30))
    planted = []
    for code in tree.walk():
        if code == tree.root or code in missing:
            continue
        u = tree[code]
        size = rng.randint(8, 40) if not tree.children[code] else rng.randint(3, 10)
        values: dict[str, object] = dict(sample_values(catalogue, rng, size))
        narratives = sample_narratives(rng, u.name)
        when = on_time + timedelta(minutes=rng.randint(0, 3000))
        name = f"BaoCao_3TN_{period.id}_{code}.xlsx"
        if code == "CD_VPTU":      # typed with a unit noun: read, no finding
            values["TK_HOINGHI_LUOT"] = f"{values['TK_HOINGHI_LUOT']} lượt"
            planted.append(f"{code}: số liệu gõ kèm chữ “lượt” (đọc được)")
        if code == "DCS_STP":      # "1,644": ambiguous, reported, left out
            values["CD_HIENMAU"] = "1,644"
            planted.append(f"{code}: “1,644” không rõ nghĩa (lỗi)")
        if code == "DCS_SYT":      # more members than young cadres
            values["TT_DOANVIEN"] = int(values["TT_CBCCVC_TRE"]) + 5
            planted.append(f"{code}: số đoàn viên lớn hơn số CBCCVC trẻ (lỗi)")
        if code == "CD_RG_VT":     # fewer turns than meetings
            values["TK_HOINGHI_SO"], values["TK_HOINGHI_LUOT"] = 4, 2
            planted.append(f"{code}: số lượt ít hơn số hội nghị (cảnh báo)")
        if code == "DCS_CSGT":     # late
            when = datetime.combine(deadline + timedelta(days=2), time(16, 0))
            planted.append(f"{code}: nộp muộn")
        path = write_template(inbox / name, catalogue, u, period, values=values, narratives=narratives,
                              has_children=bool(tree.children[code]))
        _stamp(path, when)
        if code == "CD_PQ_AT":     # sent twice: the newer file counts
            values["CD_CAYXANH"] = 0
            older = write_template(inbox / f"Ban_cu_{code}.xlsx", catalogue, u, period, values=values,
                                   narratives=narratives)
            _stamp(older, when - timedelta(days=1))
            planted.append(f"{code}: gửi hai lần (dùng tệp mới hơn)")
    broken = inbox / "ghi_chu_khong_phai_excel.xlsx"
    broken.write_text("đây không phải tệp Excel", encoding="utf-8")
    _stamp(broken, on_time)
    planted.append("ghi_chu_khong_phai_excel.xlsx: tệp hỏng (lỗi, không làm dừng việc tổng hợp)")
    planted.extend(f"{c}: chưa nộp" for c in missing)
    return planted


def build_previous(out: str | Path, seed: int = 2025) -> Path:
    """The demo province's consolidated workbook of PREVIOUS_PERIOD (shipped in templates/demo/, so
    `batn demo` compares with it): the same units, other figures, every unit on time."""
    import tempfile

    out = Path(out)
    tree = load_units(templates_dir() / "demo" / "don_vi.csv")
    catalogue = load_catalogue(DEMO_CATALOGUE)
    period = load_period(PREVIOUS_PERIOD)
    with tempfile.TemporaryDirectory(prefix="batn-demo-") as d:
        inbox = Path(d) / "hop_thu"
        fill_inbox(tree, catalogue, period, inbox, seed=seed, missing=())
        for planted in ("ghi_chu_khong_phai_excel.xlsx", "Ban_cu_CD_PQ_AT.xlsx"):
            (inbox / planted).unlink(missing_ok=True)
        cons = consolidate_inbox(inbox, tree, catalogue, period)
        return write_consolidated(cons, out)


def previous_workbook() -> Path:
    return templates_dir() / "demo" / f"TongHop_TD_AG_{PREVIOUS_PERIOD}.xlsx"


def run_demo(out: str | Path, progress=None, today: date | None = None) -> DemoResult:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    src_units = templates_dir() / "demo" / "don_vi.csv"
    units_file = out / "don_vi.csv"
    units_file.write_bytes(src_units.read_bytes())
    tree = load_units(units_file)
    catalogue = load_catalogue(DEMO_CATALOGUE)
    period = load_period(DEMO_PERIOD)
    templates = out / "bieu_mau"
    make_templates(catalogue, tree, period, templates)
    inbox = out / "hop_thu"
    planted = fill_inbox(tree, catalogue, period, inbox)
    deadline = period.deadline_for("") or period.end
    # as of the data's time: the newest file used (its save time), as every door says it
    cons = consolidate_inbox(inbox, tree, catalogue, period, progress=progress or (lambda d, t: None))
    on = today or deadline + timedelta(days=5)
    config = out / "thiet_lap_bao_cao.toml"
    config.write_bytes((templates_dir() / "demo" / "bao_cao.toml").read_bytes())
    # the scheduled run's configuration, its paths relative to this folder: `batn run DIR/batn-run.toml`
    (out / "batn-run.toml").write_bytes((templates_dir() / "demo" / "batn-run.toml").read_bytes())
    previous = out / previous_workbook().name
    previous.write_bytes(previous_workbook().read_bytes())
    # the workbook's cover says what the report says: issuer, number, place, date, signer
    paper = consolidation_paper(catalogue, period, config=config, number="25", on=on, previous=previous)
    consolidated = write_consolidated(cons, out / f"TongHop_{tree.root}_{period.id}.xlsx", paper)
    docx, _ = report_from_workbook(consolidated, out / f"BaoCao_{tree.root}_{period.id}.docx", number="25",
                                   on=on, units=units_file, config=config, previous=previous)
    txt, _ = report_from_workbook(consolidated, out / f"BaoCao_{tree.root}_{period.id}.txt", number="25",
                                  on=on, units=units_file, config=config, previous=previous)
    return DemoResult(out, units_file, inbox, templates, consolidated, docx, txt, planted)
