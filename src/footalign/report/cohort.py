"""Cohort pictures: the distribution of every measurement over many feet."""

from __future__ import annotations

from typing import Any

import numpy as np

from footalign.anatomy import MEASUREMENTS
from footalign.report.figures import _png, plt


def distributions_png(rows: list[dict[str, Any]], *, dpi: int = 70) -> bytes:
    """Histogram + strip plot per measurement (both sides), normal range shaded."""
    n_cols = 5
    n_rows = int(np.ceil(len(MEASUREMENTS) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * 3.0, n_rows * 2.4))
    for ax in axes.ravel()[len(MEASUREMENTS):]:
        ax.axis("off")
    for ax, spec in zip(axes.ravel(), MEASUREMENTS, strict=False):
        column = f"{spec.name} [{spec.unit}]"
        ax.axvspan(*spec.normal_range, color="#cfe8cf", zorder=0)
        for side, colour in (("left", "#377eb8"), ("right", "#e41a1c")):
            vals = np.array([float(r[column]) for r in rows
                             if r.get("side") == side and r.get(column) not in ("", None)], float)
            if vals.size:
                ax.hist(vals, bins=min(15, max(3, vals.size)), alpha=0.55, color=colour, label=side)
        ax.set_title(f"{spec.title} [{spec.unit}]", fontsize=8)
        ax.tick_params(labelsize=7)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower right", fontsize=8)
    fig.tight_layout()
    return _png(fig, dpi)
