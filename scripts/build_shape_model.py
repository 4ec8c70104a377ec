"""Put the landmark shape prior of a data set into a model bundle (``shape_model.json``).

    python scripts/build_shape_model.py work_data/sim_train [--model src/footalign/data/model]

``footalign train`` already stores the prior of its training feet in every bundle it writes;
this script (re)builds it for an existing bundle. It uses the ground-truth landmarks of every
foot in the data set's ``dataset.json``; for simulated data sets the complete landmark sets in
``params/`` (including landmarks outside the scan's field of view) are used when present, so
the prior knows the whole foot.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from footalign.anatomy import LANDMARK_NAMES
from footalign.geometry.shape_model import build_shape_model
from footalign.model.bundle import export_bundle, shipped_model_dir
from footalign.model.dataset import read_dataset
from footalign.model.preprocess import case_feet


def complete_sets(dataset_dir: Path) -> tuple[list[np.ndarray], list[str]]:
    data = read_dataset(dataset_dir)
    points, sides = [], []
    for case in data.cases:
        params = data.root / "params" / f"{case.id}.json"
        if params.is_file():
            for foot in json.loads(params.read_text())["feet"]:
                points.append(np.array([foot["landmarks_full"][n] for n in LANDMARK_NAMES], dtype=float))
                sides.append(foot["side"])
        else:
            for foot in case_feet(case):
                points.append(np.asarray(foot.points, dtype=float))
                sides.append(foot.side)
    return points, sides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--model", type=Path, default=shipped_model_dir())
    args = parser.parse_args()
    points, sides = complete_sets(args.dataset)
    prior = build_shape_model(points, sides, source=f"{args.dataset.name}: {len(points)} feet (complete sets)")
    export_bundle(args.model, args.model, shape_model=prior.to_dict())
    print(f"{args.model}: shape prior of {prior.n_feet} feet; spread "
          f"{prior.spread_mm.min():.1f}-{prior.spread_mm.max():.1f} mm")


if __name__ == "__main__":
    main()
