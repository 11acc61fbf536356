"""Apply a preset (presets/NAME.yaml) on top of params.yaml: `python -m ecgwm preset paper`.

A preset only overrides keys that already exist; the result is validated before it is written,
so `dvc repro` / `dvc exp run` then run the preset and `git diff params.yaml` shows what changed.
params.yaml is edited in place with a round-trip YAML parser: its comments and layout stay.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ecgwm.core import config
from ecgwm.core.errors import EcgwmError


def _plain(value: Any) -> Any:
    """A value as the round-trip dumper should write it (lists in flow style, like params.yaml)."""
    if isinstance(value, list):
        seq = CommentedSeq(value)
        seq.fa.set_flow_style()
        return seq
    return value


def _float(representer, value: float):
    """Floats that YAML 1.1 readers (PyYAML) also read as floats: 1e-05 -> 1.0e-05."""
    text = repr(value)
    if "e" in text and "." not in text.split("e")[0]:
        text = text.replace("e", ".0e", 1)
    return representer.represent_scalar("tag:yaml.org,2002:float", text)


def _str(representer, value: str):
    """Quote strings that a YAML 1.1 reader would take for something else (off, yes, 1e3, null, ...)."""
    try:
        plain = yaml.safe_load(value) if value else None
    except yaml.YAMLError:
        plain = None
    style = None if isinstance(plain, str) and plain == value else '"'
    return representer.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _null(representer, value: None):
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def round_trip() -> YAML:
    """A YAML reader/writer that keeps comments, key order and flow lists."""
    rt = YAML()
    rt.width = 4096
    rt.preserve_quotes = True
    rt.representer.add_representer(float, _float)
    rt.representer.add_representer(str, _str)
    rt.representer.add_representer(type(None), _null)
    return rt


def merge(base: dict, over: dict, prefix: str = "") -> None:
    """Override `base` (a round-trip mapping) in place with the keys of `over`; unknown keys are errors."""
    for key, value in over.items():
        name = f"{prefix}{key}"
        if key not in base:
            raise EcgwmError(f"preset: unknown key {name}")
        if isinstance(value, dict):
            if not isinstance(base[key], dict):
                raise EcgwmError(f"preset: {name} is not a section")
            merge(base[key], value, f"{name}.")
        elif isinstance(base[key], dict):
            raise EcgwmError(f"preset: {name} is a section, not a value")
        else:
            base[key] = _plain(value)


def apply(name_or_path: str, params: Path = Path("params.yaml"), presets: Path = Path("presets")) -> dict:
    src = Path(name_or_path)
    if not src.suffix:
        src = presets / f"{name_or_path}.yaml"
    if not src.exists():
        known = ", ".join(sorted(p.stem for p in presets.glob("*.yaml")))
        raise EcgwmError(f"{src}: no such preset (known: {known})")
    rt = round_trip()
    doc: CommentedMap = rt.load(Path(params).read_text())
    over = config.parse_yaml(src.read_text(), src)
    if not isinstance(over, dict):
        raise EcgwmError(f"{src}: a preset must hold a mapping of sections")
    merge(doc, over)
    buf = io.StringIO()
    rt.dump(doc, buf)
    text = buf.getvalue()
    merged = config.parse_yaml(text, params)
    config.validate_all(merged)
    Path(params).write_text(text)
    return merged


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m ecgwm preset", description=__doc__)
    ap.add_argument("preset", help="a name in presets/ (tiny, study, paper, ...) or a YAML path")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = ap.parse_args(argv)
    try:
        apply(args.preset, args.params, args.params.parent / "presets")
    except EcgwmError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"applied preset {args.preset} to {args.params}")


if __name__ == "__main__":
    main()
