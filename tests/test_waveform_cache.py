"""The waveform cache on clean and corrupted WFDB fixtures."""

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest
import wfdb

from conftest import section
from ecgwm.data import waveform_cache
from ecgwm.data.mimic import to_adu, write_record
from ecgwm.errors import EcgwmError

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
    qc, stats = waveform_cache.build(root, table, cfg, out, workers=1)
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
    clean = waveform_cache.read_record(root / sub.path[6], section("signal"))
    mv, names, _ = _read(root, sub.path[6])
    perm = np.random.default_rng(0).permutation(12)
    _rewrite(root, sub.iloc[6], mv[perm], [names[i] for i in perm])
    # 7: absent from record_list.csv
    rl = pd.read_csv(root / "record_list.csv")
    rl.iloc[:7].to_csv(root / "record_list.csv", index=False)

    out = tmp_path / "w.npy"
    qc, stats = waveform_cache.build(root, table, section("signal", **SIG), out, workers=2)
    reasons = dict(zip(qc["row"], qc["reason"]))
    assert set(reasons) == {0, 1, 2, 4, 5, 7}
    assert reasons[0].startswith(("unreadable", "wrong length"))
    assert reasons[1] == "missing lead V6"
    assert reasons[2].startswith("NaN fraction")
    assert reasons[4] == "flat lead V2"
    assert reasons[5] == "wrong length: 4000 samples, expected 5000"
    assert reasons[7] == "not in record_list.csv"
    x = np.load(out)
    assert np.isfinite(x[3]).all()
    np.testing.assert_allclose(x[6], clean, atol=1e-6)
    assert (x[0] == 0).all()
    assert waveform_cache.valid_mask(qc, len(table)).tolist() == [False, False, False, True, False, False, True, False]

    with pytest.raises(EcgwmError, match=r"6 of 8 records rejected.*max_reject_frac=0.5"):
        waveform_cache.build(root, table, section("signal", max_reject_frac=0.5), tmp_path / "v.npy", workers=1)


def test_cache_shape_check(tmp_path):
    np.save(tmp_path / "w.npy", np.zeros((3, 12, 10), np.float32))
    with pytest.raises(EcgwmError, match="3 rows but the labels table has 4"):
        waveform_cache.open_cache(tmp_path / "w.npy", 4)
