"""Batch processing: every scan in a folder, continuing past bad ones, resumable.

Each scan gets its own output folder ``OUT/<scan name>/``. A scan whose folder already holds a
complete result is skipped, so an interrupted run resumes where it stopped. Failures are
recorded in ``failures.csv`` with their one-line reason; ``measurements_all.csv`` and
``summary.html`` cover every scan with a result.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from footalign.errors import FootalignError
from footalign.io.atomic import ensure_writable_dir, write_text_atomic
from footalign.io.images import VOLUME_SUFFIXES, has_dicom_preamble, is_volume_file
from footalign.pipeline.outputs import outputs_complete, rows_to_csv

PredictorFactory = Callable[[], Any]


def looks_like_dicom_file(path: Path) -> bool:
    """A file with a ``.dcm`` ending, named DICOMDIR, or with the DICM preamble."""
    if path.suffix.lower() == ".dcm" or path.name.upper() == "DICOMDIR":
        return True
    return has_dicom_preamble(path)


def is_batch_folder(path: Path) -> bool:
    """True if ``path`` is a folder of scans (sub-folders or volume files), not one DICOM series."""
    if not path.is_dir():
        return False
    entries = [e for e in path.iterdir() if not e.name.startswith(".")]
    files = [e for e in entries if e.is_file()]
    if any(looks_like_dicom_file(f) for f in files):
        return False
    return any(e.is_dir() for e in entries) or any(is_volume_file(f) for f in files)


def scan_name(path: Path) -> str:
    """Output folder name of a scan: the file name without its volume ending, or the folder name."""
    name = path.name
    for suffix in VOLUME_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def find_scans(folder: Path) -> list[tuple[str, Path]]:
    """(name, path) of every scan in ``folder``: each volume file and each sub-folder, sorted."""
    scans = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() or is_volume_file(entry):
            scans.append((scan_name(entry), entry))
    return scans


@dataclass
class BatchSummary:
    """What a batch run did."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def process_one(path: Path, out_dir: Path, predictor: Any, *, name: str, series_uid: str | None,
                keep_ids: bool, report: bool, side: str | None = None) -> None:
    """Read, predict and write one scan (raises on failure; nothing is written then)."""
    from footalign.io.images import read_image
    from footalign.pipeline.outputs import write_scan_outputs
    from footalign.pipeline.predict import predict_scan

    image = read_image(path, series_uid=series_uid)
    result = predict_scan(image, predictor, source=str(path), side=side)
    write_scan_outputs(result, out_dir, keep_ids=keep_ids, report=report, name=name)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FootalignError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


_WORKER_PREDICTOR: Any = None


def _worker_init(factory: PredictorFactory, threads: int) -> None:
    global _WORKER_PREDICTOR
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    _WORKER_PREDICTOR = factory()
    if "torch" in sys.modules:  # share the cores between workers, not oversubscribe them
        sys.modules["torch"].set_num_threads(threads)


def _worker_run(path: Path, out_dir: Path, name: str, options: dict[str, Any]) -> str | None:
    try:
        process_one(path, out_dir, _WORKER_PREDICTOR, name=name, **options)
    except Exception as exc:
        return _reason(exc)
    return None


def read_rows(csv_path: Path, scan: str) -> list[dict[str, Any]]:
    """The measurement rows of one finished scan, with its name in front."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        return [{"scan": scan, **row} for row in csv.DictReader(fh)]


def run_batch(folder: Path, out: Path, predictor_factory: PredictorFactory, *, series_uid: str | None = None,
              keep_ids: bool = False, report: bool = True, workers: int = 1,
              on_progress: Callable[[str, str], None] | None = None) -> BatchSummary:
    """Process every scan of ``folder`` into ``out`` (see module docstring).

    Parameters
    ----------
    folder : folder of scans (volume files and/or DICOM sub-folders).
    out : output folder; one sub-folder per scan plus the cohort files.
    predictor_factory : returns the landmark model (called once, or once per worker process).
    workers : processes working in parallel (each loads its own model).
    on_progress : called with (scan name, "done" | "skipped" | "failed: reason") per scan.
    """
    scans = find_scans(folder)
    if not scans:
        from footalign.errors import InputError

        raise InputError(f"{folder}: no scans found (expected volume files or DICOM sub-folders)")
    ensure_writable_dir(out)
    summary = BatchSummary()
    todo = []
    for name, path in scans:
        if outputs_complete(out / name, report=report):
            summary.skipped.append(name)
            if on_progress:
                on_progress(name, "skipped")
        else:
            todo.append((name, path))
    options = {"series_uid": series_uid, "keep_ids": keep_ids, "report": report}

    def record(name: str, reason: str | None) -> None:
        if reason is None:
            summary.done.append(name)
        else:
            summary.failures.append({"scan": name, "reason": reason})
        if on_progress:
            on_progress(name, "done" if reason is None else f"failed: {reason}")

    if workers <= 1 or len(todo) <= 1:
        predictor = predictor_factory() if todo else None
        for name, path in todo:
            try:
                process_one(path, out / name, predictor, name=name, **options)
                record(name, None)
            except Exception as exc:
                record(name, _reason(exc))
    else:
        threads = max(1, (os.cpu_count() or 2) // workers)
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                 initializer=_worker_init, initargs=(predictor_factory, threads)) as pool:
            futures = {pool.submit(_worker_run, path, out / name, name, options): name for name, path in todo}
            for fut in as_completed(futures):
                record(futures[fut], fut.result())
    for name, _ in scans:
        csv_path = out / name / "measurements.csv"
        if outputs_complete(out / name, report=report):
            summary.rows.extend(read_rows(csv_path, name))
    write_cohort_files(out, summary, n_scans=len(scans))
    return summary


def write_cohort_files(out: Path, summary: BatchSummary, *, n_scans: int) -> None:
    """failures.csv, measurements_all.csv and summary.html of a batch run."""
    from footalign.report.html import summary_html

    fail_csv = rows_to_csv(summary.failures) if summary.failures else "scan,reason\n"
    html = summary_html(summary.rows, summary.failures, n_scans=n_scans)
    write_text_atomic(out / "failures.csv", fail_csv)
    write_text_atomic(out / "measurements_all.csv", rows_to_csv(summary.rows))
    write_text_atomic(out / "summary.html", html)
