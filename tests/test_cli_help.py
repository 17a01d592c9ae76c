"""The --help a clerk reads: its panels are titled in Vietnamese."""
from typer.testing import CliRunner

from batn.cli import app


def test_help_panels_are_vietnamese():
    top = CliRunner().invoke(app, ["--help"])
    sub = CliRunner().invoke(app, ["consolidate", "--help"])
    assert top.exit_code == 0 and sub.exit_code == 0
    assert "Tùy chọn" in top.output and "Lệnh" in top.output and "Commands" not in top.output
    assert "Tham số" in sub.output and "[bắt buộc]" in sub.output and "[required]" not in sub.output
