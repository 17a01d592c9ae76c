"""LibreOffice (soffice) as an independent client for round-trip tests.

    from lo import convert, available
    pdf = convert(docx_path, "pdf", tmp_path)
    xlsx = convert(xlsx_path, "xlsx", tmp_path / "lo")   # re-saved by Calc

Each test session (process) gets its own LibreOffice profile and HOME in a
temporary directory, so a running LibreOffice or a stale lock in the user's
profile cannot block the conversion, and parallel workers do not collide.
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

TIMEOUT_S = 180

# --convert-to argument per target format: "ext" or "ext:FilterName".
FILTERS = {
    "pdf": "pdf",
    "xlsx": "xlsx:Calc MS Excel 2007 XML",
    "docx": "docx:MS Word 2007 XML",
    "ods": "ods",
    "csv": "csv:Text - txt - csv (StarCalc):44,34,76,1",
    "txt": "txt:Text (encoded):UTF8",
}

_session_dir: Path | None = None
_lock = threading.Lock()


class LibreOfficeError(RuntimeError):
    pass


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def available() -> bool:
    return soffice_path() is not None


def _session() -> Path:
    """A temporary dir holding this session's LibreOffice profile and HOME."""
    global _session_dir
    with _lock:
        if _session_dir is None:
            _session_dir = Path(tempfile.mkdtemp(prefix="batn-lo-"))
            (_session_dir / "profile").mkdir()
            (_session_dir / "home").mkdir()
            atexit.register(shutil.rmtree, _session_dir, True)
        return _session_dir


def convert(src: Path, fmt: str, outdir: Path, timeout: float = TIMEOUT_S) -> Path:
    """Convert `src` with headless LibreOffice into `outdir`; return the new file.

    `fmt` is "pdf", "xlsx" (Calc MS Excel 2007 XML), "docx", "ods", "csv" or
    "txt", or any "ext:Filter" string soffice accepts. Raises
    `LibreOfficeError` (with soffice's stdout/stderr) when soffice is missing,
    fails, times out or writes no file.
    """
    exe = soffice_path()
    if exe is None:
        raise LibreOfficeError("LibreOffice (soffice) not installed")
    src = Path(src).resolve()
    if not src.is_file():
        raise FileNotFoundError(src)
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)

    target = FILTERS.get(fmt, fmt)
    ext = target.split(":", 1)[0]
    out = outdir / f"{src.stem}.{ext}"
    if out == src:
        raise ValueError(f"converting {src.name} to {fmt} in its own folder would overwrite it; "
                         "use another outdir")
    if out.exists():
        out.unlink()  # never mistake an old file for this run's output

    session = _session()
    env = dict(os.environ)
    env["HOME"] = str(session / "home")
    env.setdefault("SAL_USE_VCLPLUGIN", "svp")
    cmd = [
        exe,
        f"-env:UserInstallation={(session / 'profile').as_uri()}",
        "--headless", "--invisible", "--nologo", "--nodefault", "--norestore", "--nolockcheck",
        "--convert-to", target,
        "--outdir", str(outdir),
        str(src),
    ]
    # Own process group, so a hung soffice (oosplash + soffice.bin) can be
    # stopped as a whole on timeout.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=str(outdir), start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stdout, stderr = proc.communicate()
        raise LibreOfficeError(
            f"soffice timed out after {timeout:.0f} s converting {src.name} to {fmt}\n"
            f"stdout: {stdout.decode(errors='replace')}\nstderr: {stderr.decode(errors='replace')}"
        ) from None
    if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        raise LibreOfficeError(
            f"soffice failed (exit {proc.returncode}) converting {src.name} to {fmt}; "
            f"expected {out}\ncommand: {' '.join(cmd)}\n"
            f"stdout: {stdout.decode(errors='replace')}\nstderr: {stderr.decode(errors='replace')}"
        )
    return out
