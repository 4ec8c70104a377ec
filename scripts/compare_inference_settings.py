"""Accuracy and model time of stage-2 inference settings (passes) on held-out validation feet.

    python scripts/compare_inference_settings.py work_data/runs/shipped_v2 --dataset work_data/sim_train \
        [--fold 0 --n-feet 30 --output work_data/inference_settings.json]

Model selection, so it uses the training data set's held-out fold, never the benchmark's test
set. Each foot is given to the model as an oracle crop (``footalign.model.assess.oracle_feet``).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from footalign.anatomy import LANDMARK_NAMES
from footalign.model.assess import oracle_feet
from footalign.model.dataset import read_dataset
from footalign.model.predictor import Predictor

# Stage 1 keeps its two passes: the second re-centres the grid on the landmarks found, which an
# oracle crop (centred on the true landmark box) never needs, so this test cannot judge it.
VARIANTS: dict[str, dict[str, dict]] = {
    "stage 2 twice (default)": {"stage2": {"passes": 2, "repeat_moved_mm": None}},
    "stage 2 once": {"stage2": {"passes": 1, "repeat_moved_mm": None}},
    "stage 2 twice if moved > 2 mm": {"stage2": {"passes": 2, "repeat_moved_mm": 2.0}},
    "stage 2 twice if moved > 4 mm": {"stage2": {"passes": 2, "repeat_moved_mm": 4.0}},
    "stage 2 three times": {"stage2": {"passes": 3, "repeat_moved_mm": None}},
}
# Printed per variant besides the means: the landmarks above 1 mm in the shipped model.
WATCHED = ("TAL_DOME", "TAL_HEAD", "TAL_HEAD_LAT", "M1_BASE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--n-feet", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=Path("work_data/inference_settings.json"))
    parser.add_argument("--variants", nargs="*", help="only these variants (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = read_dataset(args.dataset)
    _, val = data.split(args.fold)
    feet = [(crop, gt) for _, crop, gt in itertools.islice(oracle_feet(data, val), args.n_feet)]
    base = Predictor.from_folder(args.model)
    results = {}
    for name, change in VARIANTS.items():
        if args.variants and name not in args.variants:
            continue
        predictor = copy.copy(base)
        predictor.config = copy.deepcopy(base.config)
        for stage, values in change.items():
            predictor.config[stage].update(values)
        errors, seconds = [], []
        for crop, gt in feet[: args.n_feet]:
            t = time.perf_counter()
            pred = predictor.predict_foot(crop, gt.side)
            seconds.append(time.perf_counter() - t)
            errors.append(np.linalg.norm(pred.points - gt.points, axis=1))
        e = np.array(errors)
        results[name] = {"mean_mm": float(np.nanmean(e)), "median_mm": float(np.nanmedian(e)),
                         "worst_landmark_mean_mm": float(np.nanmax(np.nanmean(e, axis=0))),
                         "landmark_mean_mm": dict(zip(LANDMARK_NAMES, np.nanmean(e, axis=0).round(3).tolist(),
                                                      strict=True)),
                         "seconds_per_foot": float(np.median(seconds))}
        r = results[name]
        watched = ", ".join(f"{n} {r['landmark_mean_mm'][n]:.2f}" for n in WATCHED)
        print(f"{name:40s} mean {r['mean_mm']:.2f} mm, median {r['median_mm']:.2f}, worst landmark "
              f"{r['worst_landmark_mean_mm']:.2f} ({watched}), {r['seconds_per_foot']:.2f} s/foot", flush=True)
    args.output.write_text(json.dumps({"model": str(args.model), "n_feet": min(len(feet), args.n_feet),
                                       "threads": args.threads, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
