"""Write the outputs of one scan: landmarks (JSON, Slicer, CSV), measurements (CSV, JSON), report.

Everything is computed in memory first (including the report), then each file is written
atomically, so an error never leaves half a result behind.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from footalign import __version__
from footalign.anatomy import MEASUREMENTS
from footalign.io.atomic import ensure_writable_dir, write_text_atomic
from footalign.io.images import IDENTIFYING_FIELDS
from footalign.io.landmarks import write_landmarks_csv, write_landmarks_json, write_slicer_markups
from footalign.pipeline.predict import ScanResult
from footalign.pipeline.qc import doubtful_landmarks, measurement_doubts

# Files every successful scan leaves in its output folder (the report only without --no-report).
CORE_OUTPUTS: tuple[str, ...] = ("landmarks.json", "landmarks.csv", "measurements.csv", "measurements.json")
REPORT_OUTPUT = "report.html"
# Header fields that are safe to keep (describe the acquisition, not the person).
SAFE_META_FIELDS: tuple[str, ...] = ("format", "modality", "Laterality", "ImageLaterality", "PatientPosition",
                                     "Manufacturer", "ManufacturerModelName", "BodyPartExamined",
                                     "series_description", "n_files")
ID_META_FIELDS: tuple[str, ...] = ("source", "series_uid", *IDENTIFYING_FIELDS)


def measurement_column(spec_name: str) -> str:
    """CSV column name with the unit, e.g. ``hindfoot_angle [deg]``."""
    spec = next(s for s in MEASUREMENTS if s.name == spec_name)
    return f"{spec.name} [{spec.unit}]"


def scan_description(result: ScanResult, *, keep_ids: bool, name: str | None = None) -> dict[str, Any]:
    """What the outputs say about the input: geometry and safe header fields (ids on request)."""
    image = result.image
    allowed = SAFE_META_FIELDS + (ID_META_FIELDS if keep_ids else ())
    info: dict[str, Any] = {k: image.meta[k] for k in allowed if k in image.meta}
    info.update({"shape": list(image.shape), "spacing_mm": [round(s, 4) for s in image.spacing],
                 "origin_lps_mm": [round(o, 3) for o in image.origin],
                 "direction": np.round(image.direction, 6).tolist()})
    if name is not None:
        info["name"] = name
    return info


def run_info(result: ScanResult, *, keep_ids: bool, name: str | None = None) -> dict[str, Any]:
    """The ``extra`` block of landmarks.json: input, timings, model, floor and QC."""
    return {
        "input": scan_description(result, keep_ids=keep_ids, name=name),
        "model": result.model_info,
        "pipeline": {
            "version": __version__,
            "timing_s": result.timings,
            "floor_source": "platform" if result.floor is not None else "none (tripod per foot)",
            "bone_threshold_hu": round(result.analysis.bone_threshold_hu, 1),
            "soft_tissue_hu": round(result.analysis.soft_tissue_hu, 1),
        },
        "qc": {"scan": [w.as_dict() for w in result.qc],
               **{f"{f.side}": [w.as_dict() for w in f.qc] for f in result.feet}},
    }


def measurements_rows(result: ScanResult, *, scan: str | None = None) -> list[dict[str, Any]]:
    """One row per foot: scan name, side, floor source, then the 14 measurements with units."""
    rows = []
    for foot in result.feet:
        row: dict[str, Any] = {}
        if scan is not None:
            row["scan"] = scan
        row["side"] = foot.side
        row["floor_source"] = foot.measurements.floor_source
        for spec in MEASUREMENTS:
            v = foot.measurements.values[spec.name]
            row[measurement_column(spec.name)] = "" if not np.isfinite(v) else round(float(v), 2)
        rows.append(row)
    return rows


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of dict rows (columns from the first row)."""
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


def measurements_document(result: ScanResult) -> dict[str, Any]:
    """measurements.json: per foot the values, units, normal ranges, out-of-range flags, reasons."""
    feet = []
    for foot in result.feet:
        m = foot.measurements
        flags = m.out_of_range()
        doubtful = doubtful_landmarks(foot.landmarks, foot.qc)
        items = []
        for spec in MEASUREMENTS:
            v = m.values[spec.name]
            doubts = measurement_doubts(spec.landmarks, doubtful, floor_source=m.floor_source,
                                        needs_floor=spec.needs_floor or spec.plane == "sagittal")
            items.append({"name": spec.name, "title": spec.title, "unit": spec.unit,
                          "value": None if not np.isfinite(v) else round(float(v), 3),
                          "normal_range": list(spec.normal_range), "out_of_range": flags[spec.name],
                          "missing_reason": m.reasons.get(spec.name),
                          "doubtful_landmarks": doubts if np.isfinite(v) else []})
        feet.append({"side": foot.side, "floor_source": m.floor_source, "notes": list(m.notes),
                     "measurements": items})
    return {"schema": "footalign.measurements", "version": 1, "software": {"name": "footalign",
            "version": __version__}, "feet": feet}


def write_scan_outputs(result: ScanResult, out_dir: str | Path, *, keep_ids: bool = False,
                       report: bool = True, name: str | None = None) -> list[Path]:
    """Write all outputs of one scan into ``out_dir``; return the written paths.

    The report is rendered before anything is written; each file is written atomically and
    ``landmarks.json`` last, so a folder with ``landmarks.json`` holds a complete result.
    """
    html = None
    if report:
        from footalign.report.html import scan_report_html

        t0 = time.perf_counter()
        html = scan_report_html(result, keep_ids=keep_ids, name=name)
        result.timings["report"] = round(time.perf_counter() - t0, 3)
    out = ensure_writable_dir(out_dir)
    feet = [f.landmarks for f in result.feet]
    written = []
    if html is not None:
        written.append(write_text_atomic(out / REPORT_OUTPUT, html))
    for foot in result.feet:
        written.append(write_slicer_markups(out / f"landmarks_{foot.side}.mrk.json", foot.landmarks))
    written.append(write_text_atomic(out / "measurements.csv", rows_to_csv(measurements_rows(result))))
    written.append(write_text_atomic(out / "measurements.json",
                                     json.dumps(measurements_document(result), indent=1) + "\n"))
    written.append(write_landmarks_csv(out / "landmarks.csv", feet))
    written.append(write_landmarks_json(out / "landmarks.json", feet,
                                        extra=run_info(result, keep_ids=keep_ids, name=name)))
    return written


def outputs_complete(out_dir: str | Path, *, report: bool = True) -> bool:
    """True if ``out_dir`` holds a finished result (used by batch resume)."""
    out = Path(out_dir)
    names = CORE_OUTPUTS + ((REPORT_OUTPUT,) if report else ())
    return all((out / n).is_file() for n in names)
