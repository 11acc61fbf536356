"""The positive control (presets/control.yaml): with labels that say what each ECG shows, a small
world model learns action-conditioned dynamics. A test that fails if the action path breaks: a model
trained on the same pairs with shuffled actions, or whose action is zeroed, has no skill over the
action-blind predictor."""

import numpy as np
import pytest
from conftest import section

from ecgwm.core import runtime
from ecgwm.data import ingest, labels, pairs, waveform_cache
from ecgwm.data.table import RecordTable
from ecgwm.synth import cohort
from ecgwm.train import pretrain
from ecgwm.world import diagnostics, embedding

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SMALL = dict(width=16, proj_hidden=128, z_dim=64, action_hidden=32, pred_hidden=128)
TRAIN = dict(epochs=10, batch_size=32, n_slices=128, log_every=50, monitor_n=16, monitor_sets=2, device="cpu",
             warmup_frac=0.1)


@pytest.fixture(scope="module")
def control(tmp_path_factory):
    """A 400-patient control cohort: the table, waveform cache, stats, training and held-out pairs.
    More occasions per patient and full penetrance than the default, so that a cohort this small has
    enough pairs whose ECG changes (35 of 155 held-out pairs) to learn from in a minute."""
    d = tmp_path_factory.mktemp("control")
    rec, lat = cohort.simulate(section("cohort", n_subjects=400, labels="shown", mean_occasions=4.0,
                                       penetrance_scale=3.0), seed=5)
    cohort.write(d / "cohort", rec, lat, seed=5, workers=2)
    frame, _ = labels.build(labels.read_label_csv(d / "cohort" / "records_w_diag_icd10.csv", "all_diag_all"),
                            section("icd", top_k=30, min_count=3))
    qc, stats = ingest.build(d / "cohort", frame, section("signal"), d / "waveforms.npy", workers=2)
    table = RecordTable(frame, waveform_cache.valid_mask(qc, len(frame)))
    # held-out pairs from both the validation and the test fold (more of them, same subjects never trained on)
    built = pairs.build(frame.assign(split=frame["split"].replace({"test": "val"})), table.usable, section("pairs"))
    train = built[built["split"] == "train"].reset_index(drop=True)
    held = built[built["split"] == "val"].reset_index(drop=True)
    return table, d / "waveforms.npy", stats, train, held


def _skill(control, actions: np.ndarray, tmp_path, name: str) -> dict:
    table, cache, stats, train, held = control
    inp = pretrain.Inputs(cache, stats, train, actions, pretrain.build_monitor(table, held, 16, 2, 0), table.codes,
                          int(stats["fs"]))
    cfg = section("pretrain", **TRAIN)
    model, _ = pretrain.train(inp, section("model", **SMALL), cfg, 0, runtime.setup("cpu", False),
                              tmp_path / f"{name}.ckpt", None)
    window, stride = embedding.window_and_stride(cfg.crop_s, cfg.embed_stride_s, int(stats["fs"]))
    rows = np.unique(np.r_[held["idx_t"], held["idx_t1"]])
    _, z = embedding.embed_rows(model, cache, rows, stats, window, stride, 64, runtime.setup("cpu", False))
    z_t, z_t1 = z[np.searchsorted(rows, held["idx_t"])], z[np.searchsorted(rows, held["idx_t1"])]
    return diagnostics.pair_metrics(model, z_t, z_t1, table.actions(held))


def test_the_world_model_learns_from_an_informative_action(control, tmp_path):
    table, _, _, train, held = control
    assert table.actions(held).any(axis=1).sum() >= 20  # enough held-out pairs that change
    a = table.actions(train)
    real = _skill(control, a, tmp_path, "real")
    shuffled = _skill(control, a[np.random.default_rng(0).permutation(len(a))], tmp_path, "shuffled")
    assert real["skill_vs_blind"] > 0.01, real
    assert real["skill_vs_blind"] > shuffled["skill_vs_blind"] + 0.01, (real, shuffled)
    # the part of the prediction the action causes points where the patient moved
    assert real["action_sensitivity"] > 0.1 and real["action_sensitivity"] > shuffled["action_sensitivity"]
