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
