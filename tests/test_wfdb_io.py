"""The WFDB header parser and fast reader against wfdb-python, the reference implementation."""

import datetime as dt

import numpy as np
import pytest
import wfdb
from conftest import section

from ecgwm.data import ingest, wfdb_io
from ecgwm.data.mimic import MIMIC_LEADS, to_adu, write_record


def _bases(tiny_cohort, n=6):
    root, records, _ = tiny_cohort
    return [root / p for p in records["path"].iloc[:n]]


def _agree(hdr: wfdb_io.Header, ref: wfdb.Record) -> None:
    assert hdr.fs == ref.fs and hdr.n_samples == ref.sig_len
    assert [s.name for s in hdr.signals] == [n or "" for n in ref.sig_name]
    assert [s.fmt for s in hdr.signals] == ref.fmt
    assert [s.file for s in hdr.signals] == ref.file_name
    assert [s.spf for s in hdr.signals] == list(ref.samps_per_frame)
    assert [s.baseline for s in hdr.signals] == list(ref.baseline)
    assert [s.units for s in hdr.signals] == list(ref.units)
    assert [s.checksum for s in hdr.signals] == list(ref.checksum or [None] * len(hdr.signals))
    # wfdb fills a missing gain with WFDB's default (200); the parser keeps 0 = "not given"
    assert [s.gain or 200.0 for s in hdr.signals] == list(ref.adc_gain)


def test_header_parser_agrees_with_wfdb_on_the_cohort(tiny_cohort):
    for base in _bases(tiny_cohort):
        hdr = wfdb_io.read_header(base)
        _agree(hdr, wfdb.rdheader(str(base)))
        assert hdr.fs == 500 and hdr.n_samples == 5000 and [s.name for s in hdr.signals] == list(MIMIC_LEADS)
        assert hdr.fast_path() and any(c.startswith("<subject_id>") for c in hdr.comments)
        dat = base.with_suffix(".dat")
        assert hdr.file_sizes() == {dat.name: dat.stat().st_size}


ODD = """\
odd 4 250/1000(3) 100 12:00:00 01/01/2000
odd.dat 16x2 200(5)/mV 16 0 7 123 0 lead I with spaces
odd.dat 16+24 100/uV 12 3 -2 -5 0 II
odd.dat 16
odd.dat 16 400/mV 16 -7 0 9 0 V1
# a comment
"""


def test_odd_but_valid_signal_lines_agree_with_wfdb(tmp_path):
    (tmp_path / "odd.hea").write_text(ODD)
    hdr = wfdb_io.read_header(tmp_path / "odd")
    _agree(hdr, wfdb.rdheader(str(tmp_path / "odd")))
    i, ii, bare, v1 = hdr.signals
    assert (i.spf, i.gain, i.baseline, i.checksum, i.name) == (2, 200.0, 5, 123, "lead I with spaces")
    assert (ii.offset, ii.gain, ii.units, ii.baseline, ii.checksum) == (24, 100.0, "uV", 3, -5)
    assert (bare.gain, bare.checksum, bare.name) == (0.0, None, "")
    assert v1.baseline == -7  # no (baseline): the ADC zero
    assert hdr.fs == 250.0 and hdr.comments == ["a comment"]
    assert not hdr.fast_path()  # 2 samples per frame, a missing gain
    # one file: offset 0 of its first signal, 5 samples per frame of 2 bytes
    assert hdr.file_sizes() == {"odd.dat": 100 * 5 * 2}


def test_format_212_lines_agree_with_wfdb(tmp_path):
    (tmp_path / "r.hea").write_text("r 3 500 11\nr.dat 212 200/mV 12 0 0 0 0 V1\nr.dat 212 200 12 4 0 0 0 V2\n"
                                    "s.dat 80 20(-3)/mV 8 0 0 17 0 V3\n")
    hdr = wfdb_io.read_header(tmp_path / "r")
    _agree(hdr, wfdb.rdheader(str(tmp_path / "r")))
    assert [s.baseline for s in hdr.signals] == [0, 4, -3] and not hdr.fast_path()
    # 11 frames of 2 signals at 1.5 bytes: 33 bytes; 11 bytes of format 80
    assert hdr.file_sizes() == {"r.dat": 33, "s.dat": 11}


@pytest.mark.parametrize("text,match", [
    ("", "empty header"),
    ("multi/2 2 500 5000\n", "single-segment"),
    ("r 2 500 5000\nr.dat 16 200/mV 16 0 0 0 0 I\n", "2 signals announced, 1"),
    ("r 1 5x0 5000\nr.dat 16 200/mV\n", "bad record line"),
    ("r 1 500 5000\nr.dat 16q 200/mV\n", "bad signal format"),
    ("r 1 500 5000\nr.dat 16 gain/mV\n", "bad gain"),
])
def test_broken_headers_say_where(text, match):
    with pytest.raises(wfdb_io.HeaderError, match=match):
        wfdb_io.parse_header(text)


def test_fast_path_reads_the_physical_values_of_wfdb(tiny_cohort, tmp_path):
    for base in _bases(tiny_cohort, 3):
        hdr = wfdb_io.read_header(base)
        x = wfdb_io.to_physical(wfdb_io.read_digital_16(base, hdr), hdr)
        ref = wfdb.rdrecord(str(base))
        assert x.shape == (5000, 12)
        np.testing.assert_array_equal(x, ref.p_signal)
        np.testing.assert_array_equal(wfdb_io.checksum16(wfdb_io.read_digital_16(base, hdr)), ref.checksum)
    # missing samples (format 16's -32768) are NaN in both
    mv = wfdb.rdrecord(str(_bases(tiny_cohort)[0])).p_signal.T.copy()
    mv[3, 100:110] = np.nan
    write_record(tmp_path, "1", 1, 2, to_adu(mv), MIMIC_LEADS, dt.datetime(2180, 1, 1))
    hdr = wfdb_io.read_header(tmp_path / "1")
    x = wfdb_io.to_physical(wfdb_io.read_digital_16(tmp_path / "1", hdr), hdr)
    ref = wfdb.rdrecord(str(tmp_path / "1")).p_signal
    assert np.isnan(x[100:110, 3]).all() and np.isnan(x).sum() == 10
    np.testing.assert_array_equal(np.isnan(x), np.isnan(ref))
    np.testing.assert_array_equal(x[~np.isnan(x)], ref[~np.isnan(ref)])


def _wrsamp(tmp_path, name, d, fmt, gain):
    wfdb.wrsamp(name, fs=500, units=["mV"] * 12, sig_name=list(MIMIC_LEADS), d_signal=d, fmt=[fmt] * 12,
                adc_gain=[gain] * 12, baseline=[0] * 12, write_dir=str(tmp_path))
    return tmp_path / name


@pytest.mark.parametrize("fmt,gain", [("212", 200.0), ("80", 20.0), ("24", 200.0)])
def test_other_formats_read_through_wfdb_like_the_fast_path(tiny_cohort, tmp_path, fmt, gain):
    mv = wfdb.rdrecord(str(_bases(tiny_cohort)[1])).p_signal  # (5000, 12)
    d = np.clip(np.round(mv * gain), -127, 127).astype(np.int64)  # in range for every format tried
    other = _wrsamp(tmp_path, f"f{fmt}", d, fmt, gain)
    fast = _wrsamp(tmp_path, "f16", d, "16", gain)
    assert not wfdb_io.read_header(other).fast_path() and wfdb_io.read_header(fast).fast_path()
    hdr = wfdb_io.read_header(other)
    assert hdr.file_sizes() == {f"f{fmt}.dat": (tmp_path / f"f{fmt}.dat").stat().st_size}
    cfg = section("signal")
    x_other = ingest.read_record(other, cfg)
    x_fast = ingest.read_record(fast, cfg)
    assert x_other.shape == (12, 1000) and np.ptp(x_other, axis=1).min() > 0.1
    np.testing.assert_array_equal(x_other, x_fast)


def test_checksum16_is_the_signed_16_bit_sum():
    d = np.array([[32767, -1], [1, -32768], [0, -1]], np.int16)  # sums 32768, -32770
    assert wfdb_io.checksum16(d).tolist() == [-32768, 32766]
