"""Realism check: compare a simulated scan with a real WBCT (HU statistics and pictures).

Both scans are classified the same way (air < -500 HU; soft tissue -200..200 HU; bone
> 300 HU, all inside the reconstructed field of view) so the comparison does not favour the
simulator's own labels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from footalign.image import Image
from footalign.io.atomic import atomic_path

CLASSES = {"air": (-1010.0, -500.0), "soft tissue": (-200.0, 200.0), "bone": (300.0, 3000.0)}


def hu_statistics(image: Image) -> dict[str, dict[str, float]]:
    """Per class: share of the field of view, median and 5th/95th percentile HU."""
    arr = np.asarray(image.array, dtype=np.float32)
    fov = arr > -1010.0  # outside the reconstructed cylinder scanners write about -1019..-1024
    out: dict[str, dict[str, float]] = {}
    for name, (lo, hi) in CLASSES.items():
        sel = arr[fov & (arr >= lo) & (arr < hi)]
        out[name] = {"fraction_of_fov": float(sel.size / max(int(fov.sum()), 1)),
                     "median": float(np.median(sel)) if sel.size else float("nan"),
                     "p05": float(np.percentile(sel, 5)) if sel.size else float("nan"),
                     "p95": float(np.percentile(sel, 95)) if sel.size else float("nan")}
    out["all"] = {"p99_9": float(np.percentile(arr[fov], 99.9)), "max": float(arr.max()),
                  "outside_fov_fraction": float(1.0 - fov.mean())}
    return out


def _views(image: Image) -> list[tuple[str, np.ndarray, float]]:
    """Sagittal, coronal and axial MIPs plus a sagittal and an axial slice through the bones."""
    arr = np.asarray(image.array, dtype=np.float32)
    sp = image.spacing
    bone = arr > 300
    centre = [int(np.median(np.nonzero(bone.any(axis=tuple(a for a in range(3) if a != d)))[0]))
              if bone.any() else arr.shape[d] // 2 for d in range(3)]
    return [
        ("sagittal MIP", arr.max(axis=0).T[::-1], sp[2] / sp[1]),
        ("coronal MIP", arr.max(axis=1).T[::-1], sp[2] / sp[0]),
        ("axial MIP", arr.max(axis=2).T, sp[1] / sp[0]),
        ("sagittal slice", arr[centre[0]].T[::-1], sp[2] / sp[1]),
        ("axial slice", arr[:, :, centre[2]].T, sp[1] / sp[0]),
    ]


def compare_figure(real: Image, simulated: Image, path: str | os.PathLike[str], *,
                   window: tuple[float, float] = (-500.0, 1500.0)) -> Path:
    """Side-by-side PNG: the same views of the real scan (top) and the simulated one (bottom),
    plus HU histograms of both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("real", real), ("simulated", simulated)]
    fig, axes = plt.subplots(3, 5, figsize=(20, 11), constrained_layout=True,
                             gridspec_kw={"height_ratios": [1, 1, 0.8]})
    for r, (label, image) in enumerate(rows):
        for c, (title, plane, aspect) in enumerate(_views(image)):
            ax = axes[r, c]
            ax.imshow(plane, cmap="gray", vmin=window[0], vmax=window[1], aspect=aspect)
            ax.set_title(f"{label}: {title}")
            ax.set_axis_off()
    bins = np.linspace(-1100, 2000, 156)
    for c, (name, (lo, hi)) in enumerate([("all voxels in FOV", (-1010.0, 3100.0)), *CLASSES.items()]):
        ax = axes[2, c]
        for label, image in rows:
            arr = np.asarray(image.array, dtype=np.float32)
            sel = arr[(arr > -1010.0) & (arr >= lo) & (arr < hi)]
            ax.hist(sel, bins=bins, density=True, histtype="step", label=label, linewidth=1.5)
        ax.set_title(f"HU histogram: {name}")
        ax.set_yscale("log")
        ax.legend()
    axes[2, 4].set_axis_off()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=70)
    plt.close(fig)
    return Path(path)


def simulate_like(real: Image, *, seed: int = 0, side: str = "left") -> Image:
    """A simulated scan made to resemble ``real``'s acquisition: same spacing, a 160 mm
    cone-beam field of view centred on the hindfoot (forefoot truncated), one foot."""
    from dataclasses import replace

    from footalign.simulate.case import sample_render, simulate_case

    rng = np.random.default_rng(seed)
    render = replace(sample_render(np.random.default_rng(seed + 1)), platform_visible=False,
                     outside_fov_hu=-1019.0)
    case = simulate_case(rng, spacing=float(real.spacing[0]), side=side, pathology="normal",
                         truncate_probability=1.0, render=render)
    return case.ct


def main(argv: list[str] | None = None) -> int:
    """``python -m footalign.simulate.realism REAL.nii.gz OUT.png [SEED]``: write the side-by-side
    figure and print the HU statistics of both scans as JSON."""
    import json
    import sys

    from footalign.io.images import read_image

    args = sys.argv[1:] if argv is None else argv
    real = read_image(args[0])
    simulated = simulate_like(real, seed=int(args[2]) if len(args) > 2 else 0)
    compare_figure(real, simulated, args[1])
    print(json.dumps({"real": hu_statistics(real), "simulated": hu_statistics(simulated)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
