"""CLI command ``footalign evaluate``: compare predicted landmarks with ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from footalign.errors import InputError

_EPILOG = """
[b]Examples[/b]

  footalign evaluate predictions/ dataset/ --output eval/
      (a folder of [i]footalign predict[/i] outputs against a [i]footalign simulate[/i] dataset)

  footalign evaluate pred/case_0001/landmarks.json gt/case_0001.json --output eval/

  footalign evaluate pred_csvs/ slicer_markups/ --output eval/ --no-plots --quiet

Each argument is a landmark file (footalign JSON, CSV or 3D Slicer .mrk.json) or a folder of
them; cases are matched by case id (file stem, the folder holding a landmarks.json, or the ids
in a dataset.json), feet within a case by side. Writes evaluation.json, evaluation.md,
per_case.csv, landmark_errors.png and Bland–Altman plots into --output.
"""


def evaluate_command(
    predictions: Annotated[Path, typer.Argument(help="Predicted landmarks: a file or a folder of them.")],
    ground_truth: Annotated[Path, typer.Argument(
        help="Ground-truth landmarks: a file, a folder, or a dataset folder (dataset.json).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the report (created if needed).")],
    title: Annotated[str, typer.Option("--title", help="Heading of evaluation.md.")] = "Landmark evaluation",
    plots: Annotated[bool, typer.Option("--plots/--no-plots",
                                        help="Write the box plot and Bland–Altman plots.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Per-landmark errors and SDR, per-measurement MAE, Bland–Altman and ICC(2,1), with plots."""
    from footalign.evaluation import evaluate_landmarks, write_evaluation_report
    from footalign.evaluation.matching import load_landmark_set, pair_feet

    console = Console(quiet=quiet, highlight=False)
    pred_set = load_landmark_set(predictions)
    gt_set = load_landmark_set(ground_truth)
    pairing = pair_feet(pred_set, gt_set, single_files=predictions.is_file() and ground_truth.is_file())
    try:
        evaluation = evaluate_landmarks(pairing.pred, pairing.gt, case_ids=pairing.case_ids)
    except ValueError as exc:
        raise InputError(f"{predictions} vs {ground_truth}: {exc}") from None
    evaluation.notes.extend(pairing.notes)
    evaluation.notes.extend(f"skipped file: {s}" for s in pred_set.skipped + gt_set.skipped)
    paths = write_evaluation_report(evaluation, output, title=title, plots=plots)
    _print_summary(console, evaluation)
    for note in evaluation.notes[:10]:
        console.print(f"[yellow]note:[/yellow] {note}", markup=True)
    console.print(f"report: {paths['markdown']}  (json: {paths['json'].name}, csv: {paths['csv'].name})")


def _print_summary(console: Console, evaluation) -> None:
    from footalign.anatomy import SDR_THRESHOLDS_MM

    o = evaluation.overall()
    console.print(f"{o['n_cases']:.0f} cases, {o['n_feet']:.0f} feet: mean error {o['mean_error_mm']:.2f} mm, "
                  f"median {o['median_error_mm']:.2f} mm, p95 {o['p95_error_mm']:.2f} mm; "
                  + ", ".join(f"SDR {t:g} mm {100 * o[f'sdr_{t:g}mm']:.0f} %" for t in SDR_THRESHOLDS_MM))
    table = Table("landmark", "n", "mean", "median", "p95", "SDR 2 mm", "missing", title="Landmark error (mm)")
    for s in evaluation.landmarks.values():
        table.add_row(s.name, str(s.n), f"{s.mean:.2f}", f"{s.median:.2f}", f"{s.p95:.2f}",
                      f"{100 * s.sdr[2.0]:.0f} %", str(s.n_pred_missing))
    console.print(table)
    table = Table("measurement", "unit", "n", "MAE", "bias", "95 % LoA", "ICC(2,1)", title="Measurements")
    for m in evaluation.measurements.values():
        table.add_row(m.name, m.unit, str(m.n), f"{m.mae:.2f}", f"{m.bias:+.2f}",
                      f"{m.loa_low:+.2f} … {m.loa_high:+.2f}", f"{m.icc:.3f}")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""
    app.command("evaluate", epilog=_EPILOG, no_args_is_help=True)(evaluate_command)
