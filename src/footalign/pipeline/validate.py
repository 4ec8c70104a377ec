"""Check the image-only pipeline steps against a simulated data set with ground truth.

For every case of a ``footalign simulate`` data set: are the feet found (count), is each side
right, is the detected platform where the true floor is? No model needed.

Usage::

    python -m footalign.pipeline.validate DATASET_DIR [--limit N] [--output results.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from footalign.io.images import read_image
from footalign.io.landmarks import read_landmarks
from footalign.pipeline.predict import locate_feet


def validate_case(image_path: Path, landmarks_path: Path) -> dict[str, Any]:
    """Feet, sides and floor found in one case vs its ground truth."""
    truth = read_landmarks(landmarks_path)
    image = read_image(image_path)
    t0 = time.perf_counter()
    layout = locate_feet(image, source=image_path.name)
    row: dict[str, Any] = {"case": image_path.name, "seconds": round(time.perf_counter() - t0, 3),
                           "true_sides": [f.side for f in truth],
                           "found": [[r.side, r.side_source] for r in layout.regions]}
    row["count_ok"] = len(truth) == len(layout.regions)
    # A "default" side is a guess the model later checks: not counted as decided.
    decided = [r for r in layout.regions if r.side_source != "default"]
    row["sides_decided"] = len(decided)
    # Pair each found foot with the true foot nearest to it (not by side: that is under test).
    centres = [np.nanmean(f.points, axis=0) for f in truth]
    wrong = 0
    for region in decided:
        c = layout.analysis.points(region.bone).mean(axis=0)
        nearest = truth[int(np.argmin([np.linalg.norm((c - t)[:2]) for t in centres]))]
        wrong += region.side != nearest.side
    row["sides_wrong"] = wrong
    true_floor = truth[0].floor
    if layout.floor is not None and true_floor is not None:
        row["floor_angle_deg"] = float(np.degrees(np.arccos(np.clip(layout.floor.normal @ true_floor.normal, -1, 1))))
        row["floor_height_mm"] = float(true_floor.height(layout.floor.point[None])[0])
    row["platform_found"] = layout.floor is not None
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    doc = json.loads((args.dataset / "dataset.json").read_text())
    rows = []
    for case in doc["cases"][: args.limit]:
        row = validate_case(args.dataset / case["image"], args.dataset / case["landmarks"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    feet = sum(len(r["true_sides"]) for r in rows)
    floors = [r for r in rows if "floor_angle_deg" in r]
    summary = {
        "cases": len(rows), "feet": feet,
        "count_correct": sum(r["count_ok"] for r in rows),
        "sides_decided_from_image": sum(r["sides_decided"] for r in rows),
        "sides_wrong": sum(r["sides_wrong"] for r in rows),
        "platform_found": sum(r["platform_found"] for r in rows),
        "floor_angle_deg_max": max((r["floor_angle_deg"] for r in floors), default=None),
        "floor_height_mm_max_abs": max((abs(r["floor_height_mm"]) for r in floors), default=None),
        "seconds_mean": float(np.mean([r["seconds"] for r in rows])) if rows else None,
    }
    print(json.dumps(summary))
    if args.output:
        args.output.write_text(json.dumps({"summary": summary, "cases": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
