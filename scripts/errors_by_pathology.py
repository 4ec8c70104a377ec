"""Landmark errors of a model per pathology, on one or more simulated data sets (oracle crops).

    python scripts/errors_by_pathology.py work_data/bench/testset/seed900* [--model DIR]
        [--landmarks TAL_DOME TAL_HEAD]

Each foot is predicted from its ground-truth crop (``footalign.model.assess``), so the figures
are the networks' alone; the pathology comes from the foot's entry in ``dataset.json``. Prints
the mean error (mm) of each landmark per pathology, with the number of feet.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from footalign.anatomy import LANDMARK_NAMES
from footalign.model.assess import predict_cases
from footalign.model.bundle import shipped_model_dir
from footalign.model.dataset import read_dataset
from footalign.model.predictor import Predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", type=Path, nargs="+", help="folders with a dataset.json")
    parser.add_argument("--model", type=Path, default=None, help="model bundle (default: the shipped one)")
    parser.add_argument("--landmarks", nargs="+", default=["TAL_DOME", "TAL_HEAD", "M1_BASE"])
    args = parser.parse_args()
    predictor = Predictor.from_folder(args.model or shipped_model_dir())
    errors: dict[str, list[np.ndarray]] = {}
    for folder in args.datasets:
        data = read_dataset(folder)
        feet = {c["id"]: {f["side"]: f.get("pathology", "?") for f in c["feet"]}
                for c in json.loads((folder / "dataset.json").read_text())["cases"]}
        preds, gts, ids = predict_cases(predictor, data, [c.id for c in data.cases])
        for pred, gt, case_id in zip(preds, gts, ids, strict=True):
            pathology = feet[case_id][gt.side]
            errors.setdefault(pathology, []).append(np.linalg.norm(pred.points - gt.points, axis=1))
    index = [LANDMARK_NAMES.index(name) for name in args.landmarks]
    print(f"{'pathology':16s} {'feet':>4s} " + " ".join(f"{name:>12s}" for name in args.landmarks))
    for pathology, rows in sorted(errors.items()):
        table = np.asarray(rows)[:, index]
        print(f"{pathology:16s} {len(rows):4d} " + " ".join(f"{np.nanmean(col):12.2f}" for col in table.T))


if __name__ == "__main__":
    main()
