"""Landmark data sets: a folder with ``dataset.json`` (cases, images, landmark files, folds).

The same format serves ``footalign simulate`` output and users' own scans::

    {"schema": "footalign.dataset", "version": 1, "landmarks": [...],
     "cases": [{"id", "image", "landmarks", "feet": [{"side", ...}], ...}],
     "folds": [{"fold": 0, "train": [ids], "val": [ids]}, ...]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from footalign.anatomy import LANDMARK_NAMES
from footalign.errors import InputError


@dataclass(frozen=True)
class Case:
    """One scan of a data set: image file, landmark file, sides of its feet."""

    id: str
    image: Path
    landmarks: Path
    sides: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    """A parsed ``dataset.json``: its folder, cases (in file order) and folds."""

    root: Path
    cases: tuple[Case, ...]
    folds: tuple[dict[str, Any], ...]

    def case(self, case_id: str) -> Case:
        for c in self.cases:
            if c.id == case_id:
                return c
        raise InputError(f"{self.root / 'dataset.json'}: no case {case_id!r}")

    def split(self, fold: int | str) -> tuple[list[str], list[str]]:
        """Training and validation case ids of ``fold`` (``"all"``: every case, no validation)."""
        ids = [c.id for c in self.cases]
        if fold == "all":
            return ids, []
        for f in self.folds:
            if int(f["fold"]) == int(fold):
                return list(f["train"]), list(f["val"])
        raise InputError(f"{self.root / 'dataset.json'}: no fold {fold} (folds: "
                         f"{[f['fold'] for f in self.folds]})")


def read_dataset(path: str | Path) -> Dataset:
    """Read a data set folder (or its ``dataset.json``), checking files and landmark names.

    Raises
    ------
    InputError
        Missing/invalid ``dataset.json``, unknown landmark names, or a referenced file missing.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: data set folder not found (expected a folder with dataset.json)")
    file = path / "dataset.json" if path.is_dir() else path
    root = file.parent
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no dataset.json in this folder") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{file}: not a readable dataset.json ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != "footalign.dataset":
        raise InputError(f"{file}: not a footalign dataset.json (schema 'footalign.dataset' expected)")
    names = doc.get("landmarks", list(LANDMARK_NAMES))
    if list(names) != list(LANDMARK_NAMES):
        raise InputError(f"{file}: landmark names differ from footalign's 22 landmarks")
    cases = []
    for i, entry in enumerate(doc.get("cases", [])):
        try:
            case = Case(
                id=str(entry["id"]),
                image=root / entry["image"],
                landmarks=root / entry["landmarks"],
                sides=tuple(str(f["side"]) for f in entry.get("feet", [])),
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"{file}: case #{i} lacks {exc}") from None
        for f in (case.image, case.landmarks):
            if not f.exists():
                raise InputError(f"{file}: case {case.id}: file {f} not found")
        cases.append(case)
    if not cases:
        raise InputError(f"{file}: no cases")
    return Dataset(root=root, cases=tuple(cases), folds=tuple(doc.get("folds", [])))
