"""The report pictures of the bundled demo scan for ``docs/report.md``, with the shipped (or another) model.

    python scripts/demo_report_pictures.py [--model DIR]

Writes ``docs/img/report_{mips,slices,3d}.png`` (the report's own figures of the demo's right
foot) and prints the landmark error against the demo's ground truth. Re-run after shipping a
model or remaking the demo scan (``scripts/make_demo_scan.py``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from footalign.cli.predict import demo_errors, demo_scan_path
from footalign.io.atomic import atomic_path
from footalign.io.images import read_image
from footalign.model.predictor import Predictor
from footalign.pipeline.predict import predict_scan
from footalign.report.figures import foot_figures

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    scan = demo_scan_path()
    result = predict_scan(read_image(scan), Predictor.from_folder(args.model), source=scan.name)
    foot = result.feet[0]
    for key, png in foot_figures(result, foot).items():
        with atomic_path(REPO / "docs" / "img" / f"report_{key}.png") as tmp:
            tmp.write_bytes(png)
    errors = list(demo_errors(result).values())  # marked landmarks vs the demo's ground truth
    print(f"{result.model_info.get('version', '')}: {len(errors)} landmarks marked, error mean {np.mean(errors):.2f} mm, "
          f"median {np.median(errors):.2f} mm, max {np.max(errors):.2f} mm")


if __name__ == "__main__":
    main()
