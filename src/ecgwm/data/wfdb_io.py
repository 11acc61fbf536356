"""Reading WFDB records: a small header parser and a fast path for the common layout.

wfdb-python parses a header through pandas, cell by cell (about 16 ms a header with pandas 3),
which made header parsing most of the cost of ingesting MIMIC-IV-ECG. The header format is
simple text (PhysioNet's WFDB header specification), so it is parsed here; records whose
signals all sit in one format-16 file (MIMIC-IV-ECG, PTB-XL) are read with numpy, and any other
layout falls back to wfdb-python.

Record line:  NAME[/SEGS] N_SIG [FS[/COUNTER[(BASE)]] [N_SAMPLES [TIME [DATE]]]]
Signal line:  FILE FORMAT[xSPF][:SKEW][+OFFSET] [GAIN[(BASELINE)][/UNITS] [RES [ZERO [INIT [CHECKSUM [BLOCK [DESC]]]]]]]
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

# bytes per sample of WFDB's fixed-size formats (the WFDB signal-file specification)
BYTES_PER_SAMPLE = {"8": 1.0, "16": 2.0, "24": 3.0, "32": 4.0, "61": 2.0, "80": 1.0, "160": 2.0, "212": 1.5,
                    "310": 4 / 3, "311": 4 / 3}
MISSING_16 = -32768  # format 16's marker for a missing sample
_FORMAT = re.compile(r"^(?P<fmt>\d+)(?:x(?P<spf>\d+))?(?::(?P<skew>\d+))?(?:\+(?P<offset>\d+))?$")
_GAIN = re.compile(r"^(?P<gain>[-+0-9.eE]+)(?:\((?P<baseline>-?\d+)\))?(?:/(?P<units>.*))?$")


class HeaderError(ValueError):
    """The header cannot be parsed; the message says where."""


@dataclasses.dataclass
class Signal:
    file: str
    fmt: str
    spf: int  # samples per frame
    skew: int
    offset: int  # byte offset of the first sample in the file
    gain: float  # adu per physical unit (0: not given)
    baseline: int
    units: str
    checksum: int | None
    name: str


@dataclasses.dataclass
class Header:
    name: str
    fs: float
    n_samples: int
    signals: list[Signal]
    comments: list[str]

    def file_sizes(self) -> dict[str, int | None]:
        """Expected size in bytes of each signal file (None for formats without a fixed size)."""
        out: dict[str, int | None] = {}
        for f in dict.fromkeys(s.file for s in self.signals):
            sigs = [s for s in self.signals if s.file == f]
            bps = BYTES_PER_SAMPLE.get(sigs[0].fmt)
            frame = sum(s.spf for s in sigs)
            out[f] = None if bps is None else sigs[0].offset + int(np.ceil(self.n_samples * frame * bps))
        return out

    def fast_path(self) -> bool:
        """One format-16 file, one sample per frame, no skew: readable with numpy alone."""
        return (len({s.file for s in self.signals}) == 1
                and all(s.fmt == "16" and s.spf == 1 and s.skew == 0 and s.gain != 0 for s in self.signals))


def parse_header(text: str) -> Header:
    lines = [ln.strip() for ln in text.splitlines()]
    comments = [ln[1:].strip() for ln in lines if ln.startswith("#")]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise HeaderError("empty header")
    rec = lines[0].split()
    if len(rec) < 2 or "/" in rec[0]:
        raise HeaderError(f"not a single-segment record line: {lines[0]!r}")
    try:
        n_sig = int(rec[1])
        fs = float(rec[2].split("/")[0]) if len(rec) > 2 else 250.0  # WFDB's default frequency
        n_samples = int(rec[3]) if len(rec) > 3 else 0
    except ValueError as e:
        raise HeaderError(f"bad record line {lines[0]!r}") from e
    if len(lines) - 1 < n_sig:
        raise HeaderError(f"{n_sig} signals announced, {len(lines) - 1} signal lines found")
    signals = [_parse_signal(ln) for ln in lines[1:1 + n_sig]]
    return Header(rec[0], fs, n_samples, signals, comments)


def _parse_signal(line: str) -> Signal:
    parts = line.split(maxsplit=8)
    if len(parts) < 2:
        raise HeaderError(f"bad signal line {line!r}")
    m = _FORMAT.match(parts[1])
    if not m:
        raise HeaderError(f"bad signal format {parts[1]!r}")
    gain, baseline, units = 0.0, None, "mV"
    if len(parts) > 2:
        g = _GAIN.match(parts[2])
        if not g:
            raise HeaderError(f"bad gain {parts[2]!r}")
        gain = float(g["gain"])
        baseline = int(g["baseline"]) if g["baseline"] is not None else None
        units = g["units"] or units
    try:
        zero = int(parts[4]) if len(parts) > 4 else 0
        checksum = int(parts[6]) if len(parts) > 6 else None
    except ValueError as e:
        raise HeaderError(f"bad signal line {line!r}") from e
    name = parts[8] if len(parts) > 8 else ""
    return Signal(parts[0], m["fmt"], int(m["spf"] or 1), int(m["skew"] or 0), int(m["offset"] or 0), gain,
                  zero if baseline is None else baseline, units, checksum, name)


def read_header(base: Path) -> Header:
    return parse_header(base.with_suffix(".hea").read_text(errors="replace"))


def read_digital_16(base: Path, hdr: Header) -> np.ndarray:
    """(n_samples, n_sig) int16 samples of a fast-path record (interleaved little-endian)."""
    sig = hdr.signals[0]
    n = hdr.n_samples * len(hdr.signals)
    d = np.fromfile(base.parent / sig.file, dtype="<i2", count=n, offset=sig.offset)
    if len(d) != n:
        raise HeaderError(f"{sig.file}: {len(d)} samples, the header implies {n}")
    return d.reshape(hdr.n_samples, len(hdr.signals))


def checksum16(d: np.ndarray) -> np.ndarray:
    """WFDB checksum of each column: the sum of its samples mod 2^16, read as signed 16-bit."""
    return (d.astype(np.int64).sum(axis=0) & 0xFFFF).astype(np.uint16).astype(np.int16)


def to_physical(d: np.ndarray, hdr: Header) -> np.ndarray:
    """(n_samples, n_sig) digital -> float64 physical units; format 16's missing marker -> NaN."""
    gain = np.array([s.gain for s in hdr.signals])
    base = np.array([s.baseline for s in hdr.signals])
    x = (d.astype(np.float64) - base) / gain
    x[d == MISSING_16] = np.nan
    return x
