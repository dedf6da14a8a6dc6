#!/usr/bin/env python
"""A real result: SmolLM2-135M-Instruct extended to six languages with gettext pairs.

The experiment is the study file examples/smollm2_six_languages.yaml (base model, held-out sets,
base scores, pilots, laws and frozen plans, multilingual models, extrapolation, transfer pilots
and the plan on the transfer-aware law, report), run by `tuning study run`; docs/study.md
explains it. This script keeps the experiment's old command line:

    python examples/smollm2_six_languages.py                    # full: ~3 h on 2 CPU cores
    python examples/smollm2_six_languages.py --smoke -o /tmp/s  # same steps, tiny sizes, minutes

which is ``tuning study run examples/smollm2_six_languages.yaml`` (or smollm2_smoke.yaml) with
``--results``, ``--work`` and ``--until``. A run whose record ``runs/<id>.json`` exists is
skipped, so an interrupted experiment goes on where it stopped (rerun the same command).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAGES = ("heldout", "base", "pilots", "plan", "multilingual", "extrapolation", "baselines", "transfer-pilots",
          "transfer-plan", "transfer-refine")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes: the same steps in minutes")
    p.add_argument("-o", "--results", default="docs/results/smollm2-gettext", help="results folder (committed)")
    p.add_argument("--work", default=None, help="scratch folder for models and mixtures (default .work/NAME)")
    p.add_argument("--stop-after", choices=STAGES, default=None, help="stop after this stage")
    p.add_argument("--workers", type=int, default=1, help="jobs at once (`tuning study run --workers`)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads per job (`tuning study run --threads`)")
    args = p.parse_args(argv)
    from tuning.cli import main as tuning

    study = HERE / ("smollm2_smoke.yaml" if args.smoke else "smollm2_six_languages.yaml")
    work = args.work or str(Path(".work") / Path(args.results).name)
    until = ["--until", args.stop_after] if args.stop_after else []
    until += ["--workers", str(args.workers)] + (["--threads", str(args.threads)] if args.threads else [])
    return tuning(["study", "run", str(study), "--results", args.results, "--work", work, *until, "--no-progress"])


if __name__ == "__main__":
    sys.exit(main())
