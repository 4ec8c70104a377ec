"""Generate ``docs/benchmarks.md`` (and its plots) from ``bench/results/*.json``.

    python bench/make_report.py

Nothing is measured here: every number comes from a result file, and a benchmark without a
result (or with ``status: not measured``) is reported as not measured, with its reason.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DOCS, DOCS_IMG, WORK, fmt, read_result
from footalign.anatomy import (
    LANDMARK_NAMES,
    PUBLISHED_ANGLE_MAE_DEG,
    PUBLISHED_LANDMARK_MAE_MM,
    SDR_THRESHOLDS_MM,
)
from footalign.evaluation.report import markdown_table

STAGE_LABELS = {"read": "read", "preprocess": "preprocess (feet, floor, pose, crop)", "stage1": "stage 1",
                "stage2": "stage 2", "measurements": "measurements + QC", "outputs_report": "outputs + report",
                "other": "other"}


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**PASS**" if ok else "**FAIL**")


def measured(result: dict[str, Any] | None) -> bool:
    return bool(result) and result.get("status") != "not measured"


def why_not(result: dict[str, Any] | None) -> str:
    if result is None:
        return "no result file (the stage has not been run)"
    return str(result.get("reason", "unknown reason"))


def machine_line(result: dict[str, Any]) -> str:
    m = result.get("machine", {})
    v = m.get("versions", {})
    return (f"{m.get('cores')} cores ({m.get('cpu_model')}), {m.get('ram_gb')} GB RAM, {m.get('os')}; "
            f"Python {v.get('python')}, torch {v.get('torch')}, MONAI {v.get('monai')}; "
            f"{m.get('date_utc')}, commit {m.get('git_commit')}, command `{m.get('command')}`, "
            f"load average {m.get('load_average_1min')}"
            + (" (**busy machine**: other jobs such as model training shared the cores, so times are pessimistic)"
               if (m.get("load_average_1min") or 0) > (m.get("cores") or 1) else ""))


# ----- sections ---------------------------------------------------------------------------------
def targets_section(acc, peer, speed, mem) -> list[str]:
    rows = []
    if measured(peer):
        t = peer["targets"]
        earlier = "" if same_test_set(peer, acc) else " (earlier run: previous test set and model, section 2)"
        ratios = [v["ratio_landmarker_over_footalign"] for v in peer["per_landmark"].values()
                  if v["ratio_landmarker_over_footalign"] is not None]
        rows.append(["footalign more accurate than landmarker on every landmark's mean error" + earlier,
                     f"{t['n_landmarks_footalign_better']}/22 landmarks; landmarker/footalign error ratio "
                     f"{fmt(min(ratios))}–{fmt(max(ratios))}" if ratios else "—",
                     verdict(t["footalign_better_on_every_landmark"])])
        tm = peer["timing"]
        rows.append(["footalign faster per foot than landmarker (model time)" + earlier,
                     f"{fmt(tm['footalign_model_seconds_per_foot'])} s vs {fmt(tm['landmarker_model_seconds_per_foot'])} s "
                     f"(landmarker/footalign = {fmt(tm['ratio_landmarker_over_footalign'])})",
                     verdict(t["footalign_faster_per_foot"])])
    else:
        rows.append(["footalign more accurate and faster than landmarker", f"not measured: {why_not(peer)}",
                     verdict(None)])
    if measured(speed):
        t = speed["targets"]
        label = ("`footalign predict` ≤ 10 s per foot at 0.8 mm (2 cores, fresh process: read, model load, "
                 "both stages, measurements, all outputs and the report)" if "measured_as" in t else
                 "`footalign predict` ≤ 10 s per foot at 0.8 mm (2 cores, model loaded)")
        warm = f" (model already loaded: {fmt(t['warm_per_foot_0.8mm_s'])} s)" if "warm_per_foot_0.8mm_s" in t else ""
        rows.append([label, f"{fmt(t['predict_per_foot_0.8mm_s'])} s{warm}", verdict(t["pass"])])
    else:
        rows.append(["`footalign predict` ≤ 10 s per foot at 0.8 mm", f"not measured: {why_not(speed)}", verdict(None)])
    sim08 = (speed or {}).get("simulate_single_0.8mm", {})
    label = "`footalign simulate` ≤ 15 s per 0.8 mm single-foot case on one core"
    if "seconds_per_case" in sim08:
        rows.append([label, f"{fmt(sim08['seconds_per_case'], 1)} s (mean of {sim08['n']} cases; process "
                     f"{fmt(sim08['process_wall_s'], 1)} s with start-up)", verdict(sim08["pass"])])
    else:
        rows.append([label, f"not measured: {sim08.get('reason') or why_not(speed)}", verdict(None)])
    if measured(mem):
        t = mem["targets"]
        rows.append(["peak memory ≤ 4 GB at 512³", f"{fmt(t['peak_gb_at_512'])} GB",
                     verdict(t["pass"] if t["peak_gb_at_512"] is not None else None)])
    else:
        rows.append(["peak memory ≤ 4 GB at 512³", f"not measured: {why_not(mem)}", verdict(None)])
    if measured(acc):
        t = acc["targets"]
        rows.append(["every landmark's mean error < 1.00 mm (published best landmark)",
                     f"{t['landmarks_below_1mm']}/22 landmarks below 1.00 mm; worst "
                     f"{fmt(acc['overall']['landmark_mean_error_max_mm'])} mm",
                     verdict(t["every_landmark_mean_below_1mm"])])
        for name, v in t["angle_mae_below_published"].items():
            rows.append([f"{name} MAE below the published {v['published']:.2f}°", f"{fmt(v['mae'])}°",
                         verdict(v["pass"])])
    else:
        rows.append(["accuracy targets (issue 5)", f"not measured: {why_not(acc)}", verdict(None)])
    return ["## Targets", "", markdown_table(["target", "measured", "result"], rows), ""]


def accuracy_section(acc) -> list[str]:
    lines = ["## 1. Accuracy on the held-out synthetic test set", ""]
    if not measured(acc):
        return [*lines, f"Not measured: {why_not(acc)}.", ""]
    ts, o = acc["test_set"], acc["overall"]
    parts = "; ".join(f"seed {p['recipe']['seed']} at {p['recipe']['spacing']:g} mm ({p['recipe']['n']} scans)"
                      for p in ts["parts"])
    template = ts["parts"][0]["command"].split(" --out ")[0] + " --out DIR --seed S --spacing X " + \
        " ".join(ts["parts"][0]["command"].split(" --bilateral-fraction ")[1:]).join(["--bilateral-fraction ", ""])
    hashes = sorted({p.get("simulator_source_sha256", "?") for p in ts["parts"]})
    lines += [
        f"{ts['n_cases']} scans, {ts['n_feet']} feet, made with `{template}` for {parts} "
        f"(simulator source hash {', '.join(hashes)}). All pathologies, both sides, some "
        "bilateral scans; seeds 9001–9005 are reserved for this test set and never used for training or model "
        f"selection. Model: `{acc['model']['version']}` ({acc['model']['source'].split('/')[-1]}). Each scan goes "
        "through `read_image` → `predict_scan` (the product path) and is scored with `footalign.evaluation`.",
        "",
        markdown_table(["figure", "footalign", "published (74 patients, 5-fold CV)"], [
            ["per-landmark mean error, best–worst", f"{fmt(o['landmark_mean_error_min_mm'])}–{fmt(o['landmark_mean_error_max_mm'])} mm",
             f"{min(PUBLISHED_LANDMARK_MAE_MM.values()):.2f}–{max(PUBLISHED_LANDMARK_MAE_MM.values()):.2f} mm"],
            ["angle MAE, best–worst", f"{fmt(o['angle_mae_min_deg'])}–{fmt(o['angle_mae_max_deg'])}°",
             f"{min(PUBLISHED_ANGLE_MAE_DEG.values()):.2f}–{max(PUBLISHED_ANGLE_MAE_DEG.values()):.2f}°"],
            ["pooled mean / median / p95 error", f"{fmt(o['mean_error_mm'])} / {fmt(o['median_error_mm'])} / "
             f"{fmt(o['p95_error_mm'])} mm", "—"],
            *[[f"SDR {t:g} mm", f"{100 * o[f'sdr_{t:g}mm']:.1f} %", "—"] for t in SDR_THRESHOLDS_MM],
            ["missing landmarks (predicted outside the FOV or not found)", f"{o['n_pred_missing']:.0f}", "—"],
        ]),
        "",
        "### Per landmark (mm)", "",
        markdown_table(["landmark", "n", "mean", "median", "p95", *[f"SDR {t:g}" for t in SDR_THRESHOLDS_MM]],
                       [[name, str(s["n"]), fmt(s["mean"]), fmt(s["median"]), fmt(s["p95"]),
                         *[f"{100 * s['sdr'][f'{t:g}']:.0f} %" if s["sdr"][f"{t:g}"] is not None else "—"
                           for t in SDR_THRESHOLDS_MM]]
                        for name, s in acc["landmarks"].items()]),
        "",
        "![footalign error per landmark](img/bench_accuracy_landmarks.png)", "",
        "### Per measurement", "",
        "Bland–Altman bias and limits are prediction − truth; ICC(2,1) = two-way random, absolute agreement.", "",
        markdown_table(["measurement", "unit", "n", "MAE", "bias", "95 % limits", "ICC(2,1)", "published MAE"],
                       [[name, m["unit"], str(m["n"]), fmt(m["mae"]), fmt(m["bias"]),
                         f"{fmt(m['loa_low'])} to {fmt(m['loa_high'])}", fmt(m["icc"], 3),
                         fmt(m["published_mae"]) if m["published_mae"] is not None else ""]
                        for name, m in acc["measurements"].items()]),
        "",
        "![Bland–Altman plots](img/bench_accuracy_bland_altman.png)", "",
        "### Mean landmark error by group", "",
        markdown_table(["grouping", "group", "mean error (mm)", "landmarks"],
                       [[g, k, fmt(v["mean_error_mm"]), str(v["n_landmarks"])]
                        for g, d in acc["breakdown"].items() for k, v in d.items()]),
        "",
        *in_image_ablation_lines(acc.get("measured_in_image_ablation")),
        f"Machine: {machine_line(acc)}.", "",
    ]
    return lines


def in_image_ablation_lines(ablation: dict[str, Any] | None) -> list[str]:
    """The same predictions with the network's own points vs those re-measured in the image."""
    if not ablation:
        return []
    rows = [[label, fmt(d["TIB_DIST"]), fmt(d["TIB_PROX"]), fmt(d["CALC_LOW"]), fmt(d["hindfoot_angle_mae"])]
            for label, d in (("network's points", ablation["network"]),
                             ("re-measured in the image (default)", ablation["measured"]))]
    return ["### Landmarks measured in the image", "",
            "TIB_DIST / TIB_PROX / CALC_LOW as the network put them and as the pipeline re-measured them by their "
            "definitions (`pipeline/tibia_sections.py`: section centroids; `pipeline/calcaneus_low.py`: lowest "
            "heel-bone point; same scans, same run):", "",
            markdown_table(["points", "TIB_DIST mean (mm)", "TIB_PROX mean (mm)", "CALC_LOW mean (mm)",
                            "hindfoot angle MAE (°)"], rows),
            ""]


def same_test_set(peer, acc) -> bool:
    """Whether the peer comparison ran on the test set of the accuracy result (same simulator)."""
    if not (measured(peer) and measured(acc)):
        return False
    ours = sorted({part.get("simulator_source_sha256") for part in acc["test_set"].get("parts", [])})
    return peer["test_set"].get("simulator_source_sha256") == ours


def peer_section(peer, acc) -> list[str]:
    lines = ["## 2. Peer comparison: the landmarker toolkit", ""]
    if not measured(peer):
        return [*lines, f"**Not measured**: {why_not(peer)}.", ""]
    if not same_test_set(peer, acc):
        lines += ["**Earlier run**: this comparison was measured on a previous version of the test set (made by "
                  "an earlier simulator) with an earlier footalign model (its footalign column is that model, not "
                  "the one in section 1); it was not re-run since.", ""]
    tr, s = peer["training"], peer["settings"]
    lines += [
        f"landmarker {peer['landmarker_version']} in its own environment (`.venv-bench`, torch 2.13.0 pinned), "
        f"trained on footalign's training set (`{tr.get('train_dataset')}`, {tr['n_training_feet']} feet) and "
        f"evaluated with footalign's model on the same {peer['test_set']['n_cases']} test scans "
        f"({peer['test_set']['n_feet']} feet) in the same run. Both models receive each foot from footalign's "
        "pipeline (same detection, side, pose and crop); left feet are mirrored to right for both.",
        "",
        "Settings (landmarker's documented 3D example, changes forced by this machine marked in the result file):", "",
        *[f"- {k}: {v}" for k, v in s.items()],
        "",
        f"Training budget: {fmt(tr['cpu_seconds'] / 60, 1)} CPU minutes ({fmt(tr['wall_seconds'] / 60, 1)} min wall, "
        f"nice {tr.get('nice')}), {tr['iterations']} iterations = {fmt(tr['iterations'] / max(1, tr['n_training_feet']), 2)} "
        f"passes over the training feet (budget {tr['budget_cpu_min']} CPU min). "
        + (f"footalign's shipped model trained for about {fmt(tr['footalign_train_cpu_min'], 0)} CPU minutes "
           "(epoch wall time × threads, from its training record). "
           if tr.get("footalign_train_cpu_min") else "")
        + "landmarker's documented recipe (60 epochs at 128×128×64 on a GPU) is far beyond this budget, so its "
          "numbers here describe what it reaches on this machine in this time, not its best possible accuracy.",
        "",
        *([f"Resolution floor of landmarker at this `dim_img` (decoding its own one-hot training targets with the same "
           f"argmax and un-resizing): mean {fmt(tr['decode_floor_mm']['mean'])} mm, p95 {fmt(tr['decode_floor_mm']['p95'])} mm; "
           "no amount of training brings its mean error below this.", ""] if tr.get("decode_floor_mm") else []),
        markdown_table(["landmark", "footalign mean (mm)", "landmarker mean (mm)", "landmarker / footalign"],
                       [[k, fmt(v["footalign_mean_mm"]), fmt(v["landmarker_mean_mm"]), fmt(v["ratio_landmarker_over_footalign"])]
                        for k, v in peer["per_landmark"].items()]),
        "",
        "![footalign vs landmarker per landmark](img/bench_peer_landmarks.png)", "",
        markdown_table(["measurement", "footalign MAE", "landmarker MAE", "unit"],
                       [[k, fmt(v["footalign_mae"]), fmt(v["landmarker_mae"]), v["unit"]]
                        for k, v in peer["per_measurement"].items()]),
        "",
        f"Inference (model part, same process, 2 threads): footalign {fmt(peer['timing']['footalign_model_seconds_per_foot'])} s "
        f"per foot, landmarker {fmt(peer['timing']['landmarker_model_seconds_per_foot'])} s per foot "
        f"(ratio landmarker/footalign {fmt(peer['timing']['ratio_landmarker_over_footalign'])}); footalign's predictions: "
        f"{peer.get('footalign_predictions')}. footalign ran with `--precision auto` (bfloat16 autocast on this "
        "CPU, which computes bfloat16 natively; the speed section gives its float32 time); landmarker in float32, "
        "as documented.",
        "",
        f"Machine: {machine_line(peer)}.", "",
    ]
    return lines


def speed_section(speed) -> list[str]:
    lines = ["## 3. Speed", ""]
    if not measured(speed):
        return [*lines, f"Not measured: {why_not(speed)}.", ""]
    stages = list(STAGE_LABELS)
    lines += [
        f"`footalign predict` through its own code path with the model loaded once; median of {speed['repeats']} runs "
        f"after a warm-up, {speed['torch_threads']} torch threads. *Cold CLI* = one fresh `footalign predict SCAN "
        "--output DIR --quiet` process (imports and model load included).", "",
        markdown_table(["scan", "feet", "voxels", *[STAGE_LABELS[s] for s in stages], "total (s)", "per foot (s)", "cold CLI (s)"],
                       [[r["scan"], str(r["n_feet"]), "×".join(map(str, r["shape"])),
                         *[fmt(r["median_s"][s]) for s in stages], fmt(r["median_s"]["total"]), fmt(r["per_foot_s"]),
                         fmt(r.get("cold_cli_s"))] for r in speed["predict"]]),
        "",
        "![predict time per stage](img/bench_speed_stages.png)", "",
    ]
    precision = {r.get("precision") for r in speed["predict"]} - {None}
    if precision:
        lines += [f"Network arithmetic: {', '.join(sorted(precision))} (`--precision auto`: bfloat16 autocast where "
                  "the CPU computes it natively, AVX512-BF16/AMX; float32 elsewhere)."]
        for r in speed.get("predict_float32", []):
            lines += [f"The same `{r['scan']}` in float32 (a CPU without native bfloat16): stage 1 "
                      f"{fmt(r['median_s']['stage1'])} s, stage 2 {fmt(r['median_s']['stage2'])} s, total "
                      f"{fmt(r['median_s']['total'])} s per scan (model loaded)."]
        lines.append("")
    sim08 = speed.get("simulate_single_0.8mm", {})
    if "seconds_per_case" in sim08:
        lines += [f"`footalign simulate`, timed afresh (`{sim08['command']}`, one thread): "
                  f"**{fmt(sim08['seconds_per_case'], 1)} s per 0.8 mm single-foot case** (mean of {sim08['n']}).", ""]
    sim = speed["simulate_seconds_per_case"]
    if "status" in sim:
        lines += [f"`footalign simulate` on the test set: not measured ({sim['reason']}).", ""]
    else:
        lines += ["`footalign simulate` time per case (test-set runs, 1 worker, nice 10, machine shared with training):", "",
                  markdown_table(["voxel size", "seconds per case", "cases"],
                                 [[k, fmt(v["seconds_per_case"], 1), str(v["n"])] for k, v in sim.items()]), ""]
    tr = speed["training"]
    if tr.get("status") == "not measured":
        lines += [f"Training throughput: not measured ({tr['reason']}).", ""]
    else:
        line = (f"Training (from `{tr['source']}`): {tr['epochs']} epochs, median {fmt(tr['median_epoch_s'], 1)} s per epoch, "
                f"{fmt(tr['total_training_wall_s'] / 60, 1)} min in all ({tr.get('threads')} threads)")
        if "cases_per_s" in tr:
            line += (f"; training set `{tr['train_dataset']}` = {tr['n_cases']} scans / {tr['n_feet']} feet → "
                     f"**{fmt(tr['cases_per_s'], 2)} cases/s** ({fmt(tr['feet_per_s'], 2)} feet/s), assuming "
                     f"{tr['assumption']}")
        lines += [line + ".", ""]
    lines += [f"Machine: {machine_line(speed)}.", ""]
    return lines


def memory_section(mem, batch) -> list[str]:
    lines = ["## 4. Memory and 5. scaling", ""]
    if not measured(mem):
        lines += [f"Memory and scaling not measured: {why_not(mem)}.", ""]
        if measured(batch) and batch.get("status") == "ok":
            lines += [f"Batch: {batch['n_scans']} scans in {fmt(batch['wall_s'], 1)} s = "
                      f"**{fmt(batch['scans_per_hour'], 0)} scans/hour** on this machine.", ""]
        return lines
    lines += [
        "One simulated foot resampled onto n³ grids over the same field of view; each volume predicted in a fresh "
        "process (`bench/predict_probe.py`: read + `predict_scan`); peak memory = that process's peak resident set "
        "size (imports and model included). "
        + (f"Model: `{mem['model']['folder']}` ({', '.join(mem['model']['versions'])}); {mem['model']['note']}."
           if mem.get("model") else ""), "",
        markdown_table(["volume", "status", "million voxels", "read (s)", "predict (s)", "peak memory (GB)"],
                       [[f"{r['n']}³", r["status"], fmt(r.get("voxels", 0) / 1e6, 1), fmt(r.get("read_s")),
                         fmt(r.get("predict_s")), fmt((r.get("peak_rss_mb") or float("nan")) / 1024)]
                        for r in mem["volumes"]]),
        "",
        "![time and memory vs volume size](img/bench_scaling.png)", "",
    ]
    above = mem.get("above_512") or []
    if above:
        lines += ["Above 512³: " + "; ".join(f"{a['n']}³ {a['status']}" + (f", peak {fmt(a['peak_rss_mb'] / 1024)} GB"
                                                                         if a.get("peak_rss_mb") else "") for a in above) + ".", ""]
    b = batch or {"status": "not measured", "reason": "no result file (the stage has not been run)"}
    if b.get("status") == "ok":
        lines += [f"Batch: {b['command']}: {b['n_scans']} scans ({b['n_feet']} feet) in {fmt(b['wall_s'], 1)} s = "
                  f"**{fmt(b['scans_per_hour'], 0)} scans/hour** ({fmt(b['feet_per_hour'], 0)} feet/hour) on this machine.", ""]
        ev = b.get("evaluate_cli") or {}
        if "mean_error_mm" in ev:
            lines += [f"Cross-check: `{ev['command']}` on these outputs gives a mean error of {fmt(ev['mean_error_mm'])} mm "
                      f"over {ev['n_feet']:.0f} feet ({ev['n_pred_missing']:.0f} missing landmarks).", ""]
    else:
        lines += [f"Batch throughput: not measured ({b.get('reason') or b.get('error') or b.get('status')}).", ""]
    lines += [f"Machine: {machine_line(mem)}.", ""]
    return lines


# ----- plots ------------------------------------------------------------------------------------
def plot_peer(peer, path: Path) -> None:
    from matplotlib.figure import Figure

    names = list(LANDMARK_NAMES)
    fa = [peer["per_landmark"][n]["footalign_mean_mm"] or np.nan for n in names]
    lm = [peer["per_landmark"][n]["landmarker_mean_mm"] or np.nan for n in names]
    y = np.arange(len(names))[::-1]
    fig = Figure(figsize=(7.5, 7), dpi=110)
    ax = fig.add_subplot()
    ax.barh(y + 0.2, fa, height=0.4, label="footalign")
    ax.barh(y - 0.2, lm, height=0.4, label="landmarker")
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("mean Euclidean error (mm, log scale)")
    ax.axvline(1.0, color="0.5", ls="--", lw=0.8)
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Mean landmark error on the same test set", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def plot_speed(speed, path: Path) -> None:
    from matplotlib.figure import Figure

    rows = speed["predict"]
    fig = Figure(figsize=(8, 3.8), dpi=110)
    ax = fig.add_subplot()
    left = np.zeros(len(rows))
    y = np.arange(len(rows))[::-1]
    for stage, label in STAGE_LABELS.items():
        values = np.array([r["median_s"][stage] for r in rows])
        ax.barh(y, values, left=left, label=label)
        left += values
    ax.axvline(10.0, color="0.3", ls="--", lw=1, label="10 s per foot target")
    ax.set_yticks(y, [f"{r['scan']} ({r['n_feet']} ft)" for r in rows], fontsize=8)
    ax.set_xlabel("median seconds (2 cores, model loaded)")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def main(*, quick: bool = False) -> Path:
    suffix = "_quick" if quick else ""
    acc, peer = read_result(f"accuracy{suffix}"), read_result(f"landmarker{suffix}")
    speed, mem = read_result(f"speed{suffix}"), read_result(f"memory{suffix}")
    batch = read_result(f"batch{suffix}")
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    if measured(peer) and not quick:
        plot_peer(peer, DOCS_IMG / "bench_peer_landmarks.png")
    if measured(speed) and not quick:
        plot_speed(speed, DOCS_IMG / "bench_speed_stages.png")
    not_measured = [(name, why_not(r)) for name, r in
                    (("accuracy", acc), ("landmarker comparison", peer), ("speed", speed), ("batch throughput", batch),
                     ("memory and scaling", mem))
                    if not measured(r)]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python bench/make_report.py` from `bench/results/*.json`; do not edit by hand. "
        "Reproduce everything with `make bench` (= `python bench/run_all.py`), or one stage with "
        "`python bench/run_all.py --only accuracy|peer|speed|memory|report`. Each result file records the "
        "machine, library versions, date and git commit it was measured with.",
        "",
        *targets_section(acc, peer, speed, mem),
        *accuracy_section(acc),
        *peer_section(peer, acc),
        *speed_section(speed),
        *memory_section(mem, batch),
        "## Not measured in this run",
        "",
        *([f"- {n}: {r}" for n, r in not_measured] or ["- nothing: every benchmark has a result."]),
        "",
    ]
    if quick:
        lines.insert(2, "**QUICK MODE: tiny inputs to check the scripts; these numbers mean nothing.**\n")
    from footalign.io.atomic import write_text_atomic

    # A quick run checks the scripts only: its report stays out of the docs.
    out = WORK / "benchmarks_quick.md" if quick else DOCS / "benchmarks.md"
    write_text_atomic(out, "\n".join(lines))
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
