"""CLI commands that look at inputs without a model: ``info`` (an image) and ``measure`` (a landmark file)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from footalign.anatomy import MEASUREMENTS
from footalign.errors import InputError
from footalign.geometry.measurements import Measurements, measure_foot
from footalign.io.atomic import write_text_atomic
from footalign.io.images import read_image
from footalign.io.landmarks import read_landmarks

EXAMPLE_LANDMARKS = Path(__file__).resolve().parents[1] / "data" / "examples" / "right_foot_landmarks.json"


def measurements_table(results: list[Measurements]) -> Table:
    """A rich table: one row per measurement, one column per foot, normal ranges and flags."""
    table = Table(title="Alignment measurements", show_lines=False)
    table.add_column("measurement")
    for m in results:
        table.add_column(f"{m.side} foot", justify="right")
    table.add_column("unit")
    table.add_column("normal range", justify="center")
    table.add_column("sign")
    flags = [m.out_of_range() for m in results]
    for spec in MEASUREMENTS:
        cells = []
        for m, f in zip(results, flags, strict=True):
            v = m.values[spec.name]
            if not np.isfinite(v):
                cells.append("[dim]n/a[/dim]")
            else:
                cells.append(f"[bold yellow]{v:.1f} ![/bold yellow]" if f[spec.name] else f"{v:.1f}")
        lo, hi = spec.normal_range
        table.add_row(spec.title, *cells, spec.unit, f"{lo:g} to {hi:g}", spec.sign)
    return table


def measurements_frame(results: list[Measurements]) -> pd.DataFrame:
    """One row per foot, one column per measurement with the unit in the header."""
    rows = []
    for k, m in enumerate(results):
        row: dict[str, object] = {"foot": k, "side": m.side, "floor_source": m.floor_source}
        for spec in MEASUREMENTS:
            row[f"{spec.name} [{spec.unit}]"] = m.values[spec.name]
        rows.append(row)
    return pd.DataFrame(rows)


def write_measurements(path: Path, results: list[Measurements]) -> Path:
    """Write measurements as CSV (one row per foot) or JSON, chosen by the file extension."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return write_text_atomic(path, measurements_frame(results).to_csv(index=False, float_format="%.3f"))
    if suffix == ".json":
        doc = {"schema": "footalign.measurements", "version": 1,
               "units": {s.name: s.unit for s in MEASUREMENTS}, "feet": [m.as_dict() for m in results]}
        return write_text_atomic(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")
    raise InputError(f"{path}: unknown output format (use .csv or .json)")


def info(
    image: Path = typer.Argument(..., help="DICOM folder, NIfTI, NRRD or MHA file."),
    series: str | None = typer.Option(None, "--series", help="SeriesInstanceUID to read from a DICOM folder."),
) -> None:
    """Print an image's size, spacing, orientation and HU range.

    [bold]Examples[/bold]

      footalign info scan.nii.gz

      footalign info dicom_folder/ --series 1.2.840.113619.2.1
    """
    img = read_image(image, series_uid=series)
    console = Console()
    arr = img.array
    table = Table(title=str(image), show_header=False)
    table.add_row("size (voxels)", " x ".join(map(str, img.shape)))
    table.add_row("spacing (mm)", " x ".join(f"{s:.3f}" for s in img.spacing))
    table.add_row("extent (mm)", " x ".join(f"{e:.1f}" for e in img.extent_mm))
    table.add_row("origin (LPS mm)", ", ".join(f"{o:.1f}" for o in img.origin))
    table.add_row("direction", _orientation_code(img.direction))
    table.add_row("value range (HU)", f"{np.nanmin(arr):.0f} to {np.nanmax(arr):.0f}")
    table.add_row("percentiles 1/50/99", " / ".join(f"{v:.0f}" for v in np.nanpercentile(arr, [1, 50, 99])))
    for key in ("format", "modality", "series_uid", "Manufacturer", "ManufacturerModelName", "Laterality"):
        if key in img.meta:
            table.add_row(key, str(img.meta[key]))
    console.print(table)


def _orientation_code(direction: np.ndarray) -> str:
    """Three-letter code of the axis directions (DICOM/ITK style: the LPS letter each axis points to)."""
    letters = {0: "LR", 1: "PA", 2: "SI"}
    code = ""
    for d in range(3):
        col = direction[:, d]
        a = int(np.argmax(np.abs(col)))
        code += letters[a][0] if col[a] > 0 else letters[a][1]
    oblique = bool(np.any(np.max(np.abs(direction), axis=0) < 0.999))
    return code + (" (oblique)" if oblique else "")


def measure(
    landmarks: Path = typer.Argument(EXAMPLE_LANDMARKS, show_default=False, help="Landmark file: footalign JSON, CSV or 3D Slicer .mrk.json. "
                                     "Default: a bundled example right foot."),
    side: str | None = typer.Option(None, "--side", help="left or right, for files that do not record it."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the measurements to a .csv or .json file."),
    tripod: bool = typer.Option(False, "--tripod", help="Ignore a floor stored in the file; use the tripod plane."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the table."),
) -> None:
    """Compute the 14 alignment measurements from a landmark file.

    [bold]Examples[/bold]

      footalign measure                                  # the bundled example foot

      footalign measure landmarks.json --output measurements.csv

      footalign measure points.mrk.json --side left --output m.json
    """
    if side is not None and side not in ("left", "right"):
        raise InputError(f"--side must be 'left' or 'right', got {side!r}")
    feet = read_landmarks(landmarks, side=side)
    if side is not None:
        for f in feet:
            f.side = side
    if tripod:
        for f in feet:
            f.floor = None
    results = [measure_foot(f) for f in feet]
    if output is not None:
        write_measurements(output, results)
    if not quiet:
        console = Console()
        console.print(measurements_table(results))
        for m in results:
            console.print(f"[dim]{m.side} foot: floor from {m.floor_source}[/dim]")
            for note in m.notes:
                console.print(f"[yellow]note:[/yellow] {note}")
            for name, reason in m.reasons.items():
                console.print(f"[dim]{name}: {reason}[/dim]")
        if output is not None:
            console.print(f"wrote {output}")


def register(app: typer.Typer) -> None:
    """Add ``info`` and ``measure`` to ``app``."""
    app.command()(info)
    app.command()(measure)
