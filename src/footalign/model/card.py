"""The model card (``model_card.md``) of a bundle: data, command, seed, config, results, limits."""

from __future__ import annotations

import json
from typing import Any

from footalign.anatomy import LANDMARK_NAMES, PUBLISHED_LANDMARK_MAE_MM
from footalign.evaluation import folds_markdown


def _results_table(summary: dict[str, Any]) -> str:
    errors = summary["landmark_mean_error_mm"]
    lines = ["| landmark | mean error (mm) |", "|---|---|"]
    lines += [f"| {name} | {errors[name]:.2f} |" for name in LANDMARK_NAMES]
    return "\n".join(lines)


def _overall(summary: dict[str, Any]) -> str:
    o = summary["overall"]
    errors = summary["landmark_mean_error_mm"]
    below = sum(1 for v in errors.values() if v < 1.0)
    parts = [f"{summary['n_feet']} feet; mean error {o['mean_error_mm']:.2f} mm, median {o['median_error_mm']:.2f} mm, "
             f"95th percentile {o['p95_error_mm']:.2f} mm",
             f"per-landmark mean error {o['landmark_mean_error_min_mm']:.2f}–{o['landmark_mean_error_max_mm']:.2f} mm "
             f"({below}/22 landmarks below the 1.0 mm target; published method: "
             f"{min(PUBLISHED_LANDMARK_MAE_MM.values()):.2f}–{max(PUBLISHED_LANDMARK_MAE_MM.values()):.2f} mm)",
             f"SDR 2 mm {100 * o.get('sdr_2mm', float('nan')):.0f} %, 4 mm {100 * o.get('sdr_4mm', float('nan')):.0f} %",
             f"angle MAE {o['angle_mae_min_deg']:.2f}–{o['angle_mae_max_deg']:.2f}°"]
    if "seconds_per_foot" in summary:
        parts.append(f"time per foot: stage 1 {summary['seconds_per_foot']['stage1']:.2f} s, "
                     f"stage 2 {summary['seconds_per_foot']['stage2']:.2f} s")
    return "\n".join(f"- {p}" for p in parts)


def cv_section(cv_summary: dict[str, Any] | None, cv_note: str = "") -> list[str]:
    """Lines of the card's cross-validation section: the note, the pooled figures of the held-out
    feet, and a per-fold table when the summary has one (``footalign cv``'s ``"folds"``)."""
    out = [cv_note, ""] if cv_note else []
    if not cv_summary:
        return [*out, "Not run for this model: one training run took the whole compute budget (2 shared CPU "
                "cores). Command: `footalign cv DATASET --out DIR --config <this config>`.", ""]
    out += [_overall(cv_summary), ""]
    if cv_summary.get("folds"):
        out += [folds_markdown(cv_summary["folds"]).replace("## Per fold\n\n", ""), ""]
    return out


def _section_span(card: str, heading: str) -> tuple[int, int]:
    """Start and end offsets of the body of ``card``'s ``## heading`` section (up to the next ``## ``)."""
    marker = f"## {heading}\n"
    start = card.find(marker)
    if start < 0:
        raise ValueError(f"model card has no '## {heading}' section")
    body = start + len(marker)
    end = card.find("\n## ", body)
    return body, len(card) if end < 0 else end + 1


def section_body(card: str, heading: str) -> str:
    """The text of ``card``'s ``## heading`` section, without the heading."""
    body, end = _section_span(card, heading)
    return card[body:end]


def replace_section(card: str, heading: str, lines: list[str]) -> str:
    """``card`` with the body of its ``## heading`` section (up to the next ``## ``) replaced by ``lines``.

    Lets a card be brought up to date (e.g. a cross-validation finished after the model was
    installed) without the training run the rest of the card was written from.
    """
    body, end = _section_span(card, heading)
    return card[:body] + "\n".join(lines).rstrip("\n") + "\n\n" + card[end:]


def model_card(
    config: dict[str, Any],
    *,
    training_data: str,
    command: str,
    training_notes: str,
    test_summary: dict[str, Any] | None,
    test_data: str,
    cv_summary: dict[str, Any] | None = None,
    cv_note: str = "",
    limits: list[str],
) -> str:
    """Markdown model card. Results sections say plainly when something was not measured.

    ``cv_summary`` is the pooled evaluation of the held-out folds that were run; ``cv_note``
    says which folds those were (or why none was).
    """
    measurements = test_summary.get("measurement_mae", {}) if test_summary else {}
    out = [
        f"# footalign landmark model — {config.get('model_version', 'dev')}",
        "",
        "Two-stage 3D heatmap U-Nets (MONAI) for the 22 foot and ankle landmarks of "
        "`footalign.anatomy`; see `docs/model.md` for the method.",
        "",
        "## Training data",
        training_data,
        "",
        "## Reproduce",
        "```",
        command,
        "```",
        f"Seed {config['train']['seed']}. {training_notes}",
        "",
        "## Held-out test results",
    ]
    if test_summary:
        out += [f"Test data: {test_data}", "", _overall(test_summary), "", _results_table(test_summary), ""]
        if measurements:
            out += ["| measurement | MAE |", "|---|---|"]
            out += [f"| {k} | {v:.2f} |" for k, v in measurements.items()]
            out.append("")
    else:
        out += ["Not measured.", ""]
    out += ["## 5-fold cross-validation", *cv_section(cv_summary, cv_note)]
    out += ["## Known limits", *[f"- {item}" for item in limits], "",
            "## Configuration", "```json", json.dumps(config, indent=2), "```", ""]
    return "\n".join(out)
