"""Where abseg keeps its files, and the one way it writes them (atomically, owner-only)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CONFIG_DIR_ENV = "ABSEG_CONFIG_DIR"


def config_dir() -> Path:
    """``ABSEG_CONFIG_DIR`` when set (tests and CI isolate themselves with it), else the platform's."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("abseg", appauthor=False))


def connectors_dir() -> Path:
    return config_dir() / "connectors"


def atomic_write_text(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a half.

    The temporary file is created in the target directory (a rename is only atomic within one file
    system) with owner-only permissions from the start, flushed to disk, then renamed over the target.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
