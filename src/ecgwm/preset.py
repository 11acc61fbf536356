"""Apply a preset (presets/NAME.yaml) on top of params.yaml: `python -m ecgwm.preset paper`.

A preset only overrides keys that already exist; the result is validated before it is written,
so `dvc repro` / `dvc exp run` then run the preset and `git diff params.yaml` shows what changed.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import yaml

from ecgwm import config
from ecgwm.errors import EcgwmError


def merge(base: dict, over: dict, prefix: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        name = f"{prefix}{key}"
        if key not in out:
            raise EcgwmError(f"preset: unknown key {name}")
        if isinstance(value, dict):
            if not isinstance(out[key], dict):
                raise EcgwmError(f"preset: {name} is not a section")
            out[key] = merge(out[key], value, f"{name}.")
        else:
            out[key] = value
    return out


def apply(name_or_path: str, params: Path = Path("params.yaml"), presets: Path = Path("presets")) -> dict:
    src = Path(name_or_path)
    if not src.suffix:
        src = presets / f"{name_or_path}.yaml"
    if not src.exists():
        known = ", ".join(sorted(p.stem for p in presets.glob("*.yaml")))
        raise EcgwmError(f"{src}: no such preset (known: {known})")
    merged = merge(config.read_yaml(params), yaml.safe_load(src.read_text()) or {})
    config.validate_all(merged)
    params.write_text(f"# preset {src.stem} applied over the defaults by `python -m ecgwm.preset`\n"
                      + yaml.safe_dump(merged, sort_keys=False))
    return merged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("preset", help="a name in presets/ (tiny, paper, ...) or a YAML path")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = ap.parse_args()
    try:
        apply(args.preset, args.params, args.params.parent / "presets")
    except EcgwmError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"applied preset {args.preset} to {args.params}")


if __name__ == "__main__":
    main()
