"""Peak memory and time of ``footalign predict`` against volume size, and batch throughput.

Volumes: one simulated single-foot scan (1.0 mm, seed 9201) resampled onto cubic grids of
N³ voxels covering the same field of view (N = 128 … 512, and 640 to see what happens above
512³). Each volume is predicted in a fresh process (``bench/predict_probe.py``: read +
``predict_scan``), whose own ``VmHWM`` (peak resident set size) is its peak memory.

Batch (``run_batch``, its own stage): ``footalign predict FOLDER --output OUT`` over the six
0.8 mm test scans (a fresh process, model loaded once), reported as scans per hour.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from common import DOCS_IMG, REPO, WORK, print_table, write_result
from sim_data import SimRecipe, dataset_cases, footalign_command, simulate

SIZES = (128, 192, 256, 320, 384, 448, 512, 640)
QUICK_SIZES = (96, 128)
TARGET_PEAK_GB_512 = 4.0
BATCH_PART = "seed9003_0.8mm"


def make_volume(source: Path, n: int, out: Path) -> Path:
    """Resample ``source`` onto an n³ grid (isotropic voxels) spanning its field of view; int16 NIfTI."""
    from footalign.image import resample
    from footalign.io.images import read_image, write_image

    if out.is_file():
        return out
    image = read_image(source)
    lower = image.index_to_physical(np.zeros(3))
    upper = image.index_to_physical(np.asarray(image.shape) - 1)
    lo, hi = np.minimum(lower, upper), np.maximum(lower, upper)
    spacing = float(np.max(hi - lo) / (n - 1))
    centre = (lo + hi) / 2
    origin = centre - spacing * (n - 1) / 2
    vol = resample(image, spacing=(spacing,) * 3, shape=(n, n, n), origin=origin, default_value=-1000.0)
    vol = vol.with_array(np.clip(np.rint(vol.array), -32768, 32767).astype(np.int16))
    write_image(vol, out, compress=False)
    return out


def probe(scan: Path, *, model_dir: str | None, timeout_s: float = 900) -> dict[str, Any]:
    cmd = [sys.executable, str(REPO / "bench" / "predict_probe.py"), str(scan)]
    if model_dir:
        cmd += ["--model", model_dir]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "timeout_s": timeout_s}
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        status = "killed (out of memory?)" if proc.returncode < 0 else "failed"
        return {"status": status, "returncode": proc.returncode, "error": tail[0][:300], "wall_s": wall}
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"status": "ok", "process_wall_s": wall, **data}


def batch_throughput(*, model_dir: str | None) -> dict[str, Any]:
    folder = WORK / "testset" / BATCH_PART
    if not (folder / "dataset.json").is_file():
        return {"status": "not measured", "reason": f"test set part {BATCH_PART} not simulated"}
    scans_dir = WORK / "batch_scans"
    shutil.rmtree(scans_dir, ignore_errors=True)
    scans_dir.mkdir(parents=True)
    cases = dataset_cases(folder)
    for case in cases:
        (scans_dir / case["image_path"].name).symlink_to(case["image_path"])
    out = WORK / "batch_out"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [*footalign_command(), "predict", str(scans_dir), "--output", str(out), "--quiet"]
    if model_dir:
        cmd += ["--model", model_dir]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    n_feet = sum(len(c.get("feet", [])) for c in cases)
    if proc.returncode != 0:
        return {"status": "failed", "error": (proc.stderr or proc.stdout).strip()[-300:], "wall_s": wall}
    # The same outputs scored through the user-facing command, as a cross-check of the accuracy stage.
    evaluation = {}
    ev_dir = WORK / "batch_evaluation"
    ev = subprocess.run([*footalign_command(), "evaluate", str(out), str(folder), "--output", str(ev_dir),
                         "--no-plots", "--quiet"], capture_output=True, text=True)
    if ev.returncode == 0:
        overall = json.loads((ev_dir / "evaluation.json").read_text())["overall"]
        evaluation = {"command": f"footalign evaluate <batch output> <test set part {BATCH_PART}> --output DIR",
                      "mean_error_mm": overall["mean_error_mm"], "n_feet": overall["n_feet"],
                      "n_pred_missing": overall["n_pred_missing"]}
    else:
        evaluation = {"status": "failed", "error": (ev.stderr or ev.stdout).strip()[-300:]}
    return {"status": "ok", "n_scans": len(cases), "n_feet": n_feet, "wall_s": wall, "evaluate_cli": evaluation,
            "scans_per_hour": 3600 * len(cases) / wall, "feet_per_hour": 3600 * n_feet / wall,
            "command": "footalign predict <folder of 6 scans, 0.8 mm> --output OUT --quiet (1 worker)"}


def run_batch(*, quick: bool = False, model_dir: str | None = None) -> dict[str, Any]:
    """Scans per hour of ``footalign predict FOLDER`` on this machine; writes ``batch.json``."""
    data = {"status": "not measured", "reason": "quick mode"} if quick else batch_throughput(model_dir=model_dir)
    write_result("batch_quick" if quick else "batch", data)
    if data.get("status") == "ok":
        print(f"  batch: {data['n_scans']} scans in {data['wall_s']:.0f} s = {data['scans_per_hour']:.0f} scans/hour")
    elif data.get("status") == "failed":
        raise RuntimeError(f"batch predict failed: {data.get('error')}")
    return data


def plot_scaling(rows: list[dict[str, Any]], path: Path) -> None:
    from matplotlib.figure import Figure

    ok = [r for r in rows if r.get("status") == "ok"]
    if not ok:
        return
    mvox = np.array([r["voxels"] / 1e6 for r in ok])
    fig = Figure(figsize=(9, 3.6), dpi=110)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(mvox, [r["read_s"] for r in ok], "o-", label="read")
    ax1.plot(mvox, [r["predict_s"] for r in ok], "s-", label="predict_scan")
    ax1.plot(mvox, [r["read_and_predict_s"] for r in ok], "^-", label="read + predict")
    ax1.set_xlabel("volume size (million voxels)")
    ax1.set_ylabel("seconds (2 cores)")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    ax2.plot(mvox, [r["peak_rss_mb"] / 1024 for r in ok], "o-", color="tab:red", label="peak RSS")
    ax2.axhline(TARGET_PEAK_GB_512, color="0.4", ls="--", lw=1, label="target at 512³: 4 GB")
    ax2.axvline(512**3 / 1e6, color="0.7", ls=":", lw=1)
    ax2.set_xlabel("volume size (million voxels)")
    ax2.set_ylabel("peak resident memory (GB)")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    for ax in (ax1, ax2):
        ax.set_xlim(left=0)
    ax2.set_ylim(bottom=0)
    fig.suptitle("footalign predict vs volume size (one foot, fresh process each)", fontsize=10)
    fig.tight_layout()
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def run(*, quick: bool = False, model_dir: str | None = None) -> dict[str, Any]:
    base_dir = WORK / "memory" / "base"
    simulate(SimRecipe(n=1, seed=9201, spacing=1.0, bilateral_fraction=0.0), base_dir, nice=10)
    base = dataset_cases(base_dir)[0]["image_path"]
    rows = []
    for n in QUICK_SIZES if quick else SIZES:
        vol = make_volume(base, n, WORK / "memory" / f"volume_{n}.nii")
        row = {"n": n, **probe(vol, model_dir=model_dir)}
        rows.append(row)
        print(f"  {n}³: {row.get('status')} peak {row.get('peak_rss_mb', float('nan')) / 1024:.2f} GB, "
              f"predict {row.get('predict_s', float('nan')):.1f} s", flush=True)
        if row["status"] != "ok":
            break  # larger volumes would fail the same way
    at_512 = next((r for r in rows if r["n"] == 512), None)
    peak_512_gb = at_512["peak_rss_mb"] / 1024 if at_512 and at_512.get("status") == "ok" else float("nan")
    above = [r for r in rows if r["n"] > 512]
    if not quick:
        plot_scaling(rows, DOCS_IMG / "bench_scaling.png")
    versions = sorted({str(r.get("model_version")) for r in rows if r.get("model_version")})
    data = {
        "quick": quick,
        "model": {"folder": Path(model_dir).name if model_dir else "shipped", "versions": versions,
                  "note": "time and memory depend on the architecture and config, not on the trained weights"},
        "volumes": rows,
        "base_scan": {"recipe": "footalign simulate --n 1 --seed 9201 --spacing 1.0 --bilateral-fraction 0",
                      "resampled_to": "n³ isotropic grid over the same field of view, int16 NIfTI (.nii)"},
        "targets": {"peak_gb_at_512": peak_512_gb, "target_gb": TARGET_PEAK_GB_512,
                    "pass": bool(peak_512_gb <= TARGET_PEAK_GB_512)},
        "above_512": [{"n": r["n"], "status": r["status"], "peak_rss_mb": r.get("peak_rss_mb")} for r in above],
    }
    write_result("memory_quick" if quick else "memory", data)
    print_table("footalign predict vs volume size (fresh process)", ["n³", "status", "Mvoxels", "read s", "predict s", "peak GB"],
                [[f"{r['n']}³", r["status"], r.get("voxels", 0) / 1e6, r.get("read_s"), r.get("predict_s"),
                  (r.get("peak_rss_mb") or float("nan")) / 1024] for r in rows])
    return data
