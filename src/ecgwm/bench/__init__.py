"""Benchmarks that print numbers: `python -m ecgwm.bench TARGET` (`--help` lists the targets).

Timings are wall-clock on the machine they run on; run them on an idle machine and report the
command with the number. Nothing here is a test: speed and memory targets are checked by reading
what these print.
"""

from __future__ import annotations

import resource
import time
from contextlib import contextmanager
from typing import Iterator


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its largest waited-for child), MB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


@contextmanager
def timer() -> Iterator[list[float]]:
    """with timer() as t: ...  then t[0] holds the seconds."""
    out = [0.0]
    t0 = time.perf_counter()
    try:
        yield out
    finally:
        out[0] = time.perf_counter() - t0


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    import platform

    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def reference_workload(repeats: int = 5) -> float:
    """Seconds (median of `repeats`) of a fixed CPU workload shaped like the pipeline's: forward and
    backward of a 1-D convolution block (64 channels, kernel 5, 64 records x 1,000 samples) ten times,
    on every thread torch uses. A reader scales this project's times by their machine's figure."""
    import statistics

    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv1d(64, 64, 5, padding=2), torch.nn.BatchNorm1d(64), torch.nn.ReLU(),
                              torch.nn.Conv1d(64, 64, 5, padding=2))
    x = torch.randn(64, 64, 1000)
    times = []
    for _ in range(repeats + 1):  # the first repeat warms up
        with timer() as t:
            for _ in range(10):
                net(x).square().mean().backward()
        times.append(t[0])
    return statistics.median(times[1:])


def machine_line() -> str:
    """CPU model, cores, torch threads and the reference workload: printed beside every timing."""
    import os

    import torch

    return (f"machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} on "
            f"{torch.get_num_threads()} threads; reference workload {reference_workload():.2f} s "
            "(python -m ecgwm.bench machine)")
