"""The ecgwm command: `python -m ecgwm COMMAND ...`, or `ecgwm COMMAND ...` once the package is installed.

    preset NAME          apply presets/NAME.yaml on top of params.yaml (tiny, study, paper, ...)
    predict INPUT ...    score WFDB records, folders or MIMIC-IV-ECG trees with the packaged classifier
    plot RECORD          draw a record as a 12-lead ECG (with the classifier's top calls: --model)
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {  # command -> the module whose main(argv) runs it
    "preset": "ecgwm.core.preset",
    "predict": "ecgwm.deploy.predict",
    "plot": "ecgwm.deploy.plot",
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(0 if argv and argv[0] in ("-h", "--help") else 2)
    importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    main()
