"""Where the editable content (catalogues, phrases, settings) lives.

In a wheel the top-level `templates/` folder is shipped as `batn/_templates`;
in a checkout (editable install) it is read from the repository itself.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def templates_dir() -> Path:
    env = os.environ.get("BATN_TEMPLATES")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    shipped = here / "_templates"
    if shipped.is_dir():
        return shipped
    checkout = here.parent.parent / "templates"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("Không tìm thấy thư mục templates của batn (cài đặt bị thiếu tệp)")


def load_yaml(text: str):
    """A YAML file's data, as yaml.safe_load gives it: the one place batn parses its YAML content
    (catalogues, messages). libyaml's parser (CSafeLoader) when PyYAML was built with it: about an
    eighth of the pure-Python parser's time, which every command paid before reading its first file (the
    catalogue, 20 ms), and every reader process again on its first finding (the messages, 13 ms)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506  (a safe loader)


_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def unreadable_text(e: Exception) -> str:
    """Why a content file (settings, a catalogue, a run's configuration) cannot be used, said for the
    person who wrote it: the line and column of a TOML or YAML mistake, the operating system's refusal
    in Vietnamese; never the parser's English."""
    from .safeio import os_words

    if isinstance(e, OSError):            # the caller names the file
        return os_words(e)
    if isinstance(e, UnicodeDecodeError):
        return "tệp không phải văn bản mã UTF-8 (hãy lưu lại tệp với bảng mã UTF-8)"
    if type(e).__name__ == "TOMLDecodeError":       # tomllib's, or tomli's on Python 3.10
        m = _AT.search(str(e))
        return f"sai cú pháp TOML ở dòng {m[1]}, cột {m[2]}" if m else "sai cú pháp TOML"
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)     # yaml.MarkedYAMLError
    if mark is not None:
        return f"sai cú pháp YAML ở dòng {mark.line + 1}, cột {mark.column + 1}"
    if e.__class__.__module__.startswith("yaml"):
        return "sai cú pháp YAML"
    return "nội dung không đọc được"
