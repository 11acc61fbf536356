"""Run stages and the whole pipeline in temporary copies of the repository."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def env() -> dict:
    """The environment a stage needs: this interpreter's bin first on PATH (DVC runs `python`)."""
    e = dict(os.environ)
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e.get("PATH", "")
    e["PYTHONPATH"] = str(REPO / "src")
    e["DVC_NO_ANALYTICS"] = "1"
    return e


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 1800) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    return p


def commit(repo: Path, msg: str) -> None:
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", msg], repo)


def copy_repo(dst: Path) -> Path:
    """A fresh git + DVC repository holding the project's tracked and untracked-unignored files."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    dst.mkdir(parents=True, exist_ok=True)
    for f in filter(None, files):
        src = REPO / f
        if src.is_file() and not f.startswith(("dvc.lock", "metrics/", "plots/", "dvclive/")):
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f)
    run(["git", "init", "-q"], dst)
    commit(dst, "copy")
    return dst


def set_params(repo: Path, **overrides: dict) -> None:
    p = repo / "params.yaml"
    raw = yaml.safe_load(p.read_text())
    for section, values in overrides.items():
        if isinstance(values, dict):
            raw[section].update(values)
        else:
            raw[section] = values
    p.write_text(yaml.safe_dump(raw, sort_keys=False))


def stage(name: str, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, str(REPO / "stages" / f"{name}.py"), *map(str, args)], cwd, check=check)
