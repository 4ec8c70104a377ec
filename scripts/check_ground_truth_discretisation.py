"""How far each ground-truth landmark moves when the same rules run on a denser surface.

    python scripts/check_ground_truth_discretisation.py [--max-edge 1.0] [--seeds 200 201 202 203]

The simulator's bones are meshes with ~1.9 mm edges; the landmark rules work on the continuous
surface (faces split to 0.3 mm, area-weighted), so they should not depend on it. Here the calcaneus,
talus, navicular and medial cuneiform of generated feet are split to ``--max-edge`` and the
landmarks recomputed; articular patches are carried over by nearest original vertex, which can
widen them by up to half an edge, so the figures are an upper estimate. Prints, per landmark
that moves by more than 0.15 mm, the mean and largest distance and the mean offset in the foot
frame (x anterior, y medial, z up): a consistent offset is a bias a network can learn, the
spread around it is label noise.
"""

from __future__ import annotations

import argparse

import numpy as np

from footalign.anatomy import LANDMARK_NAMES
from footalign.geometry.frame import foot_frame
from footalign.simulate.case import make_foot, sample_pose, sample_shape, template_patches
from footalign.simulate.mesh_landmarks import landmarks_from_meshes, refine_meshes

DENSE_BONES = ("calcaneus", "talus", "navicular", "medial_cuneiform")
PATHOLOGIES = ("normal", "planovalgus", "cavus", "hallux_valgus")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-edge", type=float, default=1.0, help="edge length of the denser surface (mm)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[200, 201, 202, 203])
    args = parser.parse_args()
    offsets = []
    for i, seed in enumerate(args.seeds):
        rng = np.random.default_rng(seed)
        skeleton, floor = make_foot(sample_pose(PATHOLOGIES[i % len(PATHOLOGIES)], rng), sample_shape(rng), rng)
        coarse = landmarks_from_meshes(skeleton.meshes, "right", floor, patches=template_patches())
        meshes, patches = refine_meshes(skeleton.meshes, template_patches(), DENSE_BONES, max_edge_mm=args.max_edge)
        dense = landmarks_from_meshes(meshes, "right", floor, patches=patches)
        frame = foot_frame(coarse)
        offsets.append(frame.to_local(dense.points) - frame.to_local(coarse.points))
        print(f"foot {i + 1}/{len(args.seeds)} done", flush=True)
    offsets = np.asarray(offsets)
    print(f"{'landmark':13s} mean |d|  max |d|  mean offset x, y, z (mm)")
    for k, name in enumerate(LANDMARK_NAMES):
        distance = np.linalg.norm(offsets[:, k], axis=1)
        if np.nanmax(distance) > 0.15:
            print(f"{name:13s} {np.nanmean(distance):8.2f} {np.nanmax(distance):8.2f}  "
                  f"{np.array2string(np.nanmean(offsets[:, k], axis=0), precision=2)}")


if __name__ == "__main__":
    main()
