"""The one AUROC against scikit-learn on fixed inputs: ties, degenerate labels skipped and counted."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ecgwm.evaluate.metrics import auroc, fixed_labels, macro_auroc


def _fixed():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 5)) < [0.1, 0.3, 0.5, 0.0, 1.0]).astype(int)  # label 3 has no positive, 4 no negative
    p = np.round(y * 0.3 + rng.random((200, 5)), 1)  # rounded to 0.1: many ties, across classes too
    return y, p


def test_macro_matches_sklearn_and_skips_degenerate_labels():
    y, p = _fixed()
    m = macro_auroc(y, p)
    per = [roc_auc_score(y[:, j], p[:, j]) for j in range(3)]
    assert m.macro == pytest.approx(np.mean(per), abs=1e-12)
    assert m.n_evaluated == 3 and m.skipped == [3, 4]
    assert np.isnan(m.per_label[3]) and np.isnan(m.per_label[4])
    np.testing.assert_allclose(m.per_label[:3], per, atol=1e-12)
    assert fixed_labels(y).tolist() == [True, True, True, False, False]


def test_auroc_equals_sklearn_with_ties():
    y, p = _fixed()
    assert len(np.unique(p[:, 1])) < 20  # the scores really are tied
    np.testing.assert_allclose(auroc(y[:, :3], p[:, :3])[0], [roc_auc_score(y[:, j], p[:, j]) for j in range(3)],
                               atol=1e-12)


def test_auroc_small_cases_by_hand():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    p = np.array([[0.9, 0.5], [0.1, 0.5], [0.5, 0.2], [0.5, 0.8]])
    # label 0: positives 0.9, 0.5 vs negatives 0.1, 0.5 -> pairs won 1 + 1 + 1 + 0.5 of 4
    # label 1: positives 0.5, 0.2 vs negatives 0.5, 0.8 -> 0.5 + 0 + 0 + 0 of 4
    np.testing.assert_allclose(auroc(y, p)[0], [3.5 / 4, 0.5 / 4])
    np.testing.assert_allclose(auroc(y, -p)[0], [0.5 / 4, 3.5 / 4])  # reversed scores: 1 - AUC


def test_all_degenerate_gives_nan():
    m = macro_auroc(np.ones((10, 2), int), np.random.default_rng(0).random((10, 2)))
    assert np.isnan(m.macro) and m.n_evaluated == 0 and m.skipped == [0, 1] and np.isnan(m.per_label).all()


def test_point_auroc_is_the_tie_group_auroc_to_the_bit():
    """The mid-rank point estimate (early stopping's) and the tie-group one (the bootstrap's) agree
    exactly, ties within and across classes, float32 and float64, degenerate labels NaN."""
    from ecgwm.evaluate.metrics import _point_auroc, scores

    rng = np.random.default_rng(3)
    for _ in range(100):
        n, c = int(rng.integers(1, 200)), int(rng.integers(1, 6))
        y = (rng.random((n, c)) < rng.random()).astype(int)
        p = np.round(rng.random((n, c)), int(rng.integers(1, 4))).astype(rng.choice([np.float32, np.float64]))
        np.testing.assert_array_equal(_point_auroc(y, p), scores(y, p, None, ("auroc",))["auroc"][0])
    y, p = _fixed()
    assert np.isnan(_point_auroc(y, p)[3:]).all()
    with pytest.raises(ValueError, match="finite"):
        _point_auroc(y, np.where(y, np.nan, p))
    with pytest.raises(ValueError, match="shape"):
        _point_auroc(y, p[:, :2])
