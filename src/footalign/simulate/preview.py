"""Preview pictures of a scan: maximum-intensity projections and central slices, landmarks drawn."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from footalign.image import Image
from footalign.io.atomic import atomic_path
from footalign.landmarks import FootLandmarks

# (array axes kept in the picture as (rows, columns), projected axis, title)
VIEWS = (((1, 0), 2, "axial MIP (from above)"), ((2, 1), 0, "sagittal MIP"), ((2, 0), 1, "coronal MIP"))


def _oriented(plane: np.ndarray, rows_axis: int) -> np.ndarray:
    # Superior up for views whose rows are the z axis.
    return plane[::-1] if rows_axis == 2 else plane


def write_preview(image: Image, feet: list[FootLandmarks], path: str | os.PathLike[str], *,
                  title: str = "", window: tuple[float, float] = (-400.0, 1600.0)) -> Path:
    """Write a PNG with three MIPs and three central slices of ``image`` (HU), landmarks as dots.

    The views are in voxel space of an axis-aligned image (the simulator's and most WBCT
    scanners' output); landmarks are converted from LPS mm with ``physical_to_index``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arr = image.array.astype(np.float32)
    fig, axes = plt.subplots(2, 3, figsize=(15, 9), constrained_layout=True)
    colours = {"right": "#ff4040", "left": "#40c0ff"}
    for col, ((rows_axis, cols_axis), proj_axis, name) in enumerate(VIEWS):
        mip = arr.max(axis=proj_axis)
        centre = arr.shape[proj_axis] // 2
        slc = np.take(arr, centre, axis=proj_axis)
        for row, (plane, label) in enumerate(((mip, name), (slc, name.replace("MIP", "slice")))):
            # `plane` has the two remaining axes in increasing order; put rows_axis first.
            remaining = [a for a in range(3) if a != proj_axis]
            if remaining[0] != rows_axis:
                plane = plane.T
            plane = _oriented(plane, rows_axis)
            sp = image.spacing
            ax = axes[row, col]
            ax.imshow(plane, cmap="gray", vmin=window[0], vmax=window[1],
                      aspect=sp[rows_axis] / sp[cols_axis], interpolation="nearest")
            for foot in feet:
                idx = image.physical_to_index(foot.points)
                ok = np.all(np.isfinite(idx), axis=1)
                r = idx[ok, rows_axis]
                if rows_axis == 2:
                    r = image.shape[2] - 1 - r
                ax.scatter(idx[ok, cols_axis], r, s=12, c=colours.get(foot.side, "y"), edgecolors="k",
                           linewidths=0.4)
            ax.set_title(label)
            ax.set_axis_off()
    if title:
        fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return Path(path)


def write_gallery(path: str | os.PathLike[str], *, seed: int = 0, spacing: float = 1.0) -> Path:
    """One simulated right foot per pathology (same anatomy): lateral and top MIPs, landmarks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from footalign.geometry.measurements import measure_foot
    from footalign.simulate.case import PATHOLOGIES, sample_pose, sample_render, sample_shape, simulate_case

    shape = sample_shape(np.random.default_rng(seed))
    render = sample_render(np.random.default_rng(seed + 1))
    fig, axes = plt.subplots(2, len(PATHOLOGIES), figsize=(4 * len(PATHOLOGIES), 7), constrained_layout=True)
    for col, pathology in enumerate(PATHOLOGIES):
        pose = sample_pose(pathology, np.random.default_rng(seed + 2))
        case = simulate_case(np.random.default_rng(seed + 3), spacing=spacing, side="right", pathology=pathology,
                             truncate_probability=0.0, pose=pose, shape=shape, render=render)
        arr = case.ct.array.astype(np.float32)
        foot = case.feet[0]
        idx = case.ct.physical_to_index(foot.landmarks.points)
        values = measure_foot(foot.landmarks_full).values
        sagittal = arr.max(axis=0).T[::-1]
        axes[0, col].imshow(sagittal, cmap="gray", vmin=-400, vmax=1400, aspect="equal")
        axes[0, col].scatter(idx[:, 1], arr.shape[2] - 1 - idx[:, 2], s=6, c="r")
        axes[0, col].set_title(f"{pathology}\nhindfoot {values['hindfoot_angle']:.0f}°, Meary {values['meary_angle']:.0f}°, "
                               f"pitch {values['calcaneal_pitch']:.0f}°", fontsize=9)
        axes[1, col].imshow(arr.max(axis=2).T, cmap="gray", vmin=-400, vmax=1400, aspect="equal")
        axes[1, col].scatter(idx[:, 0], idx[:, 1], s=6, c="r")
        axes[1, col].set_title(f"HVA {values['hallux_valgus_angle']:.0f}°, IMA {values['intermetatarsal_1_2']:.0f}°, "
                               f"TNCA {values['tnca']:.0f}°", fontsize=9)
        for ax in axes[:, col]:
            ax.set_axis_off()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=70)
    plt.close(fig)
    return Path(path)


if __name__ == "__main__":
    import sys

    write_gallery(sys.argv[1], seed=int(sys.argv[2]) if len(sys.argv) > 2 else 0)
