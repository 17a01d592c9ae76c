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
