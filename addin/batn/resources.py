"""Where the editable content (catalogues, phrases, settings) lives.

In a wheel the top-level `templates/` folder is shipped as `batn/_templates`;
in a checkout (editable install) it is read from the repository itself.
"""
from __future__ import annotations

import os
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
