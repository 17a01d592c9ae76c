"""Files in and out safely: outputs never half-written (temp file, then rename); inputs read only
when they are regular files, without blocking, within a size limit."""
from __future__ import annotations

import errno
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one step."""
    path = Path(path)
    if path.is_dir():            # said of the path asked for, before anything is written beside it
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    # mkstemp makes 0600 files; an output is an ordinary file, readable as the umask allows
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:       # on disk before the rename, so a crash leaves old or new
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_save_workbook(wb, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        wb.save(tmp)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")


# ---------------------------------------------------------------- reading what an inbox holds

class NotARegularFile(OSError):
    """A FIFO, device, socket or folder where a file was expected; the message is Vietnamese."""


class FileTooLarge(OSError):
    """More bytes than the caller's limit; `size` is what the file system says (or limit + 1)."""

    def __init__(self, size: int, limit: int):
        super().__init__(f"{size} > {limit}")
        self.size, self.limit = size, limit


def kind_of(mode: int) -> str:
    """What a non-regular file is, said for a clerk."""
    if stat.S_ISFIFO(mode):
        return "ống dẫn dữ liệu (FIFO)"
    if stat.S_ISSOCK(mode):
        return "cổng kết nối (socket)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "tệp thiết bị của hệ điều hành"
    if stat.S_ISDIR(mode):
        return "thư mục"
    return "không phải tệp thông thường"


def read_regular(path: str | Path, limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file, at most `limit` of them, and its stat.

    Opened without blocking (a FIFO named x.xlsx would otherwise wait for a writer forever) and
    judged on what was opened (fstat), not on a stat taken before: a name swapped for a FIFO or
    a device between the two cannot slip through. A device such as /dev/zero is never read.
    Raises NotARegularFile, FileTooLarge or the OSError of the open."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFile(errno.EINVAL, kind_of(st.st_mode))
        if st.st_size > limit:
            raise FileTooLarge(st.st_size, limit)
        chunks, got = [], 0
        while True:                       # a file still growing is cut at limit + 1 and refused
            # Ask for what fstat said (plus one, to see the end) rather than a fixed megabyte: os.read
            # allocates what is asked, and a megabyte per 25 KB report was a tenth of reading it.
            want = st.st_size + 1 - got if got <= st.st_size else 1 << 16
            chunk = os.read(fd, min(max(want, 1), limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if got > limit:
                raise FileTooLarge(got, limit)
        return b"".join(chunks), st
    finally:
        os.close(fd)


_OS_WORDS = {errno.ENOENT: "không có tệp hoặc thư mục này", errno.EACCES: "không có quyền truy cập",
             errno.EPERM: "không có quyền truy cập", errno.EISDIR: "đây là thư mục, cần một tệp",
             errno.ENOTDIR: "một phần của đường dẫn không phải là thư mục", errno.EEXIST: "đã có tệp này",
             errno.ENOSPC: "ổ đĩa đã đầy", errno.EROFS: "ổ đĩa chỉ cho đọc", errno.ENAMETOOLONG: "tên quá dài",
             errno.EBUSY: "tệp đang được chương trình khác dùng", errno.ETXTBSY: "tệp đang được chương trình khác dùng",
             errno.EMFILE: "mở quá nhiều tệp cùng lúc", errno.ELOOP: "đường dẫn vòng lặp (liên kết tượng trưng)"}


def os_words(e: OSError) -> str:
    """What went wrong, as a clerk reads it, never "[Errno 2] No such file…"."""
    return _OS_WORDS.get(e.errno) or (f"lỗi hệ thống (mã {e.errno})" if e.errno else "lỗi hệ thống")


def os_error_text(e: OSError) -> str:
    """An OSError as a clerk reads it: the path and what went wrong."""
    what = os_words(e)
    return f"{e.filename}: {what}" if e.filename is not None else what


def consolidated_name_problem(path: str | Path) -> str | None:
    """Why `path` cannot take a consolidated workbook (it must be named .xlsx: Excel opens a file by its
    name), or None. Checked by the command line before any file is read and by the writer itself."""
    if Path(path).suffix.lower() != ".xlsx":
        return f"Tệp tổng hợp phải có đuôi .xlsx: {path}"
    return None
