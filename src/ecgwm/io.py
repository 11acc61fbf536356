"""Atomic outputs and the stage entry point.

DVC caches whatever a stage leaves behind, so every output is written under a temporary name
and renamed into place only when complete; a failing stage leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from ecgwm.errors import EcgwmError

log = logging.getLogger("ecgwm")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` (file or folder); move it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        if not tmp.exists():
            raise EcgwmError(f"{path}: the stage did not write this output")
        _remove(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            _remove(tmp)


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise EcgwmError(f"{path}: file not found")
    return json.loads(path.read_text())


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main(); a user-facing error becomes one line on stderr and exit code 1."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        main()
    except EcgwmError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
