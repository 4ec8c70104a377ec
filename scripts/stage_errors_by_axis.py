"""Stage-1 and stage-2 errors of chosen landmarks along the foot frame's axes (held-out fold).

    python scripts/stage_errors_by_axis.py --dataset work_data/sim_train_v7 [--model DIR]
        [--fold 0 --n-feet 40 --landmarks TAL_DOME TAL_HEAD M1_BASE]

Model selection, so it reads the training data set's held-out fold, never the benchmark's test
set; each foot is an oracle crop (``footalign.model.assess.oracle_feet``). Errors are split along
the ground truth's foot frame (x anterior, y medial, z up): a landmark whose fine patch cannot
see where "up" or "the middle" is shows it as a stage-2 error larger than stage 1's on that axis.
Prints, per landmark and stage, the mean absolute error along x, y, z, the mean Euclidean error
and the bias; with ``--output`` also writes them as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from footalign.anatomy import LANDMARK_NAMES
from footalign.geometry.frame import foot_frame
from footalign.model.assess import oracle_feet
from footalign.model.bundle import shipped_model_dir
from footalign.model.dataset import read_dataset
from footalign.model.predictor import Predictor
from footalign.model.sampling import from_network_frame, to_network_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None, help="model bundle (default: the shipped one)")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--n-feet", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--landmarks", nargs="+", default=["TAL_DOME", "TAL_HEAD", "M1_BASE"])
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    predictor = Predictor.from_folder(args.model or shipped_model_dir())
    data = read_dataset(args.dataset)
    _, held_out = data.split(args.fold)
    index = [LANDMARK_NAMES.index(name) for name in args.landmarks]
    # (foot, stage, landmark, axis) signed errors in the ground truth's foot frame.
    local_errors = []
    for _, crop, gt in itertools.islice(oracle_feet(data, held_out), args.n_feet):
        net_image = to_network_image(crop, gt.side)
        coarse, _ = predictor.locate_coarse(net_image)
        fine, _ = predictor.refine(net_image, coarse)
        frame = foot_frame(gt)
        truth = frame.to_local(gt.points[index])
        local_errors.append([frame.to_local(from_network_frame(stage, gt.side)[index]) - truth
                             for stage in (coarse, fine)])
    e = np.asarray(local_errors)  # (feet, 2, landmarks, 3)
    print(f"{len(e)} feet, fold {args.fold} held out; foot frame x anterior, y medial, z up (mm)")
    print(f"{'landmark':14s} {'stage':>5s} {'|x|':>6s} {'|y|':>6s} {'|z|':>6s} {'mean':>6s}   bias x, y, z")
    summary: dict[str, dict] = {}
    for j, name in enumerate(args.landmarks):
        for s, stage in enumerate(("1", "2")):
            d = e[:, s, j]
            row = {"mean_abs_xyz_mm": np.nanmean(np.abs(d), axis=0).round(3).tolist(),
                   "mean_mm": float(np.nanmean(np.linalg.norm(d, axis=1))),
                   "bias_xyz_mm": np.nanmean(d, axis=0).round(3).tolist()}
            summary.setdefault(name, {})[f"stage{stage}"] = row
            ax = row["mean_abs_xyz_mm"]
            print(f"{name:14s} {stage:>5s} {ax[0]:6.2f} {ax[1]:6.2f} {ax[2]:6.2f} {row['mean_mm']:6.2f}   "
                  + ", ".join(f"{b:+.2f}" for b in row["bias_xyz_mm"]))
    if args.output:
        args.output.write_text(json.dumps({"model": str(args.model or "shipped"), "dataset": str(args.dataset),
                                           "fold": args.fold, "n_feet": len(e), "landmarks": summary},
                                          indent=1) + "\n")


if __name__ == "__main__":
    main()
