"""CLI commands of the predict stage: ``footalign predict`` and ``footalign demo``."""

from __future__ import annotations

import functools
import os
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from footalign.anatomy import LANDMARK_NAMES, MEASUREMENTS
from footalign.errors import InputError, OutputError
from footalign.model.config import PRECISIONS

PREDICT_HELP = """Find the feet in a weight-bearing CT scan and write their 22 landmarks, 14 measurements and a visual report.

SCAN is a DICOM folder, a NIfTI/NRRD/MHA file, or a folder of scans (batch mode: each volume file or sub-folder is one scan; bad scans are listed in failures.csv; rerunning resumes).

Outputs in --output: landmarks.json (LPS mm), landmarks_<side>.mrk.json (3D Slicer), landmarks.csv, measurements.csv/.json, report.html; in batch mode one folder per scan plus measurements_all.csv, failures.csv and summary.html.

Examples:

  footalign predict scan.nii.gz --output results/

  footalign predict dicom_folder/ --output results/ --series 1.2.3.4.5

  footalign predict all_scans/ --output cohort/ --workers 2 --quiet

Exit codes: 0 success; 1 batch finished but some scans failed (see failures.csv); 2 bad input; 3 model problem; 4 output not writable.
"""


def load_predictor(model_dir: Path | None, device: str, precision: str = "auto") -> Any:
    """The landmark model (picklable factory target for batch workers)."""
    import torch

    from footalign.model.predictor import Predictor

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    return Predictor.from_folder(model_dir, device=device, precision=precision)


def check_output_location(output: Path) -> None:
    """Fail early (before any work) if ``output`` cannot become a writable folder."""
    if output.exists():
        if not output.is_dir():
            raise OutputError(f"output path {output} exists and is not a directory")
        if not os.access(output, os.W_OK | os.X_OK):
            raise OutputError(f"output directory {output} is not writable")
        return
    parent = output.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot create output directory {output}: {parent} is not writable")


def print_result(console: Console, result: Any, output: Path) -> None:
    """A short table of the measurements per foot and the QC warnings."""
    table = Table(title=f"footalign results → {output}", show_lines=False)
    table.add_column("measurement")
    for foot in result.feet:
        table.add_column(f"{foot.side}", justify="right")
    table.add_column("normal")
    for spec in MEASUREMENTS:
        cells = []
        for foot in result.feet:
            v = foot.measurements.values[spec.name]
            flag = foot.measurements.out_of_range()[spec.name]
            cells.append("—" if v != v else (f"[bold yellow]{v:.1f}[/]" if flag else f"{v:.1f}"))
        lo, hi = spec.normal_range
        table.add_row(f"{spec.name} [{spec.unit}]", *cells, f"{lo:g}…{hi:g}")
    console.print(table)
    for foot in result.feet:
        for w in foot.qc:
            if w.severity == "warning":
                console.print(f"[yellow]{foot.side}: {w.message}[/]", highlight=False)
    t = result.timings
    console.print(f"timing: {', '.join(f'{k} {v:.2f}s' for k, v in t.items())}", highlight=False)


def run_single(scan: Path, output: Path, *, model: Path | None, series: str | None, device: str,
               keep_ids: bool, report: bool, quiet: bool, side: str | None,
               predictor: Any = None, precision: str = "auto") -> Any:
    """Predict one scan and write its outputs (shared by ``predict`` and ``demo``)."""
    from footalign.io.images import read_image
    from footalign.pipeline.outputs import write_scan_outputs
    from footalign.pipeline.predict import locate_feet, predict_scan

    console = Console(stderr=False, quiet=quiet)
    check_output_location(output)
    t0 = time.perf_counter()
    with console.status("reading the scan…"):
        image = read_image(scan, series_uid=series)
    t_read = time.perf_counter() - t0
    # Content checks and foot detection first: bad input fails before the model is loaded.
    layout = locate_feet(image, source=str(scan), side=side)
    with console.status("loading the model…"):
        t1 = time.perf_counter()
        predictor = predictor or load_predictor(model, device, precision)
        t_model = time.perf_counter() - t1
    with console.status("finding feet and landmarks…") as status:
        result = predict_scan(image, predictor, source=str(scan), side=side, layout=layout,
                              progress=lambda msg: (status.update(msg), console.print(f"  {msg}", highlight=False)))
    result.timings = {"read": round(t_read, 3), "load_model": round(t_model, 3), **result.timings}
    with console.status("writing outputs and report…"):
        name = scan_label(scan) if keep_ids else None
        write_scan_outputs(result, output, keep_ids=keep_ids, report=report, name=name)
    result.timings["total"] = round(time.perf_counter() - t0, 3)
    print_result(console, result, output)
    return result


def scan_label(scan: Path) -> str:
    from footalign.pipeline.batch import scan_name

    return scan_name(scan)


def register(app: typer.Typer) -> None:
    """Add ``predict`` and ``demo`` to ``app``."""

    @app.command("predict", help=PREDICT_HELP)
    def predict(
        scan: Path = typer.Argument(..., help="DICOM folder, NIfTI/NRRD/MHA file, or a folder of scans."),
        output: Path = typer.Option(..., "--output", "-o", help="Output folder (created if needed)."),
        model: Path | None = typer.Option(None, "--model", help="Model folder (default: the shipped model)."),
        series: str | None = typer.Option(None, "--series", help="DICOM SeriesInstanceUID to read."),
        device: str = typer.Option("cpu", "--device", help="Torch device (cpu)."),
        precision: str = typer.Option("auto", "--precision",
                                      help="Network arithmetic: auto (bfloat16 where the CPU has it natively), "
                                           "float32 or bfloat16."),
        keep_ids: bool = typer.Option(False, "--keep-ids", help="Keep patient identifiers in the outputs."),
        no_report: bool = typer.Option(False, "--no-report", help="Skip report.html (faster)."),
        side: str | None = typer.Option(None, "--side", help="Force the side of a single-foot scan: left|right."),
        workers: int = typer.Option(1, "--workers", min=1, help="Batch mode: scans processed in parallel."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    ) -> None:
        from footalign.pipeline.batch import is_batch_folder

        if side not in (None, "left", "right"):
            raise InputError(f"--side must be left or right, got {side!r}")
        if precision not in PRECISIONS:
            raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if not scan.exists():
            raise InputError(f"{scan}: no such file or folder")
        if is_batch_folder(scan):
            run_batch_cli(scan, output, model=model, series=series, device=device, keep_ids=keep_ids,
                          report=not no_report, workers=workers, quiet=quiet, precision=precision)
            return
        run_single(scan, output, model=model, series=series, device=device, keep_ids=keep_ids,
                   report=not no_report, quiet=quiet, side=side, precision=precision)

    @app.command("demo", help="Run predict + report on the small demo scan bundled with footalign "
                              "(offline).\n\nExample:\n\n  footalign demo --output demo_output")
    def demo(
        output: Path = typer.Option(Path("demo_output"), "--output", "-o", help="Output folder."),
        model: Path | None = typer.Option(None, "--model", help="Model folder (default: the shipped model)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    ) -> None:
        scan = demo_scan_path()
        console = Console(quiet=quiet)
        console.print(f"demo scan: {scan.name} (simulated weight-bearing CT, see data/demo/README.md)")
        result = run_single(scan, output, model=model, series=None, device="cpu", keep_ids=True, report=True,
                            quiet=quiet, side=None)
        errors = demo_errors(result)
        if errors:
            worst = max(errors, key=errors.get)
            console.print(f"landmark error vs the demo's ground truth: mean {np.mean(list(errors.values())):.2f} mm, "
                          f"max {errors[worst]:.2f} mm ({worst}), {len(errors)} landmarks")
        console.print(f"open {output / 'report.html'} in a browser")


def demo_errors(result: Any) -> dict[str, float]:
    """Distance (mm) of each predicted landmark of the demo foot to its ground truth."""
    from footalign.io.landmarks import read_landmarks

    truth_path = demo_scan_path().with_name("demo_truth.json")
    if not truth_path.is_file() or not result.feet:
        return {}
    truth = read_landmarks(truth_path)[0]
    pred = result.feet[0].landmarks
    out = {}
    for i, name in enumerate(LANDMARK_NAMES):
        if pred.has(name) and truth.has(name):
            out[name] = float(np.linalg.norm(pred.points[i] - truth.points[i]))
    return out


def demo_scan_path() -> Path:
    """The bundled demo scan (``footalign/data/demo/demo_scan.nii.gz``)."""
    path = Path(str(resources.files("footalign") / "data" / "demo" / "demo_scan.nii.gz"))
    if not path.is_file():
        raise InputError(f"{path}: the bundled demo scan is missing (reinstall footalign)")
    return path


def run_batch_cli(folder: Path, output: Path, *, model: Path | None, series: str | None, device: str,
                  keep_ids: bool, report: bool, workers: int, quiet: bool, precision: str = "auto") -> None:
    """Batch mode with a progress bar and a final count."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from footalign.pipeline.batch import find_scans, run_batch

    console = Console(quiet=quiet)
    check_output_location(output)
    n = len(find_scans(folder))
    factory = functools.partial(load_predictor, model, device, precision)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=quiet) as bar:
        task = bar.add_task("scans", total=n)

        def on_progress(name: str, state: str) -> None:
            bar.advance(task)
            if state.startswith("failed"):
                bar.console.print(f"[red]{name}: {state}[/]", highlight=False)
            else:
                bar.console.print(f"{name}: {state}", highlight=False)

        summary = run_batch(folder, output, factory, series_uid=series, keep_ids=keep_ids, report=report,
                            workers=workers, on_progress=on_progress)
    console.print(f"{len(summary.done)} done, {len(summary.skipped)} already complete, "
                  f"{len(summary.failures)} failed → {output / 'summary.html'}")
    if summary.failures:
        raise typer.Exit(code=1)  # the run finished, but not every scan has a result
