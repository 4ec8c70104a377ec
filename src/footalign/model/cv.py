"""5-fold cross-validation: train one model per ``dataset.json`` fold, evaluate all held-out feet."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from rich.console import Console

from footalign.errors import InputError
from footalign.io.atomic import ensure_writable_dir
from footalign.model.assess import evaluate_predictions, predict_cases
from footalign.model.dataset import read_dataset
from footalign.model.predictor import Predictor
from footalign.model.train import train_model


def cross_validate(
    dataset_dir: str | Path,
    *,
    out_dir: str | Path,
    config: dict[str, Any],
    cache_dir: str | Path,
    epochs: int | None = None,
    folds: list[int] | None = None,
    resume: bool = True,
    plots: bool = True,
    quiet: bool = False,
) -> dict[str, Any]:
    """Train ``out_dir/fold_K`` for every fold, predict its validation cases, evaluate them together.

    The pooled evaluation of all held-out feet goes to ``out_dir/evaluation`` (footalign.evaluation
    report: per-landmark errors, SDR, measurement MAE, Bland-Altman, ICC).
    """
    console = Console(stderr=True, quiet=quiet)
    dataset = read_dataset(dataset_dir)
    if not dataset.folds:
        raise InputError(f"{dataset.root / 'dataset.json'}: no folds defined")
    out = ensure_writable_dir(out_dir)
    chosen = folds if folds is not None else [int(f["fold"]) for f in dataset.folds]
    preds, gts, ids = [], [], []
    for k in chosen:
        console.print(f"[bold]fold {k}[/bold]")
        fold_dir = out / f"fold_{k}"
        train_model(dataset_dir, fold=k, out_dir=fold_dir, config=copy.deepcopy(config), cache_dir=cache_dir,
                    epochs=epochs, resume=resume, quiet=quiet)
        _, val_ids = dataset.split(k)
        p, g, i = predict_cases(Predictor.from_folder(fold_dir), dataset, val_ids, quiet=quiet)
        preds += p
        gts += g
        ids += i
    summary = evaluate_predictions(preds, gts, ids, out / "evaluation",
                                   title=f"{len(chosen)}-fold cross-validation ({dataset.root.name})", plots=plots)
    console.print(f"cross-validation: {summary['n_feet']} held-out feet, mean error "
                  f"{summary['overall']['mean_error_mm']:.2f} mm -> {out / 'evaluation'}")
    return summary
