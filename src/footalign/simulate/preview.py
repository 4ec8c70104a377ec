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
