"""Landmark files: footalign JSON (versioned schema), CSV, and 3D Slicer markups (``.mrk.json``).

All files store physical coordinates in millimetres. footalign writes LPS (and says so in
every file); Slicer markups in RAS are converted on reading. A missing landmark is ``null``
(JSON) or an empty cell (CSV); a NaN or infinite coordinate is an error.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from footalign import __version__
from footalign.anatomy import LANDMARK_NAMES, LANDMARKS, N_LANDMARKS
from footalign.errors import InputError
from footalign.io.atomic import write_text_atomic
from footalign.io.jsonable import to_jsonable
from footalign.landmarks import FloorPlane, FootLandmarks

SCHEMA = "footalign.landmarks"
SCHEMA_VERSION = 1
SLICER_SCHEMA = ("https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
                 "Resources/Schema/markups-schema-v1.0.3.json#")
CSV_COLUMNS = ("foot", "side", "landmark", "x_lps_mm", "y_lps_mm", "z_lps_mm", "confidence", "status")


# ----- footalign JSON -------------------------------------------------------------------------
def _num(v: float) -> float | None:
    return None if not math.isfinite(float(v)) else round(float(v), 4)


def foot_to_dict(foot: FootLandmarks) -> dict[str, Any]:
    """The JSON-ready dictionary of one foot (footalign schema)."""
    assert foot.confidence is not None and foot.status is not None
    return {
        "side": foot.side,
        "floor": None if foot.floor is None else {
            "point": [_num(v) for v in foot.floor.point],
            "normal": [_num(v) for v in foot.floor.normal],
            "source": foot.floor.source,
        },
        "landmarks": [
            {
                "name": spec.name,
                "position": None if not np.all(np.isfinite(foot.points[i])) else [_num(v) for v in foot.points[i]],
                "confidence": _num(foot.confidence[i]),
                "status": foot.status[i],
            }
            for i, spec in enumerate(LANDMARKS)
        ],
        "meta": to_jsonable(foot.meta),
    }


def landmarks_document(feet: list[FootLandmarks], *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole footalign landmarks document for a scan (all feet)."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "units": "mm",
        "frame": "LPS",
        "software": {"name": "footalign", "version": __version__},
        "feet": [foot_to_dict(f) for f in feet],
    }
    if extra:
        doc.update(to_jsonable(extra))
    return doc


def write_landmarks_json(path: str | os.PathLike[str], feet: list[FootLandmarks], *,
                         extra: dict[str, Any] | None = None) -> Path:
    """Write all feet of a scan as a footalign landmarks JSON file (atomic)."""
    text = json.dumps(landmarks_document(feet, extra=extra), indent=1, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def _finite_vector(value: Any, where: str, path: Path) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{path}: {where} is not a list of 3 numbers") from None
    if arr.shape != (3,):
        raise InputError(f"{path}: {where} must have 3 coordinates, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{path}: {where} has a NaN or infinite coordinate (use null for a missing landmark)")
    return arr


def foot_from_dict(d: dict[str, Any], path: Path, where: str = "foot") -> FootLandmarks:
    """Parse one foot of a footalign JSON document, validating every field."""
    if not isinstance(d, dict):
        raise InputError(f"{path}: {where} is not an object")
    side = d.get("side")
    if side not in ("left", "right"):
        raise InputError(f"{path}: {where} has side {side!r}; expected 'left' or 'right'")
    entries = d.get("landmarks")
    if not isinstance(entries, list):
        raise InputError(f"{path}: {where} has no 'landmarks' list")
    points = np.full((N_LANDMARKS, 3), np.nan)
    confidence = np.full(N_LANDMARKS, np.nan)
    status = ["missing"] * N_LANDMARKS
    index = {n: i for i, n in enumerate(LANDMARK_NAMES)}
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict) or "name" not in entry or "position" not in entry:
            raise InputError(f"{path}: {where} landmark #{k + 1} needs 'name' and 'position'")
        name = entry["name"]
        if name not in index:
            raise InputError(f"{path}: unknown landmark name {name!r}")
        i = index[name]
        if entry["position"] is not None:
            points[i] = _finite_vector(entry["position"], f"{where} {name} position", path)
            status[i] = "ok"
        if entry.get("confidence") is not None:
            confidence[i] = float(entry["confidence"])
        if entry.get("status"):
            status[i] = str(entry["status"])
    floor = None
    if d.get("floor"):
        fd = d["floor"]
        try:
            floor = FloorPlane(_finite_vector(fd.get("point"), f"{where} floor point", path),
                               _finite_vector(fd.get("normal"), f"{where} floor normal", path),
                               str(fd.get("source", "file")))
        except ValueError as exc:
            raise InputError(f"{path}: {where} floor: {exc}") from None
    return FootLandmarks(side, points, confidence, floor, status, dict(d.get("meta") or {}))


def _read_footalign_json(path: Path, doc: dict[str, Any]) -> list[FootLandmarks]:
    if doc.get("schema") != SCHEMA:
        raise InputError(f"{path}: not a footalign landmarks file (schema {doc.get('schema')!r})")
    if int(doc.get("version", 0)) > SCHEMA_VERSION:
        raise InputError(f"{path}: landmarks schema version {doc['version']} is newer than this footalign reads")
    if doc.get("frame", "LPS") != "LPS" or doc.get("units", "mm") != "mm":
        raise InputError(f"{path}: unsupported frame/units {doc.get('frame')}/{doc.get('units')} (expected LPS/mm)")
    feet = doc.get("feet")
    if not isinstance(feet, list) or not feet:
        raise InputError(f"{path}: no 'feet' in the landmarks file")
    return [foot_from_dict(f, path, f"foot #{k + 1}") for k, f in enumerate(feet)]


# ----- CSV -------------------------------------------------------------------------------------
def write_landmarks_csv(path: str | os.PathLike[str], feet: list[FootLandmarks]) -> Path:
    """One row per landmark and foot: foot index, side, name, LPS x/y/z (mm), confidence, status."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for k, foot in enumerate(feet):
        assert foot.confidence is not None and foot.status is not None
        for i, name in enumerate(LANDMARK_NAMES):
            p = foot.points[i]
            coords = ["" if not math.isfinite(v) else f"{v:.4f}" for v in p]
            conf = "" if not math.isfinite(foot.confidence[i]) else f"{foot.confidence[i]:.4f}"
            writer.writerow([k, foot.side, name, *coords, conf, foot.status[i]])
    return write_text_atomic(path, buf.getvalue())


def _read_csv(path: Path, side: str | None) -> list[FootLandmarks]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise InputError(f"{path}: empty landmarks CSV")
    missing_cols = {"landmark", "x_lps_mm", "y_lps_mm", "z_lps_mm"} - set(rows[0])
    if missing_cols:
        raise InputError(f"{path}: CSV lacks column(s) {', '.join(sorted(missing_cols))}")
    feet: dict[str, dict[str, Any]] = {}
    for n, row in enumerate(rows, start=2):
        key = row.get("foot") or "0"
        foot_side = row.get("side") or side
        if foot_side not in ("left", "right"):
            raise InputError(f"{path}: line {n}: side {foot_side!r} (give a 'side' column or --side)")
        entry = feet.setdefault(key, {"side": foot_side, "landmarks": []})
        cells = [row["x_lps_mm"], row["y_lps_mm"], row["z_lps_mm"]]
        position = None if all(c in ("", None) for c in cells) else cells
        if position is not None:
            try:
                position = [float(c) for c in cells]
            except (TypeError, ValueError):
                raise InputError(f"{path}: line {n}: coordinates {cells} are not numbers") from None
        conf = row.get("confidence") or None
        entry["landmarks"].append({"name": row["landmark"], "position": position,
                                   "confidence": None if conf is None else float(conf),
                                   "status": row.get("status") or None})
    return [foot_from_dict(f, path, f"foot {k}") for k, f in feet.items()]


# ----- 3D Slicer markups -------------------------------------------------------------------------
def slicer_markups_document(foot: FootLandmarks) -> dict[str, Any]:
    """A 3D Slicer point-list markups document (LPS) with one control point per landmark."""
    assert foot.status is not None and foot.confidence is not None
    points = []
    for i, spec in enumerate(LANDMARKS):
        defined = bool(np.all(np.isfinite(foot.points[i])))
        points.append({
            "id": str(i + 1),
            "label": spec.name,
            "description": f"{spec.bone}: {spec.definition}",
            "associatedNodeID": "",
            "position": [_num(v) for v in foot.points[i]] if defined else [0.0, 0.0, 0.0],
            "orientation": [-1.0, -0.0, -0.0, -0.0, -1.0, -0.0, 0.0, 0.0, 1.0],
            "selected": True,
            "locked": False,
            "visibility": defined,
            "positionStatus": "defined" if defined else "undefined",
        })
    return {
        "@schema": SLICER_SCHEMA,
        "markups": [{
            "type": "Fiducial",
            "coordinateSystem": "LPS",
            "coordinateUnits": "mm",
            "locked": False,
            "fixedNumberOfControlPoints": False,
            "labelFormat": "%N-%d",
            "lastUsedControlPointNumber": N_LANDMARKS,
            "controlPoints": points,
            "measurements": [],
            "display": {"visibility": True, "opacity": 1.0, "color": [0.4, 1.0, 1.0],
                        "selectedColor": [1.0, 0.5, 0.5], "propertiesLabelVisibility": True,
                        "pointLabelsVisibility": True, "textScale": 2.0, "glyphType": "Sphere3D",
                        "glyphScale": 1.5, "glyphSize": 3.0, "useGlyphScale": True},
            "name": f"footalign_{foot.side}",
        }],
    }


def write_slicer_markups(path: str | os.PathLike[str], foot: FootLandmarks) -> Path:
    """Write one foot as a 3D Slicer ``.mrk.json`` point list (LPS, labels = landmark names)."""
    return write_text_atomic(path, json.dumps(slicer_markups_document(foot), indent=1, allow_nan=False) + "\n")


def _read_slicer(path: Path, doc: dict[str, Any], side: str | None) -> list[FootLandmarks]:
    markups = doc.get("markups")
    if not isinstance(markups, list) or not markups:
        raise InputError(f"{path}: Slicer markups file without 'markups'")
    feet = []
    for m, markup in enumerate(markups):
        system = markup.get("coordinateSystem", "LPS")
        if system not in ("LPS", "RAS"):
            raise InputError(f"{path}: unknown coordinateSystem {system!r}")
        name = str(markup.get("name", ""))
        foot_side = side or next((s for s in ("left", "right") if name.endswith(s)), None)
        if foot_side is None:
            raise InputError(f"{path}: side of markup {name!r} unknown (name it footalign_left/right or pass --side)")
        entries = []
        for cp in markup.get("controlPoints", []):
            label = cp.get("label")
            if label not in LANDMARK_NAMES:
                continue  # extra user points are allowed and ignored
            if cp.get("positionStatus", "defined") != "defined" or cp.get("position") is None:
                entries.append({"name": label, "position": None})
                continue
            pos = _finite_vector(cp["position"], f"control point {label}", path)
            if system == "RAS":
                pos = pos * np.array([-1.0, -1.0, 1.0])  # RAS → LPS
            entries.append({"name": label, "position": pos.tolist()})
        if not entries:
            raise InputError(f"{path}: markup #{m + 1} has no control point labelled with a footalign landmark name")
        feet.append(foot_from_dict({"side": foot_side, "landmarks": entries}, path, f"markup #{m + 1}"))
    return feet


# ----- dispatch ---------------------------------------------------------------------------------
def read_landmarks(path: str | os.PathLike[str], *, side: str | None = None) -> list[FootLandmarks]:
    """Read a landmarks file: footalign JSON, CSV, or 3D Slicer ``.mrk.json`` (LPS or RAS).

    ``side`` is needed only for files that do not record it (some CSV and Slicer files).
    Raises :class:`InputError` with one line naming the file and the problem.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such landmarks file")
    if p.suffix.lower() == ".csv":
        return _read_csv(p, side)
    if p.suffix.lower() != ".json":
        raise InputError(f"{p}: unknown landmarks format (expected .json, .mrk.json or .csv)")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p}: invalid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{p}: expected a JSON object")
    if "markups" in doc:
        return _read_slicer(p, doc, side)
    return _read_footalign_json(p, doc)

