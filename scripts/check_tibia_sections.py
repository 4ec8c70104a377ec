"""How well ``pipeline.tibia_sections`` recovers TIB_DIST / TIB_PROX from a rough start.

    python scripts/check_tibia_sections.py DATASET [--n 40] [--sideways 3] [--along 6] [--dome 1.5]

For each foot of the first ``--n`` scans of a ``footalign simulate`` data set, the ground-truth
tibial points are moved (``--sideways`` mm across the shaft in a random direction, a normal
``--along`` mm sd along it; TAL_DOME by ``--dome`` mm sd per axis), measured again in the image,
and compared with the ground truth: Euclidean error, along-axis error, signed error in the
foot frame, and the tibial axis angle. Feet whose tibia is shorter than 30 mm in view are skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from footalign.geometry.frame import foot_frame
from footalign.geometry.planes import plane_basis
from footalign.io.images import read_image
from footalign.io.landmarks import read_landmarks
from footalign.model.dataset import read_dataset
from footalign.pipeline.analysis import analyse_scan
from footalign.pipeline.tibia_sections import SECTION_HEIGHTS_MM, measure_tibia_sections


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)), 0.0, 1.0))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--sideways", type=float, default=3.0)
    parser.add_argument("--along", type=float, default=6.0)
    parser.add_argument("--dome", type=float, default=1.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    data = read_dataset(args.dataset)
    rows: dict[str, list[list[float]]] = {name: [] for name in SECTION_HEIGHTS_MM}
    angles = []
    for case in data.cases[: args.n]:
        image = read_image(case.image)
        threshold = analyse_scan(image).bone_threshold_hu
        for foot in read_landmarks(case.landmarks):
            if not all(foot.has(n) for n in ("TIB_DIST", "TIB_PROX", "TAL_DOME")):
                continue
            truth = {name: foot[name] for name in SECTION_HEIGHTS_MM}
            axis = truth["TIB_PROX"] - truth["TIB_DIST"]
            if np.linalg.norm(axis) < 30.0:
                continue
            axis /= np.linalg.norm(axis)
            u, v = plane_basis(axis)
            start = {}
            for name, p in truth.items():
                turn = rng.uniform(0.0, 2.0 * np.pi)
                start[name] = p + args.sideways * (np.cos(turn) * u + np.sin(turn) * v) + rng.normal(0.0, args.along) * axis
            dome = foot["TAL_DOME"] + rng.normal(0.0, args.dome, 3)
            result = measure_tibia_sections(image, dome, start, threshold_hu=threshold)
            frame = foot_frame(foot)
            for name in SECTION_HEIGHTS_MM:
                d = result.points[name] - truth[name]
                rows[name].append([np.linalg.norm(start[name] - truth[name]), np.linalg.norm(d), d @ axis,
                                   d @ frame.x, d @ frame.y])
            angles.append((_angle_deg(start["TIB_PROX"] - start["TIB_DIST"], axis),
                           _angle_deg(result.points["TIB_PROX"] - result.points["TIB_DIST"], axis)))
    print(f"{len(angles)} feet of {args.dataset}")
    for name, r in rows.items():
        a = np.array(r, dtype=float)
        print(f"{name}: start {np.nanmean(a[:, 0]):.2f} mm -> measured {np.nanmean(a[:, 1]):.2f} mm "
              f"(median {np.nanmedian(a[:, 1]):.2f}, not measured {int(np.isnan(a[:, 1]).sum())}); along the axis "
              f"{np.nanmean(a[:, 2]):+.2f} ± {np.nanstd(a[:, 2]):.2f} mm; foot frame x (anterior) "
              f"{np.nanmean(a[:, 3]):+.2f}, y (medial) {np.nanmean(a[:, 4]):+.2f} mm")
    ang = np.array(angles, dtype=float)
    print(f"tibial axis off by {np.nanmean(ang[:, 0]):.2f} deg at the start, {np.nanmean(ang[:, 1]):.2f} deg measured")


if __name__ == "__main__":
    main()
