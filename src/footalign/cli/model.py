"""CLI commands of the model stage: ``footalign preprocess``, ``train``, ``cv``, ``test-model``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from footalign.errors import InputError

_PREPROCESS_EPILOG = """
[b]Examples[/b]

  footalign preprocess data/sim

  footalign preprocess data/sim --config my_config.json --cache /scratch/sim_cache

Resamples every foot of DATASET to the two stages' grids once (DATASET/preprocessed, or
--cache; one subfolder per grid setting) — what train and cv read. Optional: train builds
what is missing itself, but folds trained side by side should share one finished cache.
Cases already cached are skipped, so an interrupted run just continues.
"""

_TRAIN_EPILOG = """
[b]Examples[/b]

  footalign train data/sim --fold 0 --out runs/fold_0 --epochs 40

  footalign train data/sim --fold all --out runs/shipped --config my_config.json --resume

  footalign train my_scans/ --fold all --out runs/mine --epochs 5 --quiet

  footalign train my_scans/ --fold 0 --out runs/tuned --init src/footalign/data/model

DATASET is a folder with dataset.json (as written by [i]footalign simulate[/i], or your own
scans + landmark files). Preprocessed arrays are cached in DATASET/preprocessed (or --cache).
MODEL_DIR receives the model bundle (config.json, weights.pt, checksums.json) after every
epoch, and training/ with checkpoint.pt, metrics.csv and learning_curve.png; --resume continues
an interrupted run from its last checkpoint.
"""

_CV_EPILOG = """
[b]Examples[/b]

  footalign cv data/sim --out runs/cv --epochs 40

  footalign cv data/sim --out runs/cv --folds 0,1 --config small.json

  footalign cv data/sim --out runs/cv --folds 3 --init src/footalign/data/model --max-minutes 55

  footalign cv data/sim --out runs/cv --evaluate-only

Trains one model per fold of dataset.json (runs/cv/fold_K, resumable), predicts each fold's
held-out cases and writes one evaluation over all of them to runs/cv/evaluation
(evaluation.md/json, per_case.csv, folds.csv with one row per fold, error box plots,
Bland–Altman plots). Folds can be trained side by side or on several machines (--folds K
each, same --out); --evaluate-only then pools the finished fold_K models without training,
reading the held-out predictions each fold's run kept (fold_K/heldout_predictions.json).
"""

_TEST_EPILOG = """
[b]Examples[/b]

  footalign test-model data/sim_test --output runs/test_eval

  footalign test-model data/sim_test --model runs/fold_0 --output runs/fold0_test

Predicts every foot of DATASET (per-foot crops around the ground truth) with a model bundle
(default: the shipped model) and writes the evaluation report to --output.
"""


def _config(config: Path | None) -> dict:
    from footalign.model.config import default_config, load_config_file

    return default_config() if config is None else load_config_file(config)


def _parse_fold(fold: str) -> int | str:
    if fold == "all":
        return "all"
    try:
        return int(fold)
    except ValueError:
        raise InputError(f"--fold must be a fold number or 'all', got {fold!r}") from None


def preprocess_command(
    dataset: Annotated[Path, typer.Argument(help="Data set folder with dataset.json.")],
    config: Annotated[Path | None, typer.Option("--config", help="JSON file overriding the default config.")] = None,
    cache: Annotated[Path | None, typer.Option("--cache", help="Preprocessing cache folder.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Build the preprocessing cache of a data set (what train and cv read), once for all folds."""
    from footalign.model.dataset import read_dataset
    from footalign.model.preprocess import cache_signature, preprocess_dataset

    data = read_dataset(dataset)
    settings = _config(config)
    cache_dir = cache or dataset / "preprocessed"
    files = preprocess_dataset(data, settings, cache_dir, quiet=quiet)
    Console(quiet=quiet).print(f"{len(files)} feet of {len(data.cases)} cases cached in "
                               f"{cache_dir / cache_signature(settings)}")


def train_command(
    dataset: Annotated[Path, typer.Argument(help="Data set folder with dataset.json.")],
    out: Annotated[Path, typer.Option("--out", "--output", "-o", help="Model folder to write.")],
    fold: Annotated[str, typer.Option("--fold", help="Fold number from dataset.json, or 'all'.")] = "all",
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="Number of epochs.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="JSON file overriding the default config.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from MODEL_DIR/training/checkpoint.pt.")] = False,
    cache: Annotated[Path | None, typer.Option("--cache", help="Preprocessing cache folder.")] = None,
    max_minutes: Annotated[float | None, typer.Option("--max-minutes", help="Stop after this wall time.")] = None,
    init: Annotated[Path | None, typer.Option("--init", help="Start from this model's weights (e.g. "
                                              "the shipped one: src/footalign/data/model).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Train the two-stage landmark model on one fold (or all cases) of a data set."""
    from footalign.model.train import train_model

    result = train_model(dataset, fold=_parse_fold(fold), out_dir=out, config=_config(config),
                         cache_dir=cache or dataset / "preprocessed", epochs=epochs, resume=resume,
                         quiet=quiet, max_minutes=max_minutes, init_from=init)
    last = result["last"]
    Console(quiet=quiet).print(
        f"model written to {out} after {result['epochs_done']} epochs: validation stage 1 "
        f"{last.get('val_stage1_mm', float('nan')):.2f} mm, stage 2 {last.get('val_stage2_mm', float('nan')):.2f} mm")


def cv_command(
    dataset: Annotated[Path, typer.Argument(help="Data set folder with dataset.json and folds.")],
    out: Annotated[Path, typer.Option("--out", "--output", "-o", help="Output folder (fold_K/, evaluation/).")],
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="Epochs per fold.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="JSON file overriding the default config.")] = None,
    folds: Annotated[str | None, typer.Option("--folds", help="Comma-separated folds (default: all).")] = None,
    cache: Annotated[Path | None, typer.Option("--cache", help="Preprocessing cache folder.")] = None,
    init: Annotated[Path | None, typer.Option("--init", help="Start every fold from this model's weights.")] = None,
    max_minutes: Annotated[float | None, typer.Option("--max-minutes", help="Wall-time budget per fold.")] = None,
    evaluate_only: Annotated[bool, typer.Option("--evaluate-only", help="Evaluate the fold models already in "
                                                "OUT/fold_K; train nothing.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """5-fold cross-validation with one pooled evaluation of all held-out cases."""
    from footalign.model.cv import cross_validate

    chosen = None
    if folds:
        try:
            chosen = [int(f) for f in folds.split(",")]
        except ValueError:
            raise InputError(f"--folds must be comma-separated numbers, got {folds!r}") from None
    cross_validate(dataset, out_dir=out, config=_config(config), cache_dir=cache or dataset / "preprocessed",
                   epochs=epochs, folds=chosen, train=not evaluate_only, init_from=init, max_minutes=max_minutes,
                   quiet=quiet)


def test_model_command(
    dataset: Annotated[Path, typer.Argument(help="Held-out data set folder with dataset.json.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the evaluation report.")],
    model: Annotated[Path | None, typer.Option("--model", help="Model folder (default: shipped model).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but the summary line.")] = False,
) -> None:
    """Evaluate a model bundle on every foot of a data set."""
    import torch

    from footalign.model.assess import evaluate_predictions, predict_cases
    from footalign.model.dataset import read_dataset
    from footalign.model.predictor import Predictor

    torch.set_num_threads(2)
    data = read_dataset(dataset)
    predictor = Predictor.from_folder(model)
    preds, gts, ids = predict_cases(predictor, data, [c.id for c in data.cases], quiet=quiet)
    summary = evaluate_predictions(preds, gts, ids, output, title=f"Model test on {data.root.name}")
    worst = max(summary["landmark_mean_error_mm"].items(), key=lambda kv: kv[1])
    Console().print(f"{summary['n_feet']} feet: mean error {summary['overall']['mean_error_mm']:.2f} mm, worst "
                    f"landmark {worst[0]} {worst[1]:.2f} mm; report in {output}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""
    app.command("preprocess", epilog=_PREPROCESS_EPILOG)(preprocess_command)
    app.command("train", epilog=_TRAIN_EPILOG)(train_command)
    app.command("cv", epilog=_CV_EPILOG)(cv_command)
    app.command("test-model", epilog=_TEST_EPILOG)(test_model_command)
