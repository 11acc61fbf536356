"""dvc.yaml must cover, for every stage, each file of `src/ecgwm` its script imports, directly or
transitively (lazy imports inside functions included), by the file itself or by its package
folder: editing one must re-run the stage. A listed file or package must hold code the stage uses."""

import ast
from pathlib import Path

import yaml
from helpers import REPO

SRC = REPO / "src"


def module_file(name: str) -> Path | None:
    """src/ecgwm/a/b.py or src/ecgwm/a/b/__init__.py for module ecgwm.a.b; None if neither exists."""
    base = SRC.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def imported_modules(path: Path) -> set[str]:
    """ecgwm modules imported anywhere in the file (top level or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "ecgwm"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ecgwm":
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names if module_file(f"{node.module}.{a.name}")}
    return out


def transitive_files(script: Path) -> set[Path]:
    seen: set[Path] = set()
    todo = [script]
    while todo:
        f = todo.pop()
        for mod in imported_modules(f):
            parts = mod.split(".")
            for i in range(2, len(parts) + 1):  # a package's __init__ runs too
                p = module_file(".".join(parts[:i]))
                if p is not None and p not in seen:
                    seen.add(p)
                    todo.append(p)
    return {p for p in seen if p.stat().st_size > 0}  # empty __init__.py files hold no code


def stage_scripts() -> dict[str, tuple[Path, set[str]]]:
    doc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    out = {}
    for name, st in doc["stages"].items():
        body = st.get("do", st)
        script = next(w for w in body["cmd"].split() if w.startswith("stages/"))
        out[name] = (REPO / script, {d for d in body.get("deps", []) if isinstance(d, str)})
    return out


def covered(path: str, deps: set[str]) -> bool:
    return path in deps or any(path.startswith(d.rstrip("/") + "/") for d in deps)


def test_transitive_imports_find_lazy_and_nested_ones(tmp_path):
    files = {p.relative_to(REPO).as_posix() for p in transitive_files(REPO / "stages" / "cohort.py")}
    assert "src/ecgwm/synth/cohort.py" in files  # imported inside main()
    assert "src/ecgwm/core/config.py" in files and "src/ecgwm/core/errors.py" in files  # via ecgwm.data.source


def test_every_stage_covers_every_library_file_it_imports():
    missing = {}
    for name, (script, deps) in stage_scripts().items():
        assert script.relative_to(REPO).as_posix() in deps, f"{name} does not list its script"
        need = {p.relative_to(REPO).as_posix() for p in transitive_files(script)}
        left = sorted(f for f in need if not covered(f, deps))
        if left:
            missing[name] = left
    assert not missing, f"dvc.yaml misses dependencies: {missing}"


def test_stages_list_no_library_code_they_do_not_import():
    extra = {}
    for name, (script, deps) in stage_scripts().items():
        need = {p.relative_to(REPO).as_posix() for p in transitive_files(script)}
        unused = sorted(d for d in deps if d.startswith("src/") and not any(covered(f, {d}) for f in need))
        if unused:
            extra[name] = unused
    assert not extra, f"dvc.yaml lists code a stage never imports: {extra}"


def test_the_cover_check_sees_a_missing_and_an_unused_package():
    assert covered("src/ecgwm/data/labels.py", {"src/ecgwm/data"})
    assert not covered("src/ecgwm/data/labels.py", {"src/ecgwm/dat", "src/ecgwm/data/label.py"})


def _paths(entries) -> list[str]:
    return [e if isinstance(e, str) else next(iter(e)) for e in entries or []]


def test_the_record_tree_is_walked_once():
    """DVC walks a folder output or dependency on every `dvc status`, repro and experiment: for the
    synthetic cohort's 20,000 files that was 5 s each time. Only waveforms depends on the record files;
    the cohort stage declares its two small files, not its folder."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    touching = {name for name, s in stages.items()
                for p in _paths(s.get("deps")) + _paths(s.get("outs")) if p.rstrip("/").endswith(("/files", "data/cohort"))}
    assert touching == {"waveforms"}
    outs = stages["cohort"]["outs"]
    assert _paths(outs) == ["data/cohort/source.json", "data/cohort/latents.parquet"]
    assert all(next(iter(o.values())) == {"cache": False, "persist": True} for o in outs)  # no run-cache restore
    # the stages that read the rest of the tree are ordered after the cohort stage through one of its outputs
    for name in ("icd_map", "cohort_report", "report"):
        assert "data/cohort/source.json" in _paths(stages[name]["deps"]), name
