"""python -m ecgwm.bench TARGET [options]: see `--help` and each target's `--help`."""

from __future__ import annotations

import argparse

from ecgwm.bench import data, study, train


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m ecgwm.bench", description=__doc__)
    sub = ap.add_subparsers(dest="target", required=True)

    def target(name: str, fn, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=fn.__doc__)
        p.set_defaults(fn=fn)
        p.add_argument("--params", default="params.yaml")
        return p

    d = target("data", data.bench_data, "cohort generation, WFDB ingestion, cache reads, disk")
    d.add_argument("--subjects", type=int, default=300)
    d.add_argument("--workers", type=int, default=0)
    d.add_argument("--cache", default="data/waveforms.npy", help="cache to time reads on (default pipeline's)")
    d.add_argument("--crop-s", type=float, default=2.5)
    d.add_argument("--seconds", type=float, default=5.0)
    s = target("scale", data.bench_scale, "ingest and dvc status on a large MIMIC-format tree")
    s.add_argument("--records", type=int, default=50_000)
    s.add_argument("--templates", type=int, default=500, help="records rendered by the generator; the rest are copies")
    s.add_argument("--small", type=int, default=10_000, help="also ingest this many, to show RSS does not grow with N")
    s.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    s.add_argument("--dir", default="", help="where to build the tree (default: a temporary folder)")
    s.add_argument("--keep", action="store_true", help="keep the tree")
    p = target("pretrain", train.bench_pretrain, "world-model loader and training throughput")
    p.add_argument("--batch", type=int, default=0, help="default: pretrain.batch_size")
    p.add_argument("--device", default="", help="default: pretrain.device")
    p.add_argument("--records", type=int, default=4096)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--workers", type=int, default=-1, help="loader workers (default: pretrain.num_workers)")
    p.add_argument("--loader-batches", type=int, default=200)
    p.add_argument("--device-cache", action="store_true", help="crops gathered from a device-resident cache")
    p.add_argument("--half-cache", action="store_true", help="the device cache in float16")
    q = target("probe", train.bench_probe, "probe size against AUROC and time; or a paper-scale epoch (--paper)")
    q.add_argument("--batches", type=int, nargs="+", default=[512])
    q.add_argument("--paper", action="store_true", help="one epoch over --real-rows + --aug-rows random rows")
    q.add_argument("--real-rows", type=int, default=721_002)
    q.add_argument("--aug-rows", type=int, default=2_000_000)
    q.add_argument("--device", default="")
    a = target("augment", train.bench_augment, "synthesis time and peak memory of each arm")
    a.add_argument("--n-total", type=int, default=2_000_000)
    a.add_argument("--pool", type=int, default=389_309, help="normal embeddings (paper: 389,309)")
    a.add_argument("--combos", type=int, default=300)
    a.add_argument("--arms", nargs="+", default=["dynamics", "smote", "mixup"])
    a.add_argument("--device", default="")
    e = target("embedding", train.bench_embedding, "the embedding candidates against the world-model diagnostics")
    e.add_argument("--normals", type=int, default=1024)
    e.add_argument("--combos", type=int, default=30)
    e.add_argument("--per-combo", type=int, default=32)
    e.add_argument("--world-model", default="data/world_model.pt")
    r = target("report", study.bench_report, "paired subject bootstrap of Table 1 (AUROC and AUPRC)")
    r.add_argument("--methods", type=int, default=10)
    r.add_argument("--seeds", type=int, default=3)
    r.add_argument("--boot", type=int, default=1000)
    r.add_argument("--labels", type=int, default=76)
    r.add_argument("--records", type=int, default=600)
    r.add_argument("--subjects", type=int, default=200)
    t = target("tsne", study.bench_tsne, "t-SNE of the pipeline's embeddings")
    t.add_argument("--n", type=int, default=7000)
    t.add_argument("--perplexity", type=float, default=30.0)
    t.add_argument("--jobs", type=int, default=2)
    t.add_argument("--ints", type=float, nargs="+", default=[2.0, 1.0], help="openTSNE ints_in_interval values")
    g = target("stages", study.bench_stages, "dvc repro of a clean clone, per stage; then an experiment")
    g.add_argument("--preset", nargs="*", default=[], help="presets to apply in the clone first (e.g. tiny)")
    g.add_argument("--cache", default="", help="DVC cache folder for the clone (e.g. .dvc/cache of this checkout)")
    g.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    x = target("paper", study.bench_paper, "projected wall time and memory of the paper's whole study")
    x.add_argument("--device", default="")
    x.add_argument("--workers", type=int, default=0, help="ingest workers (default: every core)")
    x.add_argument("--ingest-records", type=int, default=2000)
    x.add_argument("--steps", type=int, default=5)
    x.add_argument("--embed-batches", type=int, default=3)
    x.add_argument("--probe-steps", type=int, default=50)
    x.add_argument("--report-records", type=int, default=2000)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
