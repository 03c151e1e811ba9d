"""Writing secret files (credentials, tokens): owner-only, never through a planted link.

A secret is written to a fresh temporary file in the target's folder, created exclusively
(``O_CREAT | O_EXCL | O_NOFOLLOW``) with mode 0600 set explicitly (whatever the umask or the
mode of a file it replaces), flushed to disk, and renamed over the target. The rename replaces a
symbolic link at the target instead of writing where it points, and an old file's mode or owner
is never inherited. Readers see the old content or the new, never half of it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

SECRET_MODE = 0o600
FOLDER_MODE = 0o700


def write_secret(path: Path, data: str | bytes, *, mode: int = SECRET_MODE) -> None:
    """Replace ``path`` with ``data`` as a new file of ``mode`` (0600), following no link."""
    body = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=FOLDER_MODE)
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(f"{path} is a directory, not a file")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        tmp = f".{path.name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, flags, mode, dir_fd=dir_fd)
        try:
            try:
                os.fchmod(fd, mode)  # the umask may have taken bits away; set exactly
                view = memoryview(body)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
