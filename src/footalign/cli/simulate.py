"""CLI command of the simulate stage: ``footalign simulate``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

SIMULATE_HELP = """Generate a synthetic weight-bearing CT data set with exact ground truth.

Each case: a standing foot (or both feet) built from real bone templates, posed by joint rotations (normal, cavus, planovalgus, hallux valgus, hindfoot varus/valgus), rendered as a cone-beam WBCT (HU) with platform, soft tissue, noise and field-of-view truncation. Written to --out: images/, labels/, landmarks/ (footalign JSON + 3D Slicer markups), measurements/, params/ and dataset.json (cases, sides, pathologies, 5 folds). Deterministic for a given --seed, whatever --workers.

Examples:

  footalign simulate --n 100 --out data/sim --seed 1

  footalign simulate --n 20 --out data/sim_hv --seed 2 --pathology-mix normal=0.5,hallux_valgus=0.5

  footalign simulate --n 4 --out data/try --spacing 1.0 --bilateral-fraction 1 --preview
"""


def register(app: typer.Typer) -> None:
    """Add ``footalign simulate`` to ``app``."""

    @app.command("simulate", help=SIMULATE_HELP, no_args_is_help=True)
    def simulate(
        n: int = typer.Option(..., "--n", help="Number of cases (scans) to generate."),
        out: Path = typer.Option(..., "--out", "--output", "-o", help="Data set folder to write."),
        seed: int = typer.Option(0, "--seed", help="Random seed; case i is seeded from (seed, i)."),
        spacing: float = typer.Option(0.8, "--spacing", help="Isotropic voxel size in mm (0.3-1.0 typical)."),
        bilateral_fraction: float = typer.Option(0.3, "--bilateral-fraction",
                                                 help="Share of scans with both feet (0..1)."),
        pathology_mix: str = typer.Option(
            "normal=0.4,cavus=0.15,planovalgus=0.2,hallux_valgus=0.15,hindfoot_varus=0.05,hindfoot_valgus=0.05",
            "--pathology-mix", help="Weights name=w,... of normal, cavus, planovalgus, hallux_valgus, "
                                    "hindfoot_varus, hindfoot_valgus."),
        workers: int = typer.Option(max(1, os.cpu_count() or 1), "--workers", help="Parallel processes."),
        preview: bool = typer.Option(False, "--preview", help="Also write preview/<case>.png (MIPs, slices, landmarks)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
    ) -> None:
        from footalign.simulate.dataset import simulate_dataset, validate_args

        validate_args(out, n=n, spacing=spacing, bilateral_fraction=bilateral_fraction, workers=workers)
        console = Console(stderr=True)
        start = time.perf_counter()
        with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=console, disable=quiet) as bar:
            task = bar.add_task("cases", total=n)

            def progress(done: int, total: int, seconds: float) -> None:
                bar.update(task, completed=done)

            path = simulate_dataset(out, n=n, seed=seed, spacing=spacing, bilateral_fraction=bilateral_fraction,
                                    pathology_mix=pathology_mix, workers=min(workers, n), preview=preview,
                                    progress=progress)
        if not quiet:
            console.print(f"wrote {n} cases to {out} ({time.perf_counter() - start:.1f} s); index: {path}",
                          highlight=False)
