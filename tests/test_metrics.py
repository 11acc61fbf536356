"""Macro AUROC and its bootstrap against scikit-learn on fixed inputs; degenerate labels skipped."""

import numpy as np
from sklearn.metrics import roc_auc_score

from ecgwm.metrics import _fast_auc, bootstrap_ci, macro_auroc


def _fixed():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 5)) < [0.1, 0.3, 0.5, 0.0, 1.0]).astype(int)  # label 3 has no positive, 4 no negative
    p = np.round(y * 0.3 + rng.random((200, 5)), 2)  # rounded: ties exercise average ranks
    return y, p


def test_macro_matches_sklearn_and_skips_degenerate_labels():
    y, p = _fixed()
    m = macro_auroc(y, p)
    expected = np.mean([roc_auc_score(y[:, j], p[:, j]) for j in range(3)])
    assert abs(m.macro - expected) < 1e-12
    assert m.n_evaluated == 3 and m.skipped == [3, 4]
    assert np.isnan(m.per_label[3]) and np.isnan(m.per_label[4])
    assert abs(m.per_label[1] - roc_auc_score(y[:, 1], p[:, 1])) < 1e-12


def test_rank_auc_equals_sklearn_with_ties():
    y, p = _fixed()
    fast = _fast_auc(y[:, :3], p[:, :3])
    np.testing.assert_allclose(fast, [roc_auc_score(y[:, j], p[:, j]) for j in range(3)], atol=1e-12)


def test_bootstrap_matches_a_sklearn_bootstrap():
    y, p = _fixed()
    lo, hi = bootstrap_ci(y, p, n_boot=200, seed=3)
    rng = np.random.default_rng(3)
    stats = []
    for _ in range(200):
        i = rng.integers(0, len(y), len(y))
        yb, pb = y[i], p[i]
        ok = [j for j in range(5) if 0 < yb[:, j].sum() < len(yb)]
        stats.append(np.mean([roc_auc_score(yb[:, j], pb[:, j]) for j in ok]))
    assert abs(lo - np.quantile(stats, 0.025)) < 1e-12 and abs(hi - np.quantile(stats, 0.975)) < 1e-12
    assert lo < macro_auroc(y, p).macro < hi


def test_all_degenerate_gives_nan():
    m = macro_auroc(np.ones((10, 2), int), np.random.default_rng(0).random((10, 2)))
    assert np.isnan(m.macro) and m.n_evaluated == 0
