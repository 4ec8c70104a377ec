"""Training of both stages on the preprocessing cache, with validation, checkpoints and resume.

One process trains both networks in alternation (one stage-1 step, then ``steps2_per_step1``
stage-2 steps), or only those listed in ``train.stages`` (the other keeps its ``--init``
weights). After every epoch it validates (stage 1 on the centred val grids, stage 2 on val
patches with a fixed jitter), appends to ``training/metrics.csv``, redraws
``training/learning_curve.png``, saves ``training/checkpoint.pt`` (resume point) and exports the
current model bundle to the output folder, so an interrupted run always leaves a usable model.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from footalign.anatomy import LANDMARK_NAMES
from footalign.errors import InputError, ModelError
from footalign.io.atomic import atomic_path, ensure_writable_dir, write_text_atomic
from footalign.model.augment import (
    augment_intensity,
    crop_to_foot_box,
    grid_offsets,
    points_in_grid,
    random_affine,
    resample_batch,
    sampling_grid,
)
from footalign.model.bundle import load_bundle, save_bundle
from footalign.model.dataset import read_dataset
from footalign.model.heatmaps import decode_heatmaps, heatmap_loss, spatial_softmax
from footalign.model.networks import build_network
from footalign.model.predictor import landmark_box_center
from footalign.model.preprocess import FootCache, load_foot_cache, preprocess_dataset
from footalign.model.sampling import normalize_hu

N = len(LANDMARK_NAMES)


# ----- batches ------------------------------------------------------------------------------------
def stage1_batch(feet: list[FootCache], config: dict[str, Any], rng: np.random.Generator, *,
                 augment: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Network inputs ``(B,1,...)``, target voxel positions ``(B,22,3)`` and validity ``(B,22)``."""
    cfg, aug = config["stage1"], config["train"]["aug"]
    hu = config["intensity"]
    spacing, shape = float(cfg["spacing_mm"]), tuple(cfg["shape"])
    offsets = grid_offsets(shape, spacing)
    volumes, grids, targets = [], [], []
    for foot in feet:
        box_center = landmark_box_center(foot.points)
        if augment:
            matrix = random_affine(rng, rotation_deg=aug["rotation_deg"], scale=aug["scale"])
            center = box_center + rng.uniform(-aug["shift1_mm"], aug["shift1_mm"], size=3)
            volume = crop_to_foot_box(foot.coarse, foot.coarse_origin, spacing, foot.points, rng, aug,
                                      background_hu=hu["background_hu"])
        else:
            matrix, center = np.eye(3), box_center
            fixed = {**aug, "crop_margin_mm": [30.0, 30.0], "truncate_prob": 0.0}
            volume = crop_to_foot_box(foot.coarse, foot.coarse_origin, spacing, foot.points,
                                      np.random.default_rng(0), fixed, background_hu=hu["background_hu"])
        volumes.append(volume)
        grids.append(sampling_grid(center, matrix, offsets, shape, src_origin=foot.coarse_origin,
                                   src_spacing=spacing, src_shape=foot.coarse.shape))
        targets.append(points_in_grid(foot.points, center, matrix, spacing=spacing, shape=shape))
    # Outside the cached box is air: pad with the background value (0 after shifting).
    x = resample_batch([v - hu["background_hu"] for v in volumes], grids, padding="zeros") + hu["background_hu"]
    if augment:
        x = augment_intensity(x, rng, aug)
    return _finish(x, np.stack(targets), shape, hu)


def stage2_batch(feet: list[FootCache], pairs: list[tuple[int, int]], config: dict[str, Any],
                 rng: np.random.Generator, *, augment: bool,
                 offsets_mm: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stage-2 patches for (foot, landmark) ``pairs``; targets are all landmarks inside each patch."""
    cfg, aug = config["stage2"], config["train"]["aug"]
    hu = config["intensity"]
    spacing, shape = float(cfg["spacing_mm"]), tuple(cfg["shape"])
    offsets = grid_offsets(shape, spacing)
    volumes, grids, targets = [], [], []
    for n, (f, k) in enumerate(pairs):
        foot = feet[f]
        size = foot.fine.shape[-1]  # cached cube side (preprocess.fine_cache_size)
        if augment:
            matrix = random_affine(rng, rotation_deg=aug["rotation_deg"], scale=aug["scale"])
            jitter = np.clip(rng.normal(0.0, aug["jitter2_mm"], size=3), -aug["jitter2_max_mm"],
                             aug["jitter2_max_mm"])
        else:
            matrix = np.eye(3)
            jitter = np.zeros(3) if offsets_mm is None else offsets_mm[n]
        center = foot.points[k] + jitter
        volumes.append(foot.fine[k])
        cube_origin = foot.points[k] - (size - 1) / 2.0 * spacing
        grids.append(sampling_grid(center, matrix, offsets, shape, src_origin=cube_origin,
                                   src_spacing=spacing, src_shape=(size,) * 3))
        targets.append(points_in_grid(foot.points, center, matrix, spacing=spacing, shape=shape))
    x = resample_batch(volumes, grids, padding="border")
    if augment:
        x = augment_intensity(x, rng, aug)
    return _finish(x, np.stack(targets), shape, hu)


def _finish(x: torch.Tensor, targets: np.ndarray, shape: tuple[int, ...],
            hu: dict[str, float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    inside = np.all(np.isfinite(targets), axis=-1)
    with np.errstate(invalid="ignore"):
        inside &= np.all((targets >= 0) & (targets <= np.asarray(shape) - 1), axis=-1)
    pts = torch.from_numpy(np.nan_to_num(targets).astype(np.float32))
    return normalize_hu(x, hu_min=hu["hu_min"], hu_max=hu["hu_max"]), pts, torch.from_numpy(inside)


def valid_pairs(feet: list[FootCache]) -> list[tuple[int, int]]:
    return [(f, k) for f, foot in enumerate(feet) for k in range(N) if np.all(np.isfinite(foot.points[k]))]


def landmark_weights(errors_mm: np.ndarray | None, *, floor: float) -> np.ndarray:
    """Relative stage-2 sampling weight of each landmark from its validation error (mm).

    Weights are the errors divided by their mean, raised to at least ``floor`` (an easy
    landmark must still be seen, or it is forgotten); a landmark without an error (NaN) gets
    weight 1. ``None`` (no validation yet) gives equal weights.
    """
    if errors_mm is None:
        return np.ones(N)
    e = np.asarray(errors_mm, dtype=float)
    if not np.any(np.isfinite(e)) or np.nanmean(e) <= 0:
        return np.ones(N)
    return np.maximum(np.where(np.isfinite(e), e / np.nanmean(e), 1.0), floor)


def pair_probabilities(pairs: list[tuple[int, int]], weights: np.ndarray) -> np.ndarray:
    """Probability of drawing each (foot, landmark) pair: its landmark's weight, normalised so
    that a landmark's share does not depend on how many feet hold it."""
    landmark = np.array([k for _, k in pairs])
    count = np.bincount(landmark, minlength=N).astype(float)
    p = np.asarray(weights, dtype=float)[landmark] / count[landmark]
    return p / p.sum()


def _mean(values: list[float]) -> float:
    """Mean of the finite values; NaN for none (a stage not trained in this run)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _last_stage2_errors(rows: list[dict[str, Any]]) -> np.ndarray | None:
    for row in reversed(rows):
        if "per_landmark_stage2_mm" in row:
            return np.asarray(row["per_landmark_stage2_mm"], dtype=float)
    return None


# ----- validation ---------------------------------------------------------------------------------
def validate(net1: torch.nn.Module, net2: torch.nn.Module, feet: list[FootCache],
             config: dict[str, Any]) -> dict[str, Any]:
    """Mean errors (mm) of stage 1 on centred grids and of stage 2 on patches jittered as in training."""
    net1.eval()
    net2.eval()
    c1, c2 = config["stage1"], config["stage2"]
    s1, s2 = float(c1["spacing_mm"]), float(c2["spacing_mm"])
    err1, err2 = np.full((len(feet), N), np.nan), np.full((len(feet), N), np.nan)
    rng = np.random.default_rng(1234)
    with torch.inference_mode():
        for f in range(len(feet)):
            x, pts, valid = stage1_batch([feet[f]], config, rng, augment=False)
            prob = spatial_softmax(net1(x))[0].numpy()
            vox, _ = decode_heatmaps(prob, method=c1["decode"], window_vox=c1["window_mm"] / s1,
                                     sigma_vox=c1["sigma_mm"] / s1)
            e = np.linalg.norm(vox - pts[0].numpy(), axis=-1) * s1
            err1[f] = np.where(valid[0].numpy(), e, np.nan)
        pairs = valid_pairs(feet)
        jit = config["train"]["aug"]
        offsets = np.clip(rng.normal(0.0, jit["jitter2_mm"], size=(len(pairs), 3)),
                          -jit["jitter2_max_mm"], jit["jitter2_max_mm"])
        for start in range(0, len(pairs), 22):
            chunk = pairs[start : start + 22]
            x, pts, valid = stage2_batch(feet, chunk, config, rng, augment=False,
                                         offsets_mm=offsets[start : start + 22])
            prob = spatial_softmax(net2(x)).numpy()
            own = np.array([k for _, k in chunk])
            vox, _ = decode_heatmaps(prob[np.arange(len(chunk)), own], method=c2["decode"],
                                     window_vox=c2["window_mm"] / s2, sigma_vox=c2["sigma_mm"] / s2)
            e = np.linalg.norm(vox - pts.numpy()[np.arange(len(chunk)), own], axis=-1) * s2
            for (f, k), ek in zip(chunk, e, strict=True):
                err2[f, k] = ek
    net1.train()
    net2.train()
    return {"val_stage1_mm": float(np.nanmean(err1)), "val_stage2_mm": float(np.nanmean(err2)),
            "val_stage2_worst_landmark_mm": float(np.nanmax(np.nanmean(err2, axis=0))),
            "per_landmark_stage2_mm": np.nanmean(err2, axis=0).tolist()}


# ----- the run ------------------------------------------------------------------------------------
def plot_learning_curve(rows: list[dict[str, Any]], path: Path) -> None:
    """Loss and validation errors per epoch (PNG, written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].plot(epochs, [r["train_loss1"] for r in rows], label="stage 1")
    axes[0].plot(epochs, [r["train_loss2"] for r in rows], label="stage 2")
    axes[0].set(xlabel="epoch", ylabel="training loss (mm + KL)", title="Training loss")
    axes[0].legend()
    if any(np.isfinite(r.get("val_stage1_mm", np.nan)) for r in rows):
        axes[1].plot(epochs, [r.get("val_stage1_mm", np.nan) for r in rows], "o-", label="stage 1 (coarse grid)")
        axes[1].plot(epochs, [r.get("val_stage2_mm", np.nan) for r in rows], "o-",
                     label="stage 2 (fine patch, jittered)")
        axes[1].set_yscale("log")
    axes[1].set(xlabel="epoch", ylabel="mean error (mm)", title="Validation")
    axes[1].legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def _write_metrics(rows: list[dict[str, Any]], path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame([{k: v for k, v in r.items() if not isinstance(v, list)} for r in rows])
    write_text_atomic(path, frame.to_csv(index=False))


def training_shape_prior(feet: list[FootCache], *, source: str) -> dict[str, Any] | None:
    """The landmark shape prior of the training feet (``ShapeModel.to_dict()``), stored in the bundle.

    Cached points are in the network frame (left feet already mirrored). ``None`` when fewer
    than two feet have all 22 landmarks.
    """
    from footalign.geometry.shape_model import build_shape_model

    try:
        prior = build_shape_model([f.points for f in feet], ["right"] * len(feet), source=source)
    except ValueError:
        return None
    return prior.to_dict()


def _stretch_one_cycle(scheduler: torch.optim.lr_scheduler.OneCycleLR, total_steps: int) -> None:
    """Give a (restored) one-cycle schedule a new length (longer or shorter); the phases end at
    the same fractions of it.

    Setting ``total_steps`` alone is not enough: the phase boundaries are stored in steps, and
    past the old end the cosine would climb again.
    """
    old = scheduler.total_steps
    for phase in scheduler._schedule_phases:
        phase["end_step"] = (phase["end_step"] + 1.0) / old * total_steps - 1.0
    scheduler.total_steps = total_steps


def _warm_start(net1: torch.nn.Module, net2: torch.nn.Module, config: dict[str, Any],
                init_from: str | Path) -> None:
    """Copy the weights of a bundle into the networks (same spacings and architecture required).

    The grid shapes may differ: the networks are fully convolutional, so weights trained on
    24^3 patches start a run on 32^3 patches (a wider view at the same spacing).
    """
    init_config, init1, init2 = load_bundle(init_from)
    for stage in ("stage1", "stage2"):
        if any(init_config[stage].get(k) != config[stage].get(k)
               for k in ("spacing_mm", "channels", "num_res_units")):
            raise ModelError(f"{init_from}: its {stage} spacing or network differs from the training config")
    net1.load_state_dict(init1.state_dict())
    net2.load_state_dict(init2.state_dict())


def train_model(
    dataset_dir: str | Path,
    *,
    fold: int | str,
    out_dir: str | Path,
    config: dict[str, Any],
    cache_dir: str | Path,
    epochs: int | None = None,
    resume: bool = False,
    quiet: bool = False,
    max_minutes: float | None = None,
    init_from: str | Path | None = None,
) -> dict[str, Any]:
    """Train both stages on one fold (or ``"all"``) and export the model bundle to ``out_dir``.

    Parameters
    ----------
    fold : a fold number of ``dataset.json`` or ``"all"`` (every case; then a tenth of the
        training feet is re-used for monitoring only, flagged ``val_in_training``).
    epochs : overrides ``config["train"]["epochs"]``.
    resume : continue from ``out_dir/training/checkpoint.pt`` if it exists.
    max_minutes : stop after the epoch that crosses this wall-clock budget (checkpoint kept).
    init_from : a model bundle whose weights start the training (warm start, e.g. the shipped
        model); its grids and networks must match ``config``. Ignored when resuming.

    Returns
    -------
    dict with the last epoch's metrics and the paths written.
    """
    console = Console(stderr=True, quiet=quiet)
    tcfg = config["train"]
    if epochs is not None:
        tcfg["epochs"] = int(epochs)
    sampling = str(tcfg.get("stage2_sampling", "uniform"))
    if sampling not in ("uniform", "error"):
        raise InputError(f"train.stage2_sampling must be 'uniform' or 'error', not {sampling!r}")
    floor = float(tcfg.get("stage2_sampling_floor", 0.3))
    stages = list(tcfg.get("stages", ["stage1", "stage2"]))
    if not stages or any(s not in ("stage1", "stage2") for s in stages):
        raise InputError(f"train.stages must list 'stage1' and/or 'stage2', not {stages!r}")
    torch.set_num_threads(int(tcfg.get("threads", 2)))
    out = ensure_writable_dir(out_dir)
    log_dir = ensure_writable_dir(out / "training")
    dataset = read_dataset(dataset_dir)
    train_ids, val_ids = dataset.split(fold)
    files = preprocess_dataset(dataset, config, cache_dir, case_ids=train_ids + val_ids, quiet=quiet)
    feet = {p.stem: load_foot_cache(p) for p in files}
    train_feet = [f for f in feet.values() if f.case_id in set(train_ids)]
    val_feet = [f for f in feet.values() if f.case_id in set(val_ids)]
    val_in_training = False
    if not val_feet:
        val_feet = train_feet[:: max(1, len(train_feet) // max(1, len(train_feet) // 10))][:20]
        val_in_training = True
    console.print(f"train: {len(train_feet)} feet, validation: {len(val_feet)} feet"
                  + (" (re-used training feet)" if val_in_training else ""))

    shape_prior = training_shape_prior(train_feet, source=f"{Path(dataset_dir).name} fold {fold}")
    seed = int(tcfg["seed"])
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net1 = build_network(config["stage1"], n_landmarks=N)
    net2 = build_network(config["stage2"], n_landmarks=N)
    resuming = resume and (log_dir / "checkpoint.pt").exists()
    if len(stages) < 2 and init_from is None and not resuming:
        raise InputError(f"train.stages {stages}: training one stage needs --init for the other's weights")
    if init_from is not None and not resuming:
        _warm_start(net1, net2, config, init_from)
        console.print(f"weights initialised from {init_from}")
    steps_per_epoch = max(int(tcfg.get("min_steps_per_epoch", 1)), math.ceil(len(train_feet) / int(tcfg["batch1"])))
    total_steps = steps_per_epoch * int(tcfg["epochs"])
    opts = [torch.optim.AdamW(net.parameters(), lr=float(tcfg["lr"]), weight_decay=float(tcfg["weight_decay"]))
            for net in (net1, net2)]
    scheds = [torch.optim.lr_scheduler.OneCycleLR(o, max_lr=float(tcfg["lr"]), total_steps=total_steps + 1,
                                                  pct_start=0.05) for o in opts]
    rows: list[dict[str, Any]] = []
    start_epoch = 0
    ckpt_path = log_dir / "checkpoint.pt"
    if resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        net1.load_state_dict(ckpt["net1"])
        net2.load_state_dict(ckpt["net2"])
        for o, s in zip(opts, ckpt["opts"], strict=True):
            o.load_state_dict(s)
        for sc, s in zip(scheds, ckpt["scheds"], strict=True):
            sc.load_state_dict(s)
            if total_steps + 1 != sc.total_steps:  # --epochs was changed: rescale the schedule
                if sc.last_epoch >= total_steps:
                    raise InputError(f"--epochs {tcfg['epochs']}: the checkpoint is already past that")
                _stretch_one_cycle(sc, total_steps + 1)
        rng.bit_generator.state = ckpt["rng"]
        torch.set_rng_state(ckpt["torch_rng"])
        rows = ckpt["rows"]
        start_epoch = int(ckpt["epoch"]) + 1
        console.print(f"resumed from {ckpt_path} at epoch {start_epoch}")
    write_text_atomic(log_dir / "config.json", json.dumps(config, indent=2) + "\n")

    pairs = valid_pairs(train_feet)
    pair_p = None
    if sampling == "error":
        errors = _last_stage2_errors(rows)
        if errors is None:  # a fresh or warm start: measure where the model stands first
            errors = np.asarray(validate(net1, net2, val_feet, config)["per_landmark_stage2_mm"])
        weights = landmark_weights(errors, floor=floor)
        pair_p = pair_probabilities(pairs, weights)
        heaviest = np.argsort(weights)[::-1][:3]
        console.print("stage-2 patches drawn by validation error; most: "
                      + ", ".join(f"{LANDMARK_NAMES[k]} x{weights[k]:.1f}" for k in heaviest))
    s1, s2 = config["stage1"], config["stage2"]
    t_start = time.monotonic()
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}")]
    with Progress(*columns, console=console, disable=quiet) as progress:
        task = progress.add_task("epochs", total=int(tcfg["epochs"]), completed=start_epoch, info="")
        for epoch in range(start_epoch, int(tcfg["epochs"])):
            t_epoch = time.monotonic()
            order = rng.permutation(len(train_feet))
            losses1, losses2, d1, d2 = [], [], [], []
            step_task = progress.add_task(f"epoch {epoch + 1}", total=steps_per_epoch, info="")
            for step in range(steps_per_epoch):
                idx = order[step * int(tcfg["batch1"]) : (step + 1) * int(tcfg["batch1"])]
                if len(idx) == 0:
                    idx = rng.choice(len(train_feet), size=int(tcfg["batch1"]))
                if "stage1" in stages:
                    x, pts, valid = stage1_batch([train_feet[i] for i in idx], config, rng, augment=True)
                    loss, dist = heatmap_loss(net1(x), pts, valid, spacing_mm=float(s1["spacing_mm"]),
                                              sigma_mm=float(s1["sigma_mm"]),
                                              heatmap_weight=float(tcfg["heatmap_weight"]))
                    opts[0].zero_grad()
                    loss.backward()
                    opts[0].step()
                    scheds[0].step()
                    losses1.append(float(loss.detach()))
                    d1.append(float(torch.nanmean(dist)))
                for _ in range(int(tcfg["steps2_per_step1"]) if "stage2" in stages else 0):
                    chosen = [pairs[i] for i in rng.choice(len(pairs), size=int(tcfg["batch2"]), p=pair_p)]
                    x, pts, valid = stage2_batch(train_feet, chosen, config, rng, augment=True)
                    loss, dist = heatmap_loss(net2(x), pts, valid, spacing_mm=float(s2["spacing_mm"]),
                                              sigma_mm=float(s2["sigma_mm"]), heatmap_weight=float(tcfg["heatmap_weight"]))
                    opts[1].zero_grad()
                    loss.backward()
                    opts[1].step()
                    losses2.append(float(loss.detach()))
                    d2.append(float(torch.nanmean(dist)))
                if "stage2" in stages:
                    scheds[1].step()
                progress.update(step_task, advance=1,
                                info=f"loss1 {_mean(losses1):.2f} loss2 {_mean(losses2):.2f}")
            progress.remove_task(step_task)
            row: dict[str, Any] = {"epoch": epoch + 1, "train_loss1": _mean(losses1),
                                   "train_loss2": _mean(losses2),
                                   "train_dist1_mm": _mean(d1), "train_dist2_mm": _mean(d2),
                                   "lr": float(scheds[0 if "stage1" in stages else 1].get_last_lr()[0]),
                                   "seconds": time.monotonic() - t_epoch, "val_in_training": val_in_training}
            if (epoch + 1) % int(tcfg.get("val_every", 1)) == 0 or epoch + 1 == int(tcfg["epochs"]):
                row.update(validate(net1, net2, val_feet, config))
                if sampling == "error":
                    pair_p = pair_probabilities(pairs, landmark_weights(
                        np.asarray(row["per_landmark_stage2_mm"]), floor=floor))
            rows.append(row)
            ckpt = {"epoch": epoch, "net1": net1.state_dict(), "net2": net2.state_dict(),
                    "opts": [o.state_dict() for o in opts], "scheds": [s.state_dict() for s in scheds],
                    "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "rows": rows,
                    "config": config}
            with atomic_path(ckpt_path) as tmp:
                torch.save(ckpt, tmp)
            save_bundle(out, {**config, "model_version": f"fold-{fold}-epoch-{epoch + 1}"},
                        net1.state_dict(), net2.state_dict(), shape_model=shape_prior)
            _write_metrics(rows, log_dir / "metrics.csv")
            last_epoch = epoch + 1 == int(tcfg["epochs"])
            if "val_stage1_mm" in row or last_epoch:
                plot_learning_curve(rows, log_dir / "learning_curve.png")
            console.print(f"epoch {epoch + 1}/{tcfg['epochs']}: loss1 {row['train_loss1']:.3f} loss2 "
                          f"{row['train_loss2']:.3f}, val stage1 {row.get('val_stage1_mm', float('nan')):.2f} mm, "
                          f"stage2 {row.get('val_stage2_mm', float('nan')):.2f} mm ({row['seconds']:.0f} s)")
            progress.update(task, advance=1, info=f"val s1 {row.get('val_stage1_mm', float('nan')):.2f} mm "
                                                  f"s2 {row.get('val_stage2_mm', float('nan')):.2f} mm")
            if max_minutes is not None and time.monotonic() - t_start > 60.0 * max_minutes:
                console.print(f"stopping after epoch {epoch + 1}: time budget of {max_minutes} min used")
                break
    return {"out_dir": str(out), "epochs_done": len(rows), "last": rows[-1] if rows else {}}
