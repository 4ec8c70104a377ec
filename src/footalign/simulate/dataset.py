"""Write a simulated data set: one folder, one ``dataset.json`` (nnU-Net-like), files per case.

Layout (paths in ``dataset.json`` are relative to the data set folder)::

    images/case_0000.nii.gz          int16 HU, LPS
    labels/case_0000.nii.gz          uint8 bone labels (templates.BONE_LABELS)
    landmarks/case_0000.json         footalign landmarks JSON, all feet, floor "platform"
    landmarks/case_0000_<side>.mrk.json   3D Slicer markups per foot
    measurements/case_0000.json      the 14 measurements per foot
    params/case_0000.json            every sampled parameter and the full ground truth
    preview/case_0000.png            (with --preview) MIPs and slices with the landmarks
    dataset.json                     written last

Each case is a pure function of ``(seed, index)``, so results do not depend on the number of
workers; every file is written atomically and ``dataset.json`` only at the end.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from footalign import __version__
from footalign.anatomy import LANDMARK_NAMES
from footalign.errors import FootalignError, OutputError
from footalign.geometry.measurements import measure_foot
from footalign.io.atomic import ensure_writable_dir, write_text_atomic
from footalign.io.images import write_image
from footalign.io.landmarks import write_landmarks_json, write_slicer_markups
from footalign.simulate.case import DEFAULT_MIX, PATHOLOGIES, SimulatedCase, simulate_case
from footalign.simulate.templates import BONE_LABELS

N_FOLDS = 5


def parse_mix(text: str | dict[str, float] | None) -> dict[str, float]:
    """Parse ``"normal=0.4,cavus=0.2"`` into normalised pathology weights (raises ValueError)."""
    if text is None or text == "":
        mix = dict(DEFAULT_MIX)
    elif isinstance(text, dict):
        mix = {str(k): float(v) for k, v in text.items()}
    else:
        mix = {}
        for part in text.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ValueError(f"pathology mix entry {part.strip()!r} is not name=weight")
            name, value = (s.strip() for s in part.split("=", 1))
            try:
                mix[name] = float(value)
            except ValueError:
                raise ValueError(f"pathology mix weight {value!r} for {name!r} is not a number") from None
    unknown = [k for k in mix if k not in PATHOLOGIES]
    if unknown:
        raise ValueError(f"unknown pathology {unknown[0]!r}; expected some of {', '.join(PATHOLOGIES)}")
    if any(not np.isfinite(v) or v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError("pathology mix weights must be >= 0 and not all zero")
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items() if v > 0}


def case_id(index: int) -> str:
    return f"case_{index:04d}"


def case_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of case ``index`` of a data set with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def sample_case_design(rng: np.random.Generator, *, bilateral_fraction: float,
                       mix: dict[str, float]) -> dict[str, Any]:
    names = list(mix)
    weights = np.asarray([mix[k] for k in names])
    pathology = str(rng.choice(names, p=weights))
    bilateral = bool(rng.random() < bilateral_fraction)
    second = pathology if rng.random() < 0.7 else str(rng.choice(names, p=weights))
    return {"pathology": pathology, "bilateral": bilateral, "second_pathology": second}


def _feet_with_meta(case: SimulatedCase, cid: str) -> list:
    feet = []
    for foot in case.feet:
        lm = foot.landmarks
        lm.meta = {"case": cid, "pathology": foot.pathology, "source": "footalign.simulate (ground truth)"}
        feet.append(lm)
    return feet


def write_case(case: SimulatedCase, out_dir: Path, cid: str, *, seed: int, index: int,
               design: dict[str, Any], preview: bool = False) -> dict[str, Any]:
    """Write every file of one case; return its ``dataset.json`` entry."""
    write_image(case.ct, out_dir / "images" / f"{cid}.nii.gz")
    write_image(case.labels, out_dir / "labels" / f"{cid}.nii.gz")
    feet = _feet_with_meta(case, cid)
    write_landmarks_json(out_dir / "landmarks" / f"{cid}.json", feet,
                         extra={"case": cid, "ground_truth": True, "generator": "footalign.simulate"})
    for foot in feet:
        write_slicer_markups(out_dir / "landmarks" / f"{cid}_{foot.side}.mrk.json", foot)
    measurements = {
        "case": cid,
        "feet": [{"side": f.side, "pathology": f.pathology, "visible": measure_foot(f.landmarks).as_dict(),
                  "full": measure_foot(f.landmarks_full).as_dict()} for f in case.feet],
    }
    write_text_atomic(out_dir / "measurements" / f"{cid}.json", json.dumps(measurements, indent=1) + "\n")
    params = {
        "case": cid, "seed": seed, "index": index, "design": design, "scan": case.params,
        "floor": {"point": case.floor.point.tolist(), "normal": case.floor.normal.tolist(), "source": "platform"},
        "feet": [{"side": f.side, "pathology": f.pathology, "pose": f.pose.as_dict(), "shape": f.shape.as_dict(),
                  "foot_length_mm": f.foot_length_mm,
                  "landmarks_full": {n: f.landmarks_full.points[i].tolist() for i, n in enumerate(LANDMARK_NAMES)}}
                 for f in case.feet],
    }
    if preview:
        from footalign.simulate.preview import write_preview

        write_preview(case.ct, [f.landmarks for f in case.feet], out_dir / "preview" / f"{cid}.png", title=cid)
    write_text_atomic(out_dir / "params" / f"{cid}.json", json.dumps(params, indent=1, default=float) + "\n")
    return {
        "id": cid,
        "image": f"images/{cid}.nii.gz",
        "landmarks": f"landmarks/{cid}.json",
        "labels": f"labels/{cid}.nii.gz",
        "measurements": f"measurements/{cid}.json",
        "params": f"params/{cid}.json",
        "spacing": list(case.ct.spacing),
        "shape": list(case.ct.shape),
        "feet": [{"side": f.side, "pathology": f.pathology,
                  "markups": f"landmarks/{cid}_{f.side}.mrk.json",
                  "n_visible_landmarks": int(np.all(np.isfinite(f.landmarks.points), axis=1).sum())}
                 for f in case.feet],
    }


def _run_case(out_dir: str, seed: int, index: int, spacing: float, bilateral_fraction: float,
              mix: dict[str, float], preview: bool) -> tuple[int, dict[str, Any], float]:
    """Worker: simulate and write case ``index`` (a pure function of seed and index)."""
    t0 = time.perf_counter()
    rng = case_rng(seed, index)
    design = sample_case_design(rng, bilateral_fraction=bilateral_fraction, mix=mix)
    case = simulate_case(rng, spacing=spacing, bilateral=design["bilateral"], pathology=design["pathology"],
                         second_pathology=design["second_pathology"])
    entry = write_case(case, Path(out_dir), case_id(index), seed=seed, index=index, design=design,
                       preview=preview)
    return index, entry, time.perf_counter() - t0


def make_folds(ids: list[str], *, seed: int, n_folds: int = N_FOLDS) -> list[dict[str, Any]]:
    """nnU-Net-style 5-fold split (shuffled with ``seed``); every case is validated once."""
    order = list(ids)
    np.random.default_rng(np.random.SeedSequence([int(seed), 999_983])).shuffle(order)
    chunks = [sorted(order[k::n_folds]) for k in range(n_folds)]
    return [{"fold": k, "train": sorted(i for j, c in enumerate(chunks) if j != k for i in c), "val": chunks[k]}
            for k in range(n_folds)]


def validate_args(out_dir: str | os.PathLike[str], *, n: int, spacing: float, bilateral_fraction: float,
                  workers: int) -> Path:
    """Check arguments before anything is written (raise FootalignError subclasses/ValueError)."""
    if not isinstance(n, int | np.integer) or n <= 0:
        raise FootalignError(f"--n must be a positive number of cases, got {n}")
    if not np.isfinite(spacing) or spacing <= 0:
        raise FootalignError(f"--spacing must be > 0 mm, got {spacing}")
    if spacing < 0.2 or spacing > 3.0:
        raise FootalignError(f"--spacing {spacing} mm is outside the supported 0.2-3.0 mm")
    if not 0.0 <= bilateral_fraction <= 1.0:
        raise FootalignError(f"--bilateral-fraction must be within 0..1, got {bilateral_fraction}")
    if workers < 1:
        raise FootalignError(f"--workers must be >= 1, got {workers}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} exists and is not a directory")
    return out


def simulate_dataset(out_dir: str | os.PathLike[str], *, n: int, seed: int = 0, spacing: float = 0.8,
                     bilateral_fraction: float = 0.3, pathology_mix: str | dict[str, float] | None = None,
                     workers: int = 1, preview: bool = False, name: str = "footalign_simulated",
                     progress: Callable[[int, int, float], None] | None = None) -> Path:
    """Simulate ``n`` cases into ``out_dir`` and write ``dataset.json`` last; return its path.

    Parameters
    ----------
    out_dir : data set folder (created; must be writable).
    n : number of cases (> 0).
    seed : data set seed; case ``i`` is seeded from ``(seed, i)``.
    spacing : isotropic voxel size in mm (0.3-1.0 typical).
    bilateral_fraction : share of scans with both feet.
    pathology_mix : ``"normal=0.4,cavus=0.2,..."`` or a dict (normalised); default ``DEFAULT_MIX``.
    workers : processes (each case uses one core).
    progress : called as ``progress(done, n, seconds_of_last_case)``.
    """
    out = validate_args(out_dir, n=n, spacing=spacing, bilateral_fraction=bilateral_fraction, workers=workers)
    try:
        mix = parse_mix(pathology_mix)
    except ValueError as exc:
        raise FootalignError(f"--pathology-mix: {exc}") from None
    out = ensure_writable_dir(out)
    for sub in ("images", "labels", "landmarks", "measurements", "params"):
        ensure_writable_dir(out / sub)
    entries: dict[int, dict[str, Any]] = {}
    seconds: list[float] = []
    args = [(str(out), int(seed), i, float(spacing), float(bilateral_fraction), mix, preview) for i in range(n)]
    if workers == 1:
        for a in args:
            index, entry, sec = _run_case(*a)
            entries[index] = entry
            seconds.append(sec)
            if progress:
                progress(len(entries), n, sec)
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
            futures = [pool.submit(_run_case, *a) for a in args]
            for fut in as_completed(futures):
                index, entry, sec = fut.result()
                entries[index] = entry
                seconds.append(sec)
                if progress:
                    progress(len(entries), n, sec)
    cases = [entries[i] for i in range(n)]
    ids = [c["id"] for c in cases]
    doc = {
        "schema": "footalign.dataset",
        "version": 1,
        "name": name,
        "description": "Synthetic weight-bearing CT of the foot with exact landmark ground truth "
                       "(footalign simulate: real bone templates, posed, rendered as cone-beam WBCT).",
        "file_ending": ".nii.gz",
        "modality": "CT (HU)",
        "frame": "LPS",
        "landmarks": list(LANDMARK_NAMES),
        "labels": {"background": 0, **BONE_LABELS},
        "seed": int(seed),
        "generator": {"software": "footalign", "version": __version__, "spacing_mm": float(spacing),
                      "bilateral_fraction": float(bilateral_fraction), "pathology_mix": mix,
                      "mean_seconds_per_case": float(np.mean(seconds)) if seconds else None},
        "n_cases": n,
        "cases": cases,
        "folds": make_folds(ids, seed=seed),
    }
    path = out / "dataset.json"
    write_text_atomic(path, json.dumps(doc, indent=1) + "\n")
    return path


def _init_worker() -> None:
    """Each worker process renders single-threaded (the pool provides the parallelism)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
