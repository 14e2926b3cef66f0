"""What the service keeps on disk (SQLite database, signing key, secrets) is its user's alone.

The data directory is 0700 and its files 0600. A directory or file found open to other users (made
by an older version, or by hand) is tightened, with a warning, rather than refused: refusing would
stop a running installation over a mode it can fix itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

_OTHERS = 0o077  # group and world bits


def _tighten(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if not mode & _OTHERS:
        return
    tightened = mode & ~_OTHERS
    try:
        path.chmod(tightened)
    except OSError as exc:
        logger.warning(
            "%s is mode %03o, open to other users, and cannot be changed (%s): make it %03o",
            path,
            mode,
            exc.strerror,
            tightened,
        )
        return
    logger.warning("%s was mode %03o, open to other users: now %03o", path, mode, tightened)


def private_directory(path: Path) -> Path:
    """`path`, created (with its parents) mode 0700 or tightened to it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path)
    return path


def private_file(path: Path) -> None:
    """An existing file open to other users is tightened to its owner's bits."""
    _tighten(path)


def private_sqlite_database(path: Path) -> None:
    """Create the database file 0600 before SQLite does: SQLite would make it 0644, and gives
    the -wal and -shm files it creates later the database file's mode. Existing ones are
    tightened. A missing directory is left for SQLite to report."""
    if not path.parent.is_dir():
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        private_file(path.with_name(path.name + suffix))
