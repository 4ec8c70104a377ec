"""Write an :class:`Evaluation` to disk: JSON, Markdown, per-case CSV and plots.

Every file goes through ``footalign.io.atomic`` so a reader never sees a half-written report.
Plots use matplotlib's object API (``Figure``) so no global pyplot state or display is needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from footalign import __version__
from footalign.anatomy import (
    LANDMARK_NAMES,
    MEASUREMENT_BY_NAME,
    MEASUREMENT_NAMES,
    PUBLISHED_ANGLE_MAE_DEG,
    PUBLISHED_LANDMARK_MAE_MM,
    SDR_THRESHOLDS_MM,
)
from footalign.evaluation.metrics import Evaluation
from footalign.evaluation.stats import wrap_degrees
from footalign.io.atomic import atomic_path, ensure_writable_dir, write_text_atomic

_PUBLISHED_BEST_MM = min(PUBLISHED_LANDMARK_MAE_MM.values())
_PUBLISHED_WORST_MM = max(PUBLISHED_LANDMARK_MAE_MM.values())


def write_evaluation_report(evaluation: Evaluation, out_dir: str | os.PathLike[str], *,
                            title: str = "Landmark evaluation", plots: bool = True) -> dict[str, Path]:
    """Write ``evaluation.json``, ``evaluation.md``, ``per_case.csv`` and plots into ``out_dir``.

    Parameters
    ----------
    evaluation : the result of :func:`footalign.evaluation.evaluate_landmarks`.
    out_dir : output folder (created if needed).
    title : heading of the Markdown report.
    plots : also write ``landmark_errors.png`` (box plot of the error per landmark),
        ``bland_altman.png`` (all measurements) and ``bland_altman/<measurement>.png``.

    Returns
    -------
    dict[str, Path]
        ``{"json", "markdown", "csv", "boxplot", "bland_altman", "bland_altman/<name>"}`` → path.
    """
    out = ensure_writable_dir(out_dir)
    paths: dict[str, Path] = {}
    if plots:
        paths["boxplot"] = plot_landmark_errors(evaluation, out / "landmark_errors.png")
        paths["bland_altman"] = plot_bland_altman_grid(evaluation, out / "bland_altman.png")
        ensure_writable_dir(out / "bland_altman")
        for name in MEASUREMENT_NAMES:
            paths[f"bland_altman/{name}"] = plot_bland_altman(evaluation, name, out / "bland_altman" / f"{name}.png")
    with atomic_path(out / "per_case.csv") as tmp:
        evaluation.per_case_table().to_csv(tmp, index=False, float_format="%.4f")
    paths["csv"] = out / "per_case.csv"
    data = evaluation.as_dict() | {"footalign_version": __version__}
    paths["json"] = write_text_atomic(out / "evaluation.json", json.dumps(data, indent=2) + "\n")
    figures = {k: v.relative_to(out).as_posix() for k, v in paths.items() if k in ("boxplot", "bland_altman")}
    paths["markdown"] = write_text_atomic(out / "evaluation.md", evaluation_markdown(evaluation, title=title,
                                                                                  figures=figures))
    return paths


def evaluation_markdown(evaluation: Evaluation, *, title: str = "Landmark evaluation",
                        figures: dict[str, str] | None = None, heading_level: int = 1) -> str:
    """The evaluation as Markdown: summary next to the published figures, landmark and measurement tables."""
    h = "#" * heading_level
    o = evaluation.overall()
    lines = [f"{h} {title}", ""]
    lines += [
        f"{o['n_cases']:.0f} cases, {o['n_feet']:.0f} feet. Landmark error = Euclidean distance (mm) between "
        "predicted and true point; SDR = share of expected landmarks within the radius (a missing prediction "
        "counts as a failure). Measurements are computed with `footalign.geometry.measurements.measure_foot` "
        "on both prediction and truth against the same floor.",
        "",
        markdown_table(
            ["figure", "this evaluation", "published (74 patients, 5-fold CV)"],
            [
                ["per-landmark mean error, best–worst (mm)",
                 f"{_f(o['landmark_mean_error_min_mm'])}–{_f(o['landmark_mean_error_max_mm'])}",
                 f"{_PUBLISHED_BEST_MM:.2f}–{_PUBLISHED_WORST_MM:.2f}"],
                ["angle MAE, best–worst (°)",
                 f"{_f(o['angle_mae_min_deg'])}–{_f(o['angle_mae_max_deg'])}",
                 f"{min(PUBLISHED_ANGLE_MAE_DEG.values()):.2f}–{max(PUBLISHED_ANGLE_MAE_DEG.values()):.2f}"],
                ["pooled mean / median / p95 error (mm)",
                 f"{_f(o['mean_error_mm'])} / {_f(o['median_error_mm'])} / {_f(o['p95_error_mm'])}", "—"],
                *[[f"SDR {t:g} mm", _pct(o[f"sdr_{t:g}mm"]), "—"] for t in SDR_THRESHOLDS_MM],
                ["missing predictions (landmarks)", f"{o['n_pred_missing']:.0f}", "—"],
            ],
        ),
        "",
    ]
    below = sum(1 for s in evaluation.landmarks.values() if np.isfinite(s.mean) and s.mean < _PUBLISHED_BEST_MM)
    lines += [f"{below} of {len(LANDMARK_NAMES)} landmarks have a mean error below the published best "
              f"landmark ({_PUBLISHED_BEST_MM:.2f} mm).", ""]
    if figures and "boxplot" in figures:
        lines += [f"![error per landmark]({figures['boxplot']})", ""]

    lines += [f"{h}# Landmarks (mm)", ""]
    headers = ["landmark", "n", "mean", "median", "p95", "max", *[f"SDR {t:g}" for t in SDR_THRESHOLDS_MM],
               "missing pred", "published"]
    published_by_landmark = _published_landmarks()
    rows = []
    for s in evaluation.landmarks.values():
        rows.append([s.name, str(s.n), _f(s.mean), _f(s.median), _f(s.p95), _f(s.max),
                     *[_pct(s.sdr[t]) for t in SDR_THRESHOLDS_MM], str(s.n_pred_missing),
                     published_by_landmark.get(s.name, "")])
    lines += [markdown_table(headers, rows), ""]

    lines += [f"{h}# Measurements", "",
              "MAE and Bland–Altman bias/limits (prediction − truth) in the measurement's unit; "
              "ICC(2,1) = two-way random, absolute agreement, single measures.", ""]
    headers = ["measurement", "unit", "n", "MAE", "bias", "95 % limits of agreement", "ICC(2,1)", "published MAE"]
    rows = []
    for m in evaluation.measurements.values():
        rows.append([m.name, m.unit, str(m.n), _f(m.mae), _f(m.bias), f"{_f(m.loa_low)} to {_f(m.loa_high)}",
                     _f(m.icc, 3), _f(m.published_mae) if m.published_mae is not None else ""])
    lines += [markdown_table(headers, rows), ""]
    if figures and "bland_altman" in figures:
        lines += [f"![Bland–Altman plots]({figures['bland_altman']})", ""]
    if evaluation.notes:
        lines += [f"{h}# Notes", "", *[f"- {n}" for n in evaluation.notes], ""]
    return "\n".join(lines)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (cells are used as given)."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def folds_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The per-fold table of a cross-validation (rows as :func:`footalign.model.cv.fold_summary`)."""
    table = markdown_table(
        ["fold", "feet", "mean / median / p95 (mm)", "SDR 2 mm", f"landmarks < {_PUBLISHED_BEST_MM:.2f} mm",
         "worst landmark", "worst angle MAE"],
        [[r["fold"], r["n_feet"], f"{r['mean_mm']:.2f} / {r['median_mm']:.2f} / {r['p95_mm']:.2f}",
          f"{100 * r['sdr_2mm']:.1f} %", f"{r['landmarks_below_target']}/{len(LANDMARK_NAMES)}",
          f"{r['worst_landmark']} {r['worst_landmark_mm']:.2f} mm",
          f"{r['worst_angle']} {r['worst_angle_mae_deg']:.2f}°" if r.get("worst_angle") else "—"] for r in rows])
    return "## Per fold\n\n" + table + "\n"


def plot_landmark_errors(evaluation: Evaluation, path: str | os.PathLike[str]) -> Path:
    """Box plot of the Euclidean error of each landmark (mm), published range shaded."""
    fig = Figure(figsize=(7.5, 7.0), dpi=110)
    ax = fig.add_subplot()
    data = []
    for i in range(len(LANDMARK_NAMES)):
        e = evaluation.errors_mm[:, i]
        data.append(e[np.isfinite(e)])
    positions = np.arange(len(LANDMARK_NAMES))[::-1]  # first landmark on top
    ax.axvspan(_PUBLISHED_BEST_MM, _PUBLISHED_WORST_MM, color="tab:orange", alpha=0.15,
               label=f"published per-landmark MAE {_PUBLISHED_BEST_MM:.2f}–{_PUBLISHED_WORST_MM:.2f} mm")
    ax.boxplot(data, positions=positions, vert=False, widths=0.6, showfliers=True,
               flierprops={"markersize": 3}, medianprops={"color": "tab:blue"})
    means = [d.mean() if d.size else np.nan for d in data]
    ax.plot(means, positions, "D", color="tab:red", markersize=4, label="mean")
    ax.set_yticks(positions, LANDMARK_NAMES, fontsize=8)
    ax.set_xlabel("Euclidean error (mm)")
    ax.set_xlim(left=0)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"Landmark error ({evaluation.n_feet} feet)")
    fig.tight_layout()
    return _save(fig, path)


def plot_bland_altman(evaluation: Evaluation, measurement: str, path: str | os.PathLike[str]) -> Path:
    """Bland–Altman plot of one measurement: difference vs mean, bias and 95 % limits."""
    fig = Figure(figsize=(4.5, 3.5), dpi=110)
    _bland_altman_axes(fig.add_subplot(), evaluation, measurement)
    fig.tight_layout()
    return _save(fig, path)


def plot_bland_altman_grid(evaluation: Evaluation, path: str | os.PathLike[str]) -> Path:
    """All measurements' Bland–Altman plots in one figure (4 columns)."""
    ncols = 4
    nrows = int(np.ceil(len(MEASUREMENT_NAMES) / ncols))
    fig = Figure(figsize=(4.0 * ncols, 3.0 * nrows), dpi=90)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, MEASUREMENT_NAMES, strict=False):
        _bland_altman_axes(ax, evaluation, name)
    for ax in axes[len(MEASUREMENT_NAMES):]:
        ax.set_visible(False)
    fig.tight_layout()
    return _save(fig, path)


def _bland_altman_axes(ax, evaluation: Evaluation, measurement: str) -> None:
    j = MEASUREMENT_NAMES.index(measurement)
    spec = MEASUREMENT_BY_NAME[measurement]
    stats = evaluation.measurements[measurement]
    pred, gt = evaluation.measurements_pred[:, j], evaluation.measurements_gt[:, j]
    keep = np.isfinite(pred) & np.isfinite(gt)
    diff = pred[keep] - gt[keep]
    if spec.unit == "deg":
        diff = wrap_degrees(diff)
    mean = (pred[keep] + gt[keep]) / 2.0
    ax.scatter(mean, diff, s=10, alpha=0.7)
    unit = {"deg": "°", "mm": "mm", "%": "%"}[spec.unit]
    if np.isfinite(stats.bias):
        ax.axhline(stats.bias, color="tab:red", lw=1, label=f"bias {stats.bias:+.2f}")
    if np.isfinite(stats.loa_low):
        for v in (stats.loa_low, stats.loa_high):
            ax.axhline(v, color="tab:red", lw=0.8, ls="--")
        ax.plot([], [], color="tab:red", ls="--", lw=0.8, label=f"95 % LoA {stats.loa_low:+.2f}/{stats.loa_high:+.2f}")
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set_title(f"{measurement} (n={stats.n}, ICC {_f(stats.icc, 2)})", fontsize=9)
    ax.set_xlabel(f"mean of truth and prediction ({unit})", fontsize=8)
    ax.set_ylabel(f"prediction − truth ({unit})", fontsize=8)
    ax.tick_params(labelsize=7)
    if keep.any():
        ax.legend(fontsize=7, loc="best")


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def _published_landmarks() -> dict[str, str]:
    """Published per-landmark MAE keyed by landmark name (keys look like ``"best (P1_HEAD)"``)."""
    out = {}
    for label, value in PUBLISHED_LANDMARK_MAE_MM.items():
        for name in LANDMARK_NAMES:
            if f"({name})" in label:
                out[name] = f"{value:.2f} ({label.split(' ')[0]})"
    return out


def _f(value: float | None, digits: int = 2) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"


def _pct(value: float) -> str:
    return "—" if not np.isfinite(value) else f"{100 * value:.0f} %"
