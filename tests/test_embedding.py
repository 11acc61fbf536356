"""The record embedding: mean z over sliding windows of the training crop, NaN for rejected records."""

import numpy as np
import pytest
import torch
from conftest import section

from ecgwm.core.runtime import Runtime
from ecgwm.models.lejepa import WorldModel
from ecgwm.world import embedding

pytestmark = pytest.mark.usefixtures("torch_one_thread")

CPU = Runtime(torch.device("cpu"), 0, 1, False)


@pytest.mark.parametrize("n,window,stride", [(1000, 250, 125), (1000, 250, 250), (1000, 1000, 7), (999, 250, 125),
                                             (1000, 250, 240), (300, 64, 64), (10, 3, 1)])
def test_windows_cover_the_record_with_the_last_flush_with_the_end(n, window, stride):
    starts = embedding.window_starts(n, window, stride)
    assert starts[0] == 0 and starts[-1] == n - window  # first at the start, last flush with the end
    assert (np.diff(starts) > 0).all()
    steps = np.diff(starts)
    assert (steps[:-1] == stride).all() and 0 < steps[-1] <= stride if len(steps) else len(starts) == 1
    covered = np.zeros(n, bool)
    for s in starts:
        covered[s:s + window] = True
    assert covered.all()
    assert len(starts) == len(range(0, n - window + 1, stride)) + ((n - window) % stride != 0)


def test_a_window_longer_than_the_record_is_an_error():
    with pytest.raises(ValueError, match="window of 251 samples is longer than the record \\(250\\)"):
        embedding.window_starts(250, 251, 10)


def test_window_and_stride_in_samples():
    assert embedding.window_and_stride(2.5, 1.25, 100) == (250, 125)
    assert embedding.window_and_stride(2.5, 0.001, 100) == (250, 1)  # never a stride of 0
    meta = {"pretrain": section("pretrain", crop_s=1.0, embed_stride_s=0.5), "signal": {"fs": 500}}
    assert embedding.definition(meta) == (500, 250)


def _model(seed=0):
    torch.manual_seed(seed)
    cfg = section("model", width=8, proj_hidden=32, z_dim=16, action_hidden=16, pred_hidden=32)
    m = WorldModel(cfg, 3)
    m.train()
    with torch.no_grad():
        m.embed(torch.randn(8, 12, 128))  # running statistics that are not the identity
    return m.eval()


def test_embed_batch_is_the_mean_of_the_windows_embeddings():
    model = _model()
    x = torch.randn(3, 12, 300)
    window, stride = 128, 80  # starts 0, 80, 160 and the flush 172
    h, z = embedding.embed_batch(model, x, window, stride)
    assert h.shape == (3, model.encoder.out_dim) and z.shape == (3, 16)
    with torch.no_grad():
        for b in range(3):
            parts = [model.embed(x[b:b + 1, :, s:s + window]) for s in (0, 80, 160, 172)]
            torch.testing.assert_close(h[b], torch.cat([p[0] for p in parts]).mean(0), rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(z[b], torch.cat([p[1] for p in parts]).mean(0), rtol=1e-5, atol=1e-5)
        full = model.embed(x)[1]  # not the embedding of the whole record
    assert not torch.allclose(z, full, atol=1e-3)


def _cache(tmp_path, n=9, length=300):
    x = np.random.default_rng(0).normal(size=(n, 12, length)).astype(np.float32) * 0.5 + 0.1
    np.save(tmp_path / "w.npy", x)
    stats = {"mean": [0.1] * 12, "std": [0.5 + 0.01 * i for i in range(12)]}
    return x, stats


@pytest.mark.parametrize("batch_size", [1, 4, 64])
def test_export_is_nan_exactly_on_rejected_rows_in_labels_order(tmp_path, batch_size):
    x, stats = _cache(tmp_path)
    valid = np.ones(9, bool)
    valid[[0, 4, 5]] = False
    model = _model()
    embedding.export(model, tmp_path / "w.npy", stats, valid, 128, 80, batch_size, CPU, tmp_path / "z.npy",
                     tmp_path / "h.npy", with_h=True)
    z, h = np.load(tmp_path / "z.npy"), np.load(tmp_path / "h.npy")
    assert z.shape == (9, 16) and h.shape == (9, model.encoder.out_dim) and z.dtype == np.float32
    assert np.isnan(z[~valid]).all() and np.isfinite(z[valid]).all()
    assert np.isnan(h[~valid]).all() and np.isfinite(h[valid]).all()
    mean, std = np.array(stats["mean"], np.float32)[:, None], np.array(stats["std"], np.float32)[:, None]
    with torch.no_grad():
        for i in np.flatnonzero(valid):  # row i is record i's embedding, standardised with the stats
            ref_h, ref_z = embedding.embed_batch(model, torch.from_numpy((x[i:i + 1] - mean) / std), 128, 80)
            np.testing.assert_allclose(z[i], ref_z[0].numpy(), rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(h[i], ref_h[0].numpy(), rtol=1e-4, atol=1e-5)
    assert len({z[i].tobytes() for i in np.flatnonzero(valid)}) == valid.sum()  # no row copied into another


def test_export_without_h_and_with_nothing_valid(tmp_path):
    _, stats = _cache(tmp_path, n=4)
    embedding.export(_model(), tmp_path / "w.npy", stats, np.array([True, False, True, True]), 128, 80, 8, CPU,
                     tmp_path / "z.npy", tmp_path / "h.npy", with_h=False)
    assert np.load(tmp_path / "h.npy").shape == (4, 0)
    assert np.isnan(np.load(tmp_path / "z.npy")[1]).all()
    embedding.export(_model(), tmp_path / "w.npy", stats, np.zeros(4, bool), 128, 80, 8, CPU, tmp_path / "z.npy",
                     tmp_path / "h.npy", with_h=True)
    z = np.load(tmp_path / "z.npy")
    assert z.shape == (4, 16) and np.isnan(z).all()


def test_embed_rows_uses_eval_mode_and_restores_the_mode_it_found(tmp_path):
    _, stats = _cache(tmp_path, n=5)
    model = _model()
    _, z_eval = embedding.embed_rows(model, tmp_path / "w.npy", np.array([3, 1]), stats, 128, 80, 1, CPU)
    model.train()
    _, z = embedding.embed_rows(model, tmp_path / "w.npy", np.array([1, 3]), stats, 128, 80, 1, CPU)
    assert model.training
    np.testing.assert_allclose(z, z_eval[::-1], rtol=1e-5, atol=1e-6)  # batch statistics never used
