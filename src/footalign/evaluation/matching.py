"""Find landmark files for ``footalign evaluate`` and pair predicted feet with ground-truth feet.

A landmark *set* is one file or a folder. Case ids come from:

- a dataset folder (``dataset.json`` of ``footalign simulate``): each case's ``id``;
- a folder holding ``landmarks.json`` (one ``footalign predict`` output): the folder's name;
- any other ``<case>.json`` / ``<case>.csv`` file: its stem; Slicer ``<case>[_left|_right].mrk.json``
  files of one case are merged. Per case, footalign JSON wins over CSV, CSV over Slicer markups.

Feet are paired within a case by side.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from footalign.anatomy import N_LANDMARKS
from footalign.errors import InputError
from footalign.io.landmarks import read_landmarks
from footalign.landmarks import FootLandmarks

# Files that live next to landmark files but are not landmark files.
_NOT_LANDMARK_FILES = frozenset({
    "dataset.json", "evaluation.json", "measurements.json", "checksums.json", "config.json", "metadata.json",
    "per_case.csv", "measurements.csv", "measurements_all.csv", "failures.csv", "timing.json", "report.json",
})
_IMAGE_SUFFIX = re.compile(r"\.(nii|nrrd|mha|mhd)$", re.IGNORECASE)
_SIDE_SUFFIX = re.compile(r"[_-](left|right)$", re.IGNORECASE)
_PRIORITY = {".json": 0, ".csv": 1, ".mrk.json": 2}


@dataclass
class LandmarkSet:
    """Feet per case id, the file each case came from, and files that were skipped (with why)."""

    cases: dict[str, list[FootLandmarks]]
    sources: dict[str, list[Path]]
    skipped: list[str] = field(default_factory=list)


@dataclass
class Pairing:
    """Paired feet ready for ``evaluate_landmarks`` plus notes on what could not be paired."""

    pred: list[FootLandmarks]
    gt: list[FootLandmarks]
    case_ids: list[str]
    notes: list[str]


def case_id_for_file(path: str | os.PathLike[str]) -> str:
    """The case id a landmark file stands for (see the module docstring)."""
    p = Path(path)
    name = p.name
    is_markups = name.lower().endswith(".mrk.json")
    stem = name[: -len(".mrk.json")] if is_markups else p.stem
    stem = _IMAGE_SUFFIX.sub("", stem)
    if is_markups:
        stem = _SIDE_SUFFIX.sub("", stem)
    if stem.lower() == "landmarks" or stem == "":
        return p.resolve().parent.name
    return stem


def load_landmark_set(path: str | os.PathLike[str]) -> LandmarkSet:
    """Read one landmark file or every landmark file under a folder, keyed by case id.

    Raises
    ------
    InputError
        If the path does not exist, or a folder holds no readable landmark file.
    """
    root = Path(path)
    if root.is_file():
        return LandmarkSet({case_id_for_file(root): read_landmarks(root)}, {case_id_for_file(root): [root]})
    if not root.is_dir():
        raise InputError(f"{root}: no such landmark file or folder")
    dataset = root / "dataset.json"
    if dataset.is_file():
        found = _from_dataset(dataset)
        if found is not None:
            return found
    candidates: dict[str, list[tuple[int, Path]]] = {}
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        here = Path(directory)
        if "landmarks.json" in files:  # a footalign predict output folder: that file only
            case = here.name if here != root else case_id_for_file(here / "landmarks.json")
            candidates.setdefault(case, []).append((_PRIORITY[".json"], here / "landmarks.json"))
            continue
        for name in sorted(files):
            kind = _kind(name)
            if kind is None or name.lower() in _NOT_LANDMARK_FILES or name.startswith("."):
                continue
            candidates.setdefault(case_id_for_file(here / name), []).append((_PRIORITY[kind], here / name))
    out = LandmarkSet({}, {})
    for case, files in sorted(candidates.items()):
        for level in sorted({priority for priority, _ in files}):
            read: list[tuple[Path, list[FootLandmarks]]] = []
            for f in (f for priority, f in files if priority == level):
                try:
                    read.append((f, read_landmarks(f)))
                except InputError as exc:  # e.g. a parameter or metadata JSON next to the landmarks
                    out.skipped.append(str(exc))
            if len(read) > 1 and level != _PRIORITY[".mrk.json"]:
                raise InputError(f"{root}: case id {case!r} is given by several landmark files: "
                                 + ", ".join(str(f.relative_to(root)) for f, _ in read))
            if read:
                out.cases[case] = [foot for _, feet in read for foot in feet]
                out.sources[case] = [f for f, _ in read]
                break
    if not out.cases:
        why = f" ({out.skipped[0]})" if out.skipped else ""
        raise InputError(f"{root}: no landmark files found (.json, .csv or .mrk.json){why}")
    return out


def pair_feet(pred: LandmarkSet, gt: LandmarkSet, *, single_files: bool = False) -> Pairing:
    """Pair predicted and true feet by case id, then by side within a case.

    A true foot without a prediction is paired with an all-missing foot (its landmarks count
    as missing predictions). Predictions without truth are left out and noted.
    ``single_files`` pairs the only case of each set regardless of their ids.

    Raises
    ------
    InputError
        If no case id is shared by the two sets.
    """
    pred_cases = dict(pred.cases)
    if single_files and len(pred_cases) == 1 and len(gt.cases) == 1:
        pred_cases = {next(iter(gt.cases)): next(iter(pred_cases.values()))}
    common = sorted(set(pred_cases) & set(gt.cases))
    if not common:
        raise InputError("predictions and ground truth share no case id (e.g. predictions: "
                         f"{', '.join(sorted(pred_cases)[:3])}; ground truth: {', '.join(sorted(gt.cases)[:3])})")
    notes: list[str] = []
    missing_cases = sorted(set(gt.cases) - set(pred_cases))
    if missing_cases:
        notes.append(f"{len(missing_cases)} ground-truth case(s) without prediction (all their landmarks count "
                     f"as missing): {', '.join(missing_cases[:10])}")
    extra_cases = sorted(set(pred_cases) - set(gt.cases))
    if extra_cases:
        notes.append(f"{len(extra_cases)} predicted case(s) without ground truth ignored: {', '.join(extra_cases[:10])}")
    out = Pairing([], [], [], notes)
    for case in sorted(gt.cases):
        available = list(pred_cases.get(case, []))
        for truth in gt.cases[case]:
            match = next((p for p in available if p.side == truth.side), None)
            if match is None:
                if case in pred_cases:
                    notes.append(f"{case}: no predicted {truth.side} foot (its landmarks count as missing)")
                match = FootLandmarks(side=truth.side, points=np.full((N_LANDMARKS, 3), np.nan))
            else:
                available.remove(match)
            out.pred.append(match)
            out.gt.append(truth)
            out.case_ids.append(case)
        for extra in available:
            notes.append(f"{case}: predicted {extra.side} foot has no ground truth; ignored")
    return out


def _kind(name: str) -> str | None:
    low = name.lower()
    if low.endswith(".mrk.json"):
        return ".mrk.json"
    if low.endswith(".json"):
        return ".json"
    if low.endswith(".csv"):
        return ".csv"
    return None


def _from_dataset(dataset: Path) -> LandmarkSet | None:
    """Cases of a ``footalign.dataset`` folder; None if the file is some other JSON."""
    try:
        doc = json.loads(dataset.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{dataset}: invalid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != "footalign.dataset":
        return None
    out = LandmarkSet({}, {})
    for case in doc.get("cases", []):
        if not isinstance(case, dict) or "id" not in case or "landmarks" not in case:
            raise InputError(f"{dataset}: a case lacks 'id' or 'landmarks'")
        path = dataset.parent / case["landmarks"]
        out.cases[str(case["id"])] = read_landmarks(path)
        out.sources[str(case["id"])] = [path]
    if not out.cases:
        raise InputError(f"{dataset}: the dataset lists no cases")
    return out
