"""How normal the simulator's normal feet are: measurements against the ANATOMY.md ranges.

    python scripts/neutral_pose_report.py [--n 40] [--workers 2] [--out docs/simulation_normals.json]
    python scripts/neutral_pose_report.py --dataset work_data/sim_train     # per-pathology medians

Poses ``--n`` normal feet exactly as ``footalign simulate`` does (sampled shape and posture,
no image), computes their ground-truth landmarks and the 14 measurements, and prints, per
measurement, the median, range and the share inside the ANATOMY.md normal range. It also
measures, on the same feet, how much steeper the spec's talar axis (TAL_DOME -> TAL_HEAD) is
than the talar neck axis (neck section centroid -> head centre), the axis the radiographic
talar declination, lateral talocalcaneal and Meary ranges are defined on, and repeats the
talar-axis measurements with that neck axis ("(neck axis)" rows). Heights include the
sampled heel pad (10-20 mm), as in the simulated scans. With ``--dataset`` it instead prints
the median ground-truth measurements ("full" values) of a generated data set per pathology.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import trimesh

from footalign.anatomy import LANDMARK_NAMES, MEASUREMENT_BY_NAME, MEASUREMENT_NAMES
from footalign.geometry.measurements import measure_foot
from footalign.io.atomic import write_text_atomic
from footalign.simulate.case import make_foot, sample_pose, sample_shape, template_patches
from footalign.simulate.mesh_landmarks import landmarks_from_meshes, section_centroid

# Sagittal measurements of the talar axis, whose radiographic ranges are defined on the neck
# axis. (In the transverse plane the narrowest-section centroid is too unstable to say.)
NECK_AXIS_MEASUREMENTS = ("talar_declination", "talocalcaneal_lateral", "meary_angle")


def sagittal_declination(v: np.ndarray) -> float:
    """Angle (degrees) of ``v`` below the floor z = 0 of a posed foot."""
    return float(np.degrees(np.arctan2(-v[2], np.hypot(v[0], v[1]))))


def talar_neck_centroid(talus: trimesh.Trimesh, head_centre: np.ndarray) -> np.ndarray:
    """Centroid of the narrowest section between the talar body centroid and the head centre
    (sections perpendicular to that line): the waist of the talar neck."""
    body = np.asarray(talus.vertices).mean(axis=0)
    line = head_centre - body
    length = float(np.linalg.norm(line))
    line /= length
    best = (np.inf, np.full(3, np.nan))
    for t in np.linspace(0.2, 0.9, 29):
        centre, area = section_centroid(talus, body + t * length * line, line)
        if 0 < area < best[0]:
            best = (area, centre)
    return best[1]


def one_foot(seed: int) -> dict[str, float]:
    rng = np.random.default_rng([seed, 7])
    pose, shape = sample_pose("normal", rng), sample_shape(rng)
    heel_pad = rng.uniform(10.0, 20.0)
    skeleton, floor = make_foot(pose, shape, rng)
    foot = landmarks_from_meshes(skeleton.meshes, "right", floor, patches=template_patches())
    values = dict(measure_foot(foot).values)
    values["navicular_height"] += heel_pad
    values["cuneiform_height"] += heel_pad
    points = dict(zip(LANDMARK_NAMES, foot.points, strict=True))
    neck = talar_neck_centroid(skeleton.meshes["talus"], points["TAL_HEAD"])
    values["talar_axis_minus_neck_axis"] = (sagittal_declination(points["TAL_HEAD"] - points["TAL_DOME"])
                                            - sagittal_declination(points["TAL_HEAD"] - neck))
    # The same feet measured with the talar neck axis (a stand-in TAL_DOME on that axis, 30 mm
    # behind the head centre), i.e. the axis the radiographic normal ranges are defined on.
    neck_points = foot.points.copy()
    direction = (points["TAL_HEAD"] - neck) / np.linalg.norm(points["TAL_HEAD"] - neck)
    neck_points[LANDMARK_NAMES.index("TAL_DOME")] = points["TAL_HEAD"] - 30.0 * direction
    neck_values = measure_foot(replace(foot, points=neck_points)).values
    for name in NECK_AXIS_MEASUREMENTS:
        values[f"{name} (neck axis)"] = neck_values[name]
    values["first_metatarsal_declination"] = sagittal_declination(points["M1_HEAD"] - points["M1_BASE"])
    return values


def summarise(feet: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {}
    for name in feet[0]:
        v = np.array([f[name] for f in feet], dtype=float)
        v = v[np.isfinite(v)]
        row = {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max()),
               "mean": float(v.mean()), "sd": float(v.std())}
        spec = MEASUREMENT_BY_NAME.get(name.removesuffix(" (neck axis)"))
        if spec is not None:
            lo, hi = spec.normal_range
            row["normal_range"] = [lo, hi]
            row["in_range_percent"] = float(100.0 * np.mean((v >= lo) & (v <= hi)))
        out[name] = row
    return out


def pathology_table(dataset_dir: Path) -> None:
    """Median ground-truth measurements per pathology of a ``footalign simulate`` data set."""
    import pandas as pd

    rows = []
    for path in sorted((dataset_dir / "measurements").glob("*.json")):
        for foot in json.loads(path.read_text())["feet"]:
            rows.append({"pathology": foot["pathology"], **foot["full"]["values"]})
    table = pd.DataFrame(rows).groupby("pathology")
    medians = table.median(numeric_only=True).round(1)
    medians.insert(0, "feet", table.size())
    columns = list(medians.index)
    print("| measurement | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in medians.T.iterrows():
        print(f"| {name} | " + " | ".join(f"{row[c]:g}" for c in columns) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("docs/simulation_normals.json"))
    parser.add_argument("--dataset", type=Path, help="summarise this simulated data set instead")
    args = parser.parse_args()
    if args.dataset is not None:
        pathology_table(args.dataset)
        return
    with Pool(args.workers) as pool:
        feet = pool.map(one_foot, range(args.n))
    summary = summarise(feet)
    write_text_atomic(args.out, json.dumps({"n_feet": args.n, "measurements": summary}, indent=1) + "\n")
    print(f"{args.n} simulated normal feet (heights include the heel pad)\n")
    print("| measurement | median | range | normal | in range |")
    print("|---|---|---|---|---|")
    extra = [f"{n} (neck axis)" for n in NECK_AXIS_MEASUREMENTS]
    for name in (*MEASUREMENT_NAMES, *extra, "first_metatarsal_declination", "talar_axis_minus_neck_axis"):
        r = summary[name]
        normal = f"{r['normal_range'][0]:g}–{r['normal_range'][1]:g}" if "normal_range" in r else "—"
        share = f"{r['in_range_percent']:.0f} %" if "in_range_percent" in r else "—"
        print(f"| {name} | {r['median']:.1f} | {r['min']:.1f} … {r['max']:.1f} | {normal} | {share} |")


if __name__ == "__main__":
    main()
