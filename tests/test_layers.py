"""The packages read like the pipeline, and no import runs back up it: a module may import from its
own package and from packages earlier in LAYERS, never from a later one (lazy imports included)."""

import ast
from pathlib import Path

from helpers import REPO

PKG = REPO / "src" / "ecgwm"
LAYERS = ["core", "data", "synth", "models", "evaluate", "augment", "world", "train", "report", "deploy", "bench"]


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("ecgwm")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ecgwm"):
            if node.module == "ecgwm":  # from ecgwm import core, data, ...
                out |= {f"ecgwm.{a.name}" for a in node.names}
            else:
                out.add(node.module)
    return out


def test_every_module_lives_in_a_phase_package():
    flat = sorted(p.name for p in PKG.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert flat == [], f"modules outside a package: {flat}"
    packages = sorted(p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert set(packages) <= set(LAYERS), set(packages) - set(LAYERS)


def test_no_import_runs_back_up_a_layer():
    bad = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if len(rel.parts) < 2:
            continue  # __init__ / __main__: the command line sits above every layer
        own = LAYERS.index(rel.parts[0])
        for module in imports(path):
            pkg = package_of(module)
            if pkg in LAYERS and LAYERS.index(pkg) > own:
                bad.append(f"{rel} imports {module}")
    assert not bad, bad


def test_the_check_catches_an_upward_import(tmp_path):
    probe = tmp_path / "x.py"
    probe.write_text("def f():\n    from ecgwm.train import probe\n")
    assert "ecgwm.train" in imports(probe) and LAYERS.index("train") > LAYERS.index("data")
