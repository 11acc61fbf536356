"""Table 1 statistics: weighted metrics and the paired subject bootstrap against brute force with sklearn."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from ecgwm.evaluate import metrics, stats

SKLEARN = {"auroc": roc_auc_score, "auprc": average_precision_score}


def _case(seed=0, n_subjects=16):
    """~50 records of 16 subjects (1-5 records each), 5 labels: label 3 has a single positive record
    (so some replicates lose it), label 4 none (never evaluable); scores rounded so ties occur."""
    rng = np.random.default_rng(seed)
    subjects = np.repeat(np.arange(n_subjects), rng.integers(1, 6, n_subjects))
    subjects = rng.permutation(subjects) + 1000  # ids need not be 0..S-1 nor records grouped
    n = len(subjects)
    y = (rng.random((n, 5)) < [0.2, 0.4, 0.6, 0.0, 0.0]).astype(np.uint8)
    y[rng.integers(n), 3] = 1
    return y, subjects, rng


def _preds(y, rng, strength, n_seeds):
    return [np.round(strength * y + rng.random(y.shape), 1) for _ in range(n_seeds)]


def _resample(subjects, w_row):
    """Explicitly resampled records: each subject's records, as many times as the subject was drawn."""
    idx = []
    for s in np.unique(subjects):
        recs = np.flatnonzero(subjects == s)
        assert len(set(w_row[recs])) == 1
        idx += [recs] * int(w_row[recs[0]])
    return np.concatenate(idx) if idx else np.zeros(0, int)


def _brute_macro(metric, y, p, idx, labels, keep=None):
    vals = []
    for c in np.flatnonzero(labels):
        sel = idx if keep is None else idx[keep[idx, c]]
        yy = y[sel, c]
        if 0 < yy.sum() < len(yy):
            vals.append(SKLEARN[metric](yy, p[sel, c]))
    return np.mean(vals) if vals else np.nan


def test_subject_resampling_keeps_each_subjects_records_together():
    y, subjects, _ = _case()
    w = stats.subject_weights(subjects, 200, seed=5)
    assert w.shape == (200, len(subjects))
    ids = np.unique(subjects)
    for s in ids:
        block = w[:, subjects == s]
        assert (block == block[:, :1]).all()  # every record of a subject has the subject's count
    counts = np.stack([w[:, np.flatnonzero(subjects == s)[0]] for s in ids], 1)  # (B, S)
    assert (counts.sum(1) == len(ids)).all()  # as many draws as subjects
    assert abs(counts.mean() - 1) < 0.05 and (counts == 0).any() and (counts >= 2).any()
    assert np.array_equal(w, stats.subject_weights(subjects, 200, seed=5))
    assert not np.array_equal(w, stats.subject_weights(subjects, 200, seed=6))


@pytest.mark.parametrize("metric", ["auroc", "auprc"])
def test_weighted_metrics_equal_sklearn_on_repeated_rows_with_ties(metric):
    y, subjects, rng = _case(1)
    p = np.round(0.4 * y + rng.random(y.shape), 1)  # many ties, also between positives and negatives
    w = stats.subject_weights(subjects, 40, seed=2)
    w[0] = 1  # the point estimate
    keep = rng.random(y.shape) < 0.8
    for kp in (None, keep):
        got = getattr(metrics, metric)(y, p, w, kp)
        for b in range(len(w)):
            idx = np.repeat(np.arange(len(y)), w[b])
            for c in range(y.shape[1]):
                sel = idx if kp is None else idx[kp[idx, c]]
                yy = y[sel, c]
                if 0 < yy.sum() < len(yy):
                    assert got[b, c] == pytest.approx(SKLEARN[metric](yy, p[sel, c]), abs=1e-12)
                else:
                    assert np.isnan(got[b, c])
    np.testing.assert_array_equal(getattr(metrics, metric)(y, p), getattr(metrics, metric)(y, p, np.ones((1, len(y)))))


def test_float_weights_and_all_tied_scores():
    y = np.array([[1], [0], [1], [0], [0]], np.uint8)
    p = np.full((5, 1), 0.3)
    assert metrics.auroc(y, p)[0, 0] == 0.5
    assert metrics.auprc(y, p)[0, 0] == pytest.approx(0.4)
    w = np.array([[0.5, 2.0, 1.5, 0.0, 1.0]])
    p = np.array([[0.9], [0.2], [0.2], [0.5], [0.1]])
    # positives 0.9 (w .5) and 0.2 (w 1.5); negatives 0.2 (w 2), 0.5 (w 0), 0.1 (w 1)
    expected = (0.5 * (2 + 1) + 1.5 * (0.5 * 2 + 1)) / (2.0 * 3.0)
    assert metrics.auroc(y, p, w)[0, 0] == pytest.approx(expected)


def test_macro_leaves_out_labels_without_positive_or_negative_weight():
    scores = np.array([[0.6, 0.8, np.nan], [0.7, np.nan, np.nan], [np.nan, np.nan, np.nan]])
    np.testing.assert_allclose(metrics.macro(scores, np.array([True, True, False])), [0.7, 0.7, np.nan])
    np.testing.assert_allclose(metrics.macro(scores, np.array([False, True, True])), [0.8, np.nan, np.nan])


def test_left_out_label_rule_in_the_bootstrap():
    y, subjects, rng = _case(2)
    assert metrics.fixed_labels(y).tolist() == [True, True, True, True, False]
    w = stats.subject_weights(subjects, 300, seed=1)
    preds = {"a": _preds(y, rng, 0.5, 1), "b": _preds(y, rng, 0.1, 1)}
    macros = stats.replicate_macros(preds, y, w, metrics=("auroc",))["auroc"]
    rare = np.flatnonzero(y[:, 3])[0]
    lost = w[:, rare] == 0  # replicates without the single positive of label 3
    assert 0 < lost.sum() < len(w)
    for name, (p,) in preds.items():
        per = metrics.auroc(y, p, w)
        assert np.isnan(per[lost, 3]).all() and np.isfinite(per[~lost, 3]).all()
        np.testing.assert_allclose(macros[name][0, 1:][lost], np.nanmean(per[lost][:, :3], 1))
        np.testing.assert_allclose(macros[name][0, 1:][~lost], per[~lost][:, :4].mean(1))
        assert macros[name][0, 0] == pytest.approx(np.mean([roc_auc_score(y[:, c], p[:, c]) for c in range(4)]))


@pytest.mark.parametrize("metric", ["auroc", "auprc"])
def test_paired_bootstrap_equals_a_brute_force_sklearn_loop(metric):
    y, subjects, rng = _case(3)
    preds = {"real": _preds(y, rng, 0.2, 2), "aug": _preds(y, rng, 0.35, 3), "ft": _preds(y, rng, 0.6, 1)}
    n_boot = 60
    w = stats.subject_weights(subjects, n_boot, seed=4)
    res = stats.compare(preds, y, w, reference="real", pairs=[("aug", "ft")], gap=("aug", "real", "ft"),
                        metrics=(metric,))[metric]
    labels = metrics.fixed_labels(y)
    assert res.n_labels == 4 and res.n_boot == n_boot
    full = np.arange(len(y))
    point = {m: np.mean([_brute_macro(metric, y, p, full, labels) for p in ps]) for m, ps in preds.items()}
    reps = {m: np.array([np.mean([_brute_macro(metric, y, p, _resample(subjects, w[b]), labels) for p in ps])
                         for b in range(n_boot)]) for m, ps in preds.items()}
    rows = res.methods.set_index("method")
    for m, ps in preds.items():
        seeds = [_brute_macro(metric, y, p, full, labels) for p in ps]
        np.testing.assert_allclose(rows.loc[m, "per_seed"], seeds, atol=1e-12)
        assert rows.loc[m, "mean"] == pytest.approx(point[m], abs=1e-12)
        assert rows.loc[m, "ci_low"] == pytest.approx(np.quantile(reps[m], 0.025), abs=1e-12)
        assert rows.loc[m, "ci_high"] == pytest.approx(np.quantile(reps[m], 0.975), abs=1e-12)
        np.testing.assert_allclose(res.replicates[m], reps[m], atol=1e-12)
    assert rows.loc["real", "sd"] == pytest.approx(np.std(rows.loc["real", "per_seed"], ddof=1))
    assert np.isnan(rows.loc["ft", "sd"])  # one seed: no spread to report
    d = res.diffs.set_index(["a", "b"])
    assert list(d.index) == [("aug", "real"), ("ft", "real"), ("aug", "ft")]
    for a, b in d.index:
        delta, dr = point[a] - point[b], reps[a] - reps[b]
        assert d.loc[(a, b), "delta"] == pytest.approx(delta, abs=1e-12)
        assert d.loc[(a, b), "ci_low"] == pytest.approx(np.quantile(dr, 0.025), abs=1e-12)
        assert d.loc[(a, b), "ci_high"] == pytest.approx(np.quantile(dr, 0.975), abs=1e-12)
        tail = min(np.sum(dr <= 0), np.sum(dr >= 0))
        assert d.loc[(a, b), "p_value"] == pytest.approx(min(1, 2 * (1 + tail) / (1 + n_boot)))
        if d.loc[(a, b), "p_value"] < 0.05:  # a significant difference has an interval without 0
            assert not d.loc[(a, b), "ci_low"] <= 0 <= d.loc[(a, b), "ci_high"]
    gap = (reps["aug"] - reps["real"]) / (reps["ft"] - reps["real"])
    assert res.gap["value"] == pytest.approx((point["aug"] - point["real"]) / (point["ft"] - point["real"]))
    assert res.gap["ci_low"] == pytest.approx(np.quantile(gap, 0.025))
    assert res.gap["ci_high"] == pytest.approx(np.quantile(gap, 0.975))
    assert res.gap["n_replicates"] == n_boot


def test_p_value_is_one_for_identical_methods_and_small_for_a_clearly_better_one():
    y, subjects, rng = _case(4, n_subjects=40)
    y = y[:, :3]
    same = _preds(y, rng, 0.2, 2)
    preds = {"real": same, "copy": [p.copy() for p in same], "better": _preds(y, rng, 1.5, 2)}
    w = stats.subject_weights(subjects, 200, seed=0)
    d = stats.compare(preds, y, w, reference="real")["auroc"].diffs.set_index("a")
    assert d.loc["copy", "delta"] == 0 and d.loc["copy", "p_value"] == 1.0
    assert d.loc["copy", "ci_low"] == 0 and d.loc["copy", "ci_high"] == 0
    assert d.loc["better", "delta"] > 0.2 and d.loc["better", "ci_low"] > 0
    assert d.loc["better", "p_value"] == pytest.approx(2 / 201)


def test_gap_is_nan_safe_when_finetuning_equals_the_probe():
    y, subjects, rng = _case(5)
    real = _preds(y, rng, 0.2, 1)
    preds = {"real": real, "ft": [real[0].copy()], "aug": _preds(y, rng, 0.4, 1)}
    res = stats.compare(preds, y, stats.subject_weights(subjects, 50, 0), reference="real",
                        gap=("aug", "real", "ft"))
    for cmp in res.values():
        assert np.isnan(cmp.gap["value"]) and np.isnan(cmp.gap["ci_low"]) and cmp.gap["n_replicates"] == 0
    with pytest.raises(ValueError, match="unknown method"):
        stats.compare(preds, y, stats.subject_weights(subjects, 5, 0), reference="real", pairs=[("aug", "smote")])


def test_frequency_edges_double_from_min_count():
    np.testing.assert_array_equal(stats.frequency_edges(5), [5, 10, 20, np.inf])
    np.testing.assert_array_equal(stats.frequency_edges(50, n_bins=2), [50, 100, np.inf])


def _combo_case():
    """Test records whose exact label set is one of 4 combinations (train counts 6, 9, 15, 40) or not."""
    rng = np.random.default_rng(7)
    combos = [[0], [0, 1], [2], [1, 3]]
    counts = np.array([40, 15, 9, 6])
    n, n_subjects = 120, 40
    subjects = rng.integers(0, n_subjects, n)
    y = (rng.random((n, 5)) < 0.15).astype(np.uint8)
    combo = rng.integers(-1, 4, n)
    combo[rng.random(n) < 0.4] = -1
    combo[[0, 1]] = [2, 3]  # every combination has test records
    for i in np.flatnonzero(combo >= 0):
        y[i] = 0
        y[i, combos[combo[i]]] = 1
    y[(combo == -1) & (rng.random(n) < 0.5), 4] = 1  # label 4 is in no combination
    y[(combo == -1) & (y[:, :4].sum(1) > 0), 4] = 1  # so no other record has a combination's exact set
    from ecgwm.data.table import exact_combination
    assert np.array_equal(exact_combination(y, combos), combo)
    return y, subjects, combo, combos, counts, rng


def test_rare_combination_bins_equal_brute_force():
    y, subjects, combo, combos, counts, rng = _combo_case()
    preds = {"real": _preds(y, rng, 0.3, 2), "aug": _preds(y, rng, 0.5, 2)}
    w = stats.subject_weights(subjects, 40, 3)
    edges = stats.frequency_edges(5)  # [5, 10) -> combos 2, 3; [10, 20) -> combo 1; >= 20 -> combo 0
    df = stats.combination_bins(preds, y, w, combo, combos, counts, edges, reference="real", metrics=("auroc", "auprc"))
    assert sorted(set(df["bin"])) == [">= 20", "[10, 20)", "[5, 10)"]
    for name, members in {"[5, 10)": [2, 3], "[10, 20)": [1], ">= 20": [0]}.items():
        in_bin = np.isin(combo, members)
        labels = np.zeros(5, bool)
        labels[[c for k in members for c in combos[k]]] = True
        keep = in_bin[:, None] | (y == 0)  # positives: the bin's records; negatives: all without the label
        for metric in ("auroc", "auprc"):
            rows = df[(df["bin"] == name) & (df["metric"] == metric)].set_index("method")
            assert rows["n_test_records"].iloc[0] == in_bin.sum() and rows["n_labels"].iloc[0] == labels.sum()
            full = np.arange(len(y))
            reps = {}
            for m, ps in preds.items():
                assert rows.loc[m, "mean"] == pytest.approx(
                    np.mean([_brute_macro(metric, y, p, full, labels, keep) for p in ps]), abs=1e-12)
                reps[m] = np.array([np.mean([_brute_macro(metric, y, p, _resample(subjects, w[b]), labels, keep)
                                             for p in ps]) for b in range(len(w))])
                assert rows.loc[m, "ci_low"] == pytest.approx(np.nanquantile(reps[m], 0.025), abs=1e-12)
            dr = reps["aug"] - reps["real"]
            assert rows.loc["aug", "delta"] == pytest.approx(rows.loc["aug", "mean"] - rows.loc["real", "mean"])
            assert rows.loc["aug", "delta_ci_high"] == pytest.approx(np.nanquantile(dr, 0.975), abs=1e-12)
            assert np.isnan(rows.loc["real", "delta"])


def test_per_combination_auroc_equals_sklearn():
    y, _, combo, combos, counts, rng = _combo_case()
    preds = {"real": _preds(y, rng, 0.3, 2), "aug": _preds(y, rng, 0.5, 1)}
    df = stats.per_combination(preds, y, combo, combos, counts)
    assert len(df) == 4 * 3 and list(df.columns) == ["combination", "train_count", "n_test", "method", "seed", "auroc"]
    for r in df.itertuples():
        p = preds[r.method][r.seed]
        recs = combo == r.combination
        assert r.n_test == recs.sum() and r.train_count == counts[r.combination]
        aucs = []
        for c in combos[r.combination]:
            sel = recs | (y[:, c] == 0)
            aucs.append(roc_auc_score(y[sel, c], p[sel, c]))
        assert r.auroc == pytest.approx(np.mean(aucs), abs=1e-12)


def test_bad_inputs_are_rejected():
    y, _, rng = _case()
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.auroc(y, rng.random((len(y), 2)))
    p = rng.random(y.shape)
    p[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        metrics.auroc(y, p)
