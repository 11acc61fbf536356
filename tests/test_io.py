"""Atomic outputs leave no litter, even after a kill -9; OS errors in a stage are one line."""

import gc
import os
import subprocess
import sys
import textwrap
import time

import pytest
from helpers import env

from ecgwm.core import io


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_atomic_path_removes_stale_temps_of_dead_processes_and_keeps_live_ones(tmp_path):
    out = tmp_path / "waveforms.npy"
    dead_file, dead_dir = _dead_pid(), _dead_pid()
    live = os.getppid()  # the process that started pytest: alive for the whole test
    (tmp_path / f".waveforms.npy.tmp-{dead_file}").write_bytes(b"half")
    (tmp_path / f".waveforms.npy.tmp-{dead_dir}").mkdir()
    (tmp_path / f".waveforms.npy.tmp-{dead_dir}" / "part").write_text("x")
    (tmp_path / f".waveforms.npy.tmp-{live}").write_bytes(b"another run")
    (tmp_path / f".other.npy.tmp-{dead_file}").write_bytes(b"another output's")
    with io.atomic_path(out) as tmp:
        assert tmp.name == f".waveforms.npy.tmp-{os.getpid()}" and tmp.parent == tmp_path
        tmp.write_bytes(b"done")
    assert out.read_bytes() == b"done"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["waveforms.npy", f".waveforms.npy.tmp-{live}", f".other.npy.tmp-{dead_file}"])


def test_remove_stale_temps_reports_what_it_removed(tmp_path):
    dead = _dead_pid()
    stale = tmp_path / f".m.pt.tmp-{dead}"
    stale.write_text("x")
    assert io.remove_stale_temps(tmp_path / "m.pt") == [stale] and not stale.exists()
    assert io.remove_stale_temps(tmp_path / "absent" / "m.pt") == []


def test_atomic_path_leaves_nothing_on_an_exception(tmp_path):
    out = tmp_path / "labels.parquet"
    out.write_text("previous")
    with pytest.raises(RuntimeError, match="boom"):
        with io.atomic_path(out) as tmp:
            tmp.write_text("half written")
            raise RuntimeError("boom")
    assert out.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["labels.parquet"]
    folder = tmp_path / "live"
    with pytest.raises(RuntimeError):
        with io.atomic_path(folder) as tmp:
            (tmp / "sub").mkdir(parents=True)
            (tmp / "sub" / "f").write_text("x")
            raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.parquet"]


def test_atomic_path_replaces_a_folder_and_requires_an_output(tmp_path):
    out = tmp_path / "plots"
    (out / "old").mkdir(parents=True)
    with io.atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "new").write_text("x")
    assert [p.name for p in out.iterdir()] == ["new"]
    with pytest.raises(io.EcgwmError, match="did not write this output"):
        with io.atomic_path(tmp_path / "never.json"):
            pass


def _stage(tmp_path, body: str) -> subprocess.CompletedProcess:
    script = tmp_path / "stage.py"
    script.write_text("import errno, os\nfrom pathlib import Path\nfrom ecgwm.core.io import atomic_path, run_stage\n\n"
                      "def main():\n" + textwrap.indent(textwrap.dedent(body), "    ") + "\nrun_stage(main)\n")
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env(), capture_output=True, text=True,
                          timeout=60)


def test_a_stage_run_as_the_program_freezes_the_heap_before_exit_and_a_called_one_does_not(tmp_path, monkeypatch):
    # the program's own stage: frozen before exit (atexit handlers run after it)
    p = _stage(tmp_path, 'import atexit, gc\natexit.register(lambda: print("frozen", gc.get_freeze_count() > 0))')
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "frozen True"
    # a stage's main called from a process that goes on (the in-process stage tests): nothing frozen
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(io.TIMINGS_ENV, raising=False)
    before = gc.get_freeze_count()
    try:
        io.run_stage(lambda: None)
        assert gc.get_freeze_count() == before
    finally:
        if gc.get_freeze_count() != before:
            gc.unfreeze()  # leave this test process as it was, whatever the outcome
    # and a failing stage exits without it
    p = _stage(tmp_path, 'import atexit, gc\natexit.register(lambda: print("frozen", gc.get_freeze_count() > 0))\n'
                         'from ecgwm.core.errors import EcgwmError\nraise EcgwmError("no")')
    assert p.returncode == 1 and p.stdout.strip() == "frozen False"


def _one_error_line(p) -> str:
    assert p.returncode == 1, p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert "Traceback" not in p.stderr
    return lines[0]


def test_a_full_disk_is_one_line_naming_the_path(tmp_path):
    p = _stage(tmp_path, 'raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/waveforms.npy")')
    assert _one_error_line(p) == "error: /data/waveforms.npy: No space left on device (the disk is full)"


def test_writing_under_a_regular_file_is_one_line_naming_the_path(tmp_path):
    (tmp_path / "data").write_text("a file where a folder should be")
    p = _stage(tmp_path, 'Path("data/labels.parquet").write_text("x")')
    assert _one_error_line(p).startswith("error: data/labels.parquet: Not a directory")
    # the same through an atomic output, which first makes the parent folder
    p = _stage(tmp_path, 'with atomic_path("data/sub/labels.parquet") as tmp:\n    tmp.write_text("x")')
    assert _one_error_line(p) == "error: data/sub: Not a directory"


def test_a_user_error_is_one_line_too(tmp_path):
    p = _stage(tmp_path, 'from ecgwm.core.errors import EcgwmError\nraise EcgwmError("params.yaml: seed must be ...")')
    assert _one_error_line(p) == "error: params.yaml: seed must be ..."


def test_an_os_error_without_a_path_inside_an_atomic_output_names_the_output(tmp_path):
    import errno

    out = tmp_path / "waveforms.npy"
    with pytest.raises(OSError) as e:
        with io.atomic_path(out) as tmp:
            tmp.write_bytes(b"half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a write into an open file says it
    assert e.value.filename == str(out)
    assert io.os_error_line(e.value) == f"{out}: No space left on device (the disk is full)"
    assert list(tmp_path.iterdir()) == []


def test_the_sweep_removes_dead_temps_beside_every_dvc_output_and_nothing_else(tmp_path):
    (tmp_path / "dvc.yaml").write_text(textwrap.dedent("""\
        stages:
          a:
            cmd: x
            outs:
              - data/labels.parquet
          b:
            foreach: [1, 2]
            do:
              cmd: y
              outs:
                - models/probe-${item}.pt
              metrics:
                - metrics/rows/x.json:
                    cache: false
    """))
    dead, live = _dead_pid(), os.getppid()
    for folder in ("data", "models", "metrics/rows", "elsewhere"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / f".embeddings.npy.tmp-{dead}").write_bytes(b"x")
    (tmp_path / "data" / f".live.npy.tmp-{live}").write_bytes(b"x")
    (tmp_path / "data" / ".hidden").write_bytes(b"x")
    assert io.output_folders(tmp_path / "dvc.yaml") == [tmp_path / "data", tmp_path / "metrics/rows",
                                                         tmp_path / "models"]
    removed = io.sweep_stale_temps(tmp_path)
    assert sorted(p.parent.name for p in removed) == ["data", "models", "rows"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [".hidden", f".live.npy.tmp-{live}"]
    assert (tmp_path / "elsewhere" / f".embeddings.npy.tmp-{dead}").exists()  # not an output folder
    assert io.sweep_stale_temps(tmp_path / "no-repo-here") == []


def test_a_stage_records_its_process_age_to_the_tick(tmp_path):
    """The benchmarks' per-stage time is the process's age: never more than the wall time measured
    around it (psutil's create_time, from a boot time in whole seconds, was up to a second more)."""
    code = "import time; time.sleep(0.3); from ecgwm.core.io import process_age; print(process_age())"
    for _ in range(3):
        t0 = time.time()
        p = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=60)
        wall = time.time() - t0
        assert p.returncode == 0, p.stderr
        age = float(p.stdout)
        assert 0.3 <= age <= wall + 0.011, (age, wall)  # + one 10 ms clock tick


def _mark():
    return getattr(io, "MARK", None), os.getpid()


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_a_forked_pool_starts_from_this_process_and_a_spawned_one_afresh(monkeypatch):
    """The probe and report stages fork their workers so that these start with what the stage loaded."""
    monkeypatch.setattr(io, "MARK", "set after import", raising=False)
    with io.process_pool(1, fork=True) as pool:
        mark, pid = pool.submit(_mark).result()
    assert mark == "set after import" and pid != os.getpid()
    with io.process_pool(1, fork=False) as pool:
        assert pool.submit(_mark).result()[0] is None
