"""Atomic outputs and the stage entry point.

DVC caches whatever a stage leaves behind, so every output is written under a temporary name
(`.NAME.tmp-PID` beside it) and renamed into place only when complete; a failing stage leaves
nothing half-written. A process killed outright (kill -9, the OOM killer) cannot clean up, so
every temporary sibling whose process is gone is removed the next time that output is written,
and, whatever DVC does next, when any stage starts (`sweep_stale_temps`).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from ecgwm.core.errors import EcgwmError

log = logging.getLogger("ecgwm")
TMP_TAG = ".tmp-"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete `.NAME.tmp-PID` siblings of `path` left by processes that no longer exist."""
    removed = []
    prefix = f".{path.name}{TMP_TAG}"
    if not path.parent.is_dir():
        return removed
    for tmp in path.parent.iterdir():
        if not tmp.name.startswith(prefix):
            continue
        pid = tmp.name[len(prefix):]
        if pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid)):
            continue  # another live run is writing it
        _remove(tmp)
        removed.append(tmp)
    if removed:
        log.info("removed %d stale temporary output(s) of %s from an interrupted run", len(removed), path)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` (file or folder); move it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}{TMP_TAG}{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        if not tmp.exists():
            raise EcgwmError(f"{path}: the stage did not write this output")
        _remove(path)
        os.replace(tmp, path)
    except OSError as e:
        if e.filename is None:  # a write into an open file (a full disk) says no path: name the output
            e.filename = str(path)
        raise
    finally:
        if tmp.exists():
            _remove(tmp)


def output_folders(dvc_yaml: Path) -> list[Path]:
    """The folders that hold dvc.yaml's outputs (where their temporary siblings live), up to the
    first templated part of each path (`${...}` of a foreach)."""
    if not dvc_yaml.is_file():
        return []
    import yaml

    try:
        doc = yaml.load(dvc_yaml.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError:
        return []  # DVC itself reports a broken dvc.yaml
    folders = set()
    for stage in (doc.get("stages") or {}).values():
        body = stage.get("do", stage) if isinstance(stage, dict) else {}
        for key in ("outs", "metrics", "plots"):
            for out in body.get(key) or []:
                out = next(iter(out)) if isinstance(out, dict) else out
                if isinstance(out, str):
                    parent = Path(out.split("${")[0]).parent if "${" in out else Path(out).parent
                    folders.add(dvc_yaml.parent / parent)
    return sorted(folders)


def sweep_stale_temps(repo: str | Path = ".") -> list[Path]:
    """Remove every `.NAME.tmp-PID` of a dead process beside any of the repository's outputs.

    Run when any stage starts: after kill -9, DVC may restore the killed stage's outputs from its
    run cache and never run that stage again, so its own `remove_stale_temps` would never fire.
    """
    removed = []
    for folder in output_folders(Path(repo) / "dvc.yaml"):
        if not folder.is_dir():
            continue
        outputs = {name[1:name.rindex(TMP_TAG)] for name in os.listdir(folder)
                   if name.startswith(".") and TMP_TAG in name}
        for name in sorted(outputs):
            removed += remove_stale_temps(folder / name)
    return removed


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise EcgwmError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise EcgwmError(f"{path}: not valid JSON ({e})") from e


def default_workers() -> int:
    """Worker processes for the file-bound stages (writing and reading WFDB records)."""
    return max(1, min(4, os.cpu_count() or 1))


def process_pool(workers: int, fork: bool, initializer: Callable[[], None] | None = None):
    """A pool of worker processes. fork=True: on Linux they are forked from this process, so they
    start at once with what it has loaded (a spawned worker imports everything again, 1-3 s); the
    caller must not have run a torch op on several threads before (a forked child of a process that
    ran an OpenMP region on several threads can hang). Otherwise, and on macOS and Windows, spawned."""
    import concurrent.futures as cf
    import multiprocessing as mp

    method = "fork" if fork and sys.platform == "linux" else "spawn"
    return cf.ProcessPoolExecutor(workers, mp_context=mp.get_context(method), initializer=initializer)


def os_error_line(e: OSError) -> str:
    """One line naming the path and what the OS said (a full disk, a read-only folder, ...)."""
    where = e.filename if e.filename is not None else "(no path)"
    extra = f" -> {e.filename2}" if getattr(e, "filename2", None) else ""
    hint = {errno.ENOSPC: " (the disk is full)", errno.EROFS: " (read-only file system)",
            errno.EACCES: " (no permission)", errno.EDQUOT: " (disk quota exceeded)"}.get(e.errno, "")
    return f"{where}{extra}: {e.strerror or e}{hint}"


TIMINGS_ENV = "ECGWM_TIMINGS"  # a TSV file: each stage run appends its command and wall seconds


def _record_timing(seconds: float) -> None:
    """Log the stage's work time; with $ECGWM_TIMINGS also append it and the whole process's time
    (interpreter start and imports included) for `python -m ecgwm.bench stages`."""
    log.info("stage done in %.1f s", seconds)
    path = os.environ.get(TIMINGS_ENV)
    if path:
        with open(path, "a") as f:
            f.write(f"{' '.join(sys.argv)}\t{seconds:.2f}\t{process_age():.2f}\n")


def process_age() -> float:
    """Seconds since this process started. On Linux from the kernel's clock since boot (to its 10 ms
    tick): psutil's create_time adds a boot time the kernel gives in whole seconds, so an age from
    it is off by up to a second, the same for every process until the next boot."""
    if sys.platform.startswith("linux"):
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        start_ticks = int(fields[19])  # field 22 of proc(5): starttime, in clock ticks since boot
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    import psutil  # a DVC dependency

    return time.time() - psutil.Process().create_time()


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main(); a user-facing or OS error becomes one line on stderr and exit code 1.
    The stage's wall time is logged (and appended to $ECGWM_TIMINGS when set, for the benchmarks)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    try:
        sweep_stale_temps()
        main()
        _record_timing(time.perf_counter() - t0)
        if main.__module__ == "__main__":  # the stage is the program, and it ends here
            # At exit the interpreter runs the cyclic collector over every object torch, pandas and
            # matplotlib made: 0.2-0.5 s per stage. Frozen objects are never examined by it again:
            # reference counting still frees those outside cycles, cyclic garbage is left to the OS
            # (its finalizers do not run), so only once every output is closed, as it is here.
            # Not in a process that goes on (a test calling main): what is alive now and garbage
            # later would never be collected there.
            gc.freeze()
    except EcgwmError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except OSError as e:
        print(f"error: {os_error_line(e)}", file=sys.stderr)
        sys.exit(1)
