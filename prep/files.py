"""The one safe writer: every file prep writes goes through it.

Each write goes to a fresh temporary file beside the target (a random name created with O_EXCL and
O_NOFOLLOW, so two processes never share one and a planted symlink is never followed), is flushed
and fsynced, and is then renamed over the target in one step: readers see the old file or the new
one, never half of either. On any failure, KeyboardInterrupt included, the temporary file is removed
and the target is left as it was.

If the target itself is a symlink, the link is replaced by a regular file: prep never writes through
a link into whatever it points at. An existing target keeps its permission bits; a new file gets
0o644 less the umask.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

DEFAULT_MODE = 0o644  # new files; the umask still applies
CHUNK = 1 << 20  # copy_file reads its source this much at a time
_NAME_KEEP = 200  # of the target's name in the temporary name, to stay under NAME_MAX (255)
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}


def write_bytes(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Replace `path` with `data` (with `exclusive`, refuse with FileExistsError if `path` exists)."""
    with _staged(Path(path), exclusive) as (_, fd):
        _write_all(fd, data)


def write_text(path: Path, text: str, encoding: str = "utf-8", errors: str = "strict", newline: str | None = None,
               *, exclusive: bool = False) -> None:
    """`write_bytes` of `text`; `newline` as in Path.write_text (None: os.linesep, "" or "\\n": as is)."""
    newline = os.linesep if newline is None else newline
    if newline not in ("", "\n"):
        text = text.replace("\n", newline)
    write_bytes(path, text.encode(encoding, errors), exclusive=exclusive)


def copy_file(source: Path, path: Path, *, exclusive: bool = False) -> None:
    """Copy `source` to `path` through a temporary file, reading the source in chunks."""
    with open(source, "rb") as reading, _staged(Path(path), exclusive) as (_, fd):
        while chunk := reading.read(CHUNK):
            _write_all(fd, chunk)


@contextlib.contextmanager
def replacing(path: Path, *, exclusive: bool = False) -> Iterator[Path]:
    """A fresh temporary path beside `path` for writers that need a path of their own (sqlite's
    backup, genanki); when the block ends it is fsynced and renamed over `path`, on any exception
    it is removed. The writer may truncate and rewrite it, but must not replace it with a symlink."""
    with _staged(Path(path), exclusive, reopen=True) as (temporary, _):
        yield temporary


def target_of(error: BaseException) -> Path | None:
    """The file this module was writing when it raised `error`, else None (for the CLI's message)."""
    return getattr(error, "prep_target", None)


@contextlib.contextmanager
def _staged(path: Path, exclusive: bool, reopen: bool = False) -> Iterator[tuple[Path, int]]:
    """A temporary file for `path` and its open descriptor: installed over `path` when the block ends,
    removed on failure. With `reopen` the block gets no descriptor (-1): its writer opens the path
    itself, and the file is opened again afterwards to be fsynced, in case the writer recreated it."""
    temporary, fd = _create(path)
    try:
        try:
            if reopen:
                os.close(fd)
                fd = -1
            yield temporary, fd
            if reopen:
                fd = os.open(temporary, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
            _settle(fd, path)
        finally:
            if fd >= 0:
                os.close(fd)
        _install(temporary, path, exclusive)
    except BaseException as error:
        _discard(temporary, error, path)
        raise


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # os.write may write less than asked
        view = view[os.write(fd, view):]


def _create(path: Path) -> tuple[Path, int]:
    """A new, empty, uniquely named file beside `path` with the mode `path` should end up with."""
    prefix = "." + path.name[:_NAME_KEEP] + "."
    for _ in range(100):
        temporary = path.with_name(prefix + secrets.token_hex(6) + ".tmp")
        try:
            # the mode passed to open is reduced by the umask: 0o644 becomes what a new file should get
            return temporary, os.open(temporary, _FLAGS, DEFAULT_MODE)
        except FileExistsError:
            continue  # taken (by chance, or by a planted name): draw another
        except OSError as error:
            _mark(error, path)
            raise
    error = FileExistsError(errno.EEXIST, "no free temporary file name", str(path))
    _mark(error, path)
    raise error


def _settle(fd: int, path: Path) -> None:
    """Give the finished temporary file the target's mode and put its bytes on disk."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if stat.S_ISREG(st.st_mode):  # keep the mode the user gave the file (not a symlink's 0o777)
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
    os.fsync(fd)


def _install(temporary: Path, path: Path, exclusive: bool) -> None:
    if exclusive:
        try:
            os.link(temporary, path, follow_symlinks=False)  # fails if `path` exists, even as a dangling link
        except OSError as error:
            if error.errno not in _NO_HARD_LINKS:
                raise
            # a filesystem without hard links: check, then rename (a narrow race, but no overwrite in practice)
            if os.path.lexists(path):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None
            os.replace(temporary, path)
        else:
            os.unlink(temporary)
    else:
        os.replace(temporary, path)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Put the rename itself on disk; best effort (not every system can open or fsync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _discard(temporary: Path, error: BaseException, path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(temporary)
    if isinstance(error, OSError):
        _mark(error, path)


def _mark(error: OSError, path: Path) -> None:
    # os.write and fsync errors name no file, open's names the random temporary: name the target instead
    error.filename = str(path)
    if error.filename2 is not None:
        del error.filename2  # (assigning None would print as "-> None")
    error.prep_target = path  # type: ignore[attr-defined]
