"""The waveform cache on clean and corrupted WFDB fixtures."""

import datetime as dt
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import wfdb
from conftest import section

from ecgwm.core.errors import EcgwmError
from ecgwm.data import ingest, waveform_cache, wfdb_io
from ecgwm.data.mimic import to_adu, write_record

SIG = dict(max_reject_frac=1.0)


def _copy_tree(tiny_cohort, tmp_path, n=8):
    root, records, _ = tiny_cohort
    dst = tmp_path / "tree"
    sub = records.iloc[:n]
    for path in sub["path"]:
        for ext in (".hea", ".dat"):
            (dst / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(root / (path + ext), dst / (path + ext))
    sub[["subject_id", "study_id", "ecg_time", "path"]].assign(file_name="x").to_csv(dst / "record_list.csv", index=False)
    table = pd.DataFrame({"study_id": sub["study_id"].to_numpy(), "subject_id": sub["subject_id"].to_numpy(),
                          "split": ["train"] * n})
    return dst, sub.reset_index(drop=True), table


def _read(root, path):
    r = wfdb.rdrecord(str(root / path))
    return r.p_signal.T, list(r.sig_name), r


def _rewrite(root, row, mv, leads):
    when = dt.datetime(2180, 1, 1)
    for ext in (".hea", ".dat"):
        (root / (row.path + ext)).unlink()
    write_record(root, row.path, row.study_id, row.subject_id, to_adu(mv), tuple(leads), when)


def test_clean_records_are_cached_in_order_with_leads_by_name(tiny_cohort, tmp_path):
    root, sub, table = _copy_tree(tiny_cohort, tmp_path)
    cfg = section("signal", **SIG)
    out = tmp_path / "w.npy"
    qc, stats = ingest.build(root, table, cfg, out, workers=1)
    assert len(qc) == 0 and stats["n_train_records"] == len(sub)
    x = np.load(out)
    assert x.shape == (len(sub), 12, 1000) and x.dtype == np.float32
    mv, names, _ = _read(root, sub.path[3])
    # cache order is I, II, III, aVR, aVL, aVF while the file stores aVF before aVL
    assert abs(x[3, 4].std() - mv[names.index("aVL")][::5].std()) < 0.05
    assert abs(x[3, 5].std() - mv[names.index("aVF")][::5].std()) < 0.05
    assert len(stats["mean"]) == 12 and all(s > 0 for s in stats["std"])


def test_corrupted_records_are_rejected_with_reasons(tiny_cohort, tmp_path):
    root, sub, table = _copy_tree(tiny_cohort, tmp_path)
    # 0: truncated .dat
    dat = root / (sub.path[0] + ".dat")
    dat.write_bytes(dat.read_bytes()[: dat.stat().st_size // 2])
    # 1: missing lead V6
    mv, names, _ = _read(root, sub.path[1])
    _rewrite(root, sub.iloc[1], mv[:11], names[:11])
    # 2: NaNs beyond tolerance; 3: a few NaNs, interpolated
    mv, names, _ = _read(root, sub.path[2])
    mv[:, 1000:1400] = np.nan
    _rewrite(root, sub.iloc[2], mv, names)
    mv3, names, _ = _read(root, sub.path[3])
    mv3[2, 2000:2010] = np.nan
    _rewrite(root, sub.iloc[3], mv3, names)
    # 4: flat lead; 5: wrong length; 6: shuffled lead order (must read the same)
    mv, names, _ = _read(root, sub.path[4])
    mv[7] = 0.0
    _rewrite(root, sub.iloc[4], mv, names)
    mv, names, _ = _read(root, sub.path[5])
    _rewrite(root, sub.iloc[5], mv[:, :4000], names)
    clean = ingest.read_record(root / sub.path[6], section("signal"))
    mv, names, _ = _read(root, sub.path[6])
    perm = np.random.default_rng(0).permutation(12)
    _rewrite(root, sub.iloc[6], mv[perm], [names[i] for i in perm])
    # 7: absent from record_list.csv
    rl = pd.read_csv(root / "record_list.csv")
    rl.iloc[:7].to_csv(root / "record_list.csv", index=False)

    out = tmp_path / "w.npy"
    qc, stats = ingest.build(root, table, section("signal", **SIG), out, workers=2)
    reasons = dict(zip(qc["row"], qc["reason"]))
    assert set(reasons) == {0, 1, 2, 4, 5, 7}
    assert reasons[0].startswith("dat size:"), reasons[0]
    assert reasons[1] == "missing lead: V6"
    assert reasons[2].startswith("NaN fraction: ")
    assert reasons[4] == "flat lead: V2"
    assert reasons[5] == "wrong duration: 4000 samples at 500 Hz = 8 s, expected 10 s"
    assert reasons[7] == "not in record_list.csv"
    x = np.load(out)
    assert np.isfinite(x[3]).all()
    np.testing.assert_allclose(x[6], clean, atol=1e-6)
    assert (x[0] == 0).all()
    assert waveform_cache.valid_mask(qc, len(table)).tolist() == [False, False, False, True, False, False, True, False]

    with pytest.raises(EcgwmError, match=r"6 of 8 records rejected.*max_reject_frac=0.5"):
        ingest.build(root, table, section("signal", max_reject_frac=0.5), tmp_path / "v.npy", workers=1)


def test_cache_shape_check(tmp_path):
    np.save(tmp_path / "w.npy", np.zeros((3, 12, 10), np.float32))
    with pytest.raises(EcgwmError, match="3 rows but the labels table has 4"):
        waveform_cache.open_cache(tmp_path / "w.npy", 4)


def _edit_header(root, path, record=None, signal=None):
    """Rewrite a header: record(parts) -> parts of the record line; signal(i, parts) -> parts of signal line i."""
    hea = root / (path + ".hea")
    lines = hea.read_text().splitlines()
    rec = lines[0].split()
    n_sig = int(rec[1])
    if record:
        lines[0] = " ".join(record(rec))
    if signal:
        for i in range(n_sig):
            lines[1 + i] = " ".join(signal(i, lines[1 + i].split(maxsplit=8)))
    hea.write_text("\n".join(lines) + "\n")


def _garbage(root, path, seed=0, matching_checksums=False):
    """Random bytes in place of the samples, the file's size unchanged."""
    dat = root / (path + ".dat")
    size = dat.stat().st_size
    raw = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)
    dat.write_bytes(raw.tobytes())
    assert dat.stat().st_size == size
    if matching_checksums:  # as if the header had been written for these bytes: checksums cannot help
        sums = wfdb_io.checksum16(raw.view("<i2").reshape(-1, 12)).tolist()
        _edit_header(root, path, signal=lambda i, p: p[:6] + [str(sums[i])] + p[7:])


def test_qc_rejects_garbage_and_headers_that_disagree_with_their_file(tiny_cohort, tmp_path):
    root, sub, table = _copy_tree(tiny_cohort, tmp_path)
    _garbage(root, sub.path[0])
    _garbage(root, sub.path[1], seed=1, matching_checksums=True)
    # 2: 250 Hz and 2,500 samples (10 s, as expected) over a 5,000-sample file
    _edit_header(root, sub.path[2], record=lambda r: [r[0], r[1], "250", "2500", *r[4:]])
    # 3: the file matches the header, but 5,000 samples at 250 Hz are 20 s
    _edit_header(root, sub.path[3], record=lambda r: [r[0], r[1], "250", *r[3:]])
    # 4: truncated
    dat = root / (sub.path[4] + ".dat")
    dat.write_bytes(dat.read_bytes()[:-1000])
    out = tmp_path / "w.npy"
    qc, stats = ingest.build(root, table, section("signal", **SIG), out, workers=1)
    reasons = dict(zip(qc["row"], qc["reason"]))
    assert set(reasons) == {0, 1, 2, 3, 4}
    assert re.fullmatch(r"checksum mismatch: lead I, header -?\d+, samples -?\d+", reasons[0]), reasons[0]
    assert re.fullmatch(r"amplitude: \d+\.\d mV in lead \w+ beyond signal\.max_abs_mv=20", reasons[1]), reasons[1]
    name = lambda i: f"{sub.study_id[i]}.dat"  # noqa: E731
    assert reasons[2] == f"dat size: {name(2)} has 120000 bytes, the header implies 60000"
    assert reasons[3] == "wrong duration: 5000 samples at 250 Hz = 20 s, expected 10 s"
    assert reasons[4] == f"dat size: {name(4)} has 119000 bytes, the header implies 120000"
    assert qc["study_id"].tolist() == sub.study_id[:5].tolist() and (qc["path"] == sub.path[:5]).all()
    assert stats["n_rejected"] == 5 and stats["n_train_records"] == 3
    assert stats["rejected_by_reason"] == {"dat size": 2, "checksum mismatch": 1, "amplitude": 1, "wrong duration": 1}
    x = np.load(out)
    assert (x[:5] == 0).all() and (np.ptp(x[5:], axis=2) > 0.1).all()
    # the amplitude limit is what stops the garbage whose checksums match: a loose limit lets it in
    qc, _ = ingest.build(root, table, section("signal", max_abs_mv=1e4, **SIG), tmp_path / "v.npy", workers=1)
    assert 1 not in set(qc["row"]) and 0 in set(qc["row"])


def test_the_training_scaler_is_computed_after_rejection(tiny_cohort, tmp_path):
    root, sub, table = _copy_tree(tiny_cohort, tmp_path)
    _garbage(root, sub.path[2], matching_checksums=True)
    cfg = section("signal", **SIG)
    qc, with_garbage = ingest.build(root, table, cfg, tmp_path / "a.npy", workers=1)
    assert qc["row"].tolist() == [2] and qc["reason"][0].startswith("amplitude: ")
    _, without = ingest.build(root, table.drop(index=2).reset_index(drop=True), cfg, tmp_path / "b.npy",
                                      workers=1)
    assert with_garbage["n_train_records"] == without["n_train_records"] == 7
    np.testing.assert_allclose(with_garbage["mean"], without["mean"], rtol=1e-12)
    np.testing.assert_allclose(with_garbage["std"], without["std"], rtol=1e-12)
    # had it been accepted, it would have changed the standardisation of every lead
    _, accepted = ingest.build(root, table, section("signal", max_abs_mv=1e4, **SIG), tmp_path / "c.npy",
                                       workers=1)
    assert (np.array(accepted["std"]) > 5 * np.array(without["std"])).all()


def test_val_and_test_records_do_not_enter_the_scaler(tiny_cohort, tmp_path):
    root, sub, table = _copy_tree(tiny_cohort, tmp_path)
    table["split"] = ["train"] * 4 + ["val"] * 2 + ["test"] * 2
    _, stats = ingest.build(root, table, section("signal", **SIG), tmp_path / "a.npy", workers=1)
    _, first4 = ingest.build(root, table.iloc[:4], section("signal", **SIG), tmp_path / "b.npy", workers=1)
    assert stats["n_train_records"] == 4 and stats["n_records"] == 8
    np.testing.assert_allclose(stats["mean"], first4["mean"], rtol=1e-12)
    np.testing.assert_allclose(stats["std"], first4["std"], rtol=1e-12)
