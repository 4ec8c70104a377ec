"""Install a trained model as footalign's shipped model, with its shape prior and model card.

    python scripts/export_shipped_model.py work_data/runs/shipped_v8 --dataset work_data/sim_train_v7 \
        [--fold 0 --evaluate-fold] [--accuracy bench/results/accuracy.json]

1. copies the bundle to ``src/footalign/data/model`` (weights, TorchScript graphs, checksums)
   with the shape prior of the complete ground-truth landmark sets of ``--dataset``;
2. with ``--evaluate-fold``, predicts the held-out cases of that fold (oracle per-foot crops,
   ``footalign.model.assess``) and writes the evaluation to ``work_data/fold_eval/``;
3. writes ``model_card.md`` (and ``docs/model_card.md``): data, commands, seed, training log,
   the held-out test results of ``--accuracy`` (the benchmark on seeds 9001-9005, when it was
   measured with this very model), the fold evaluation, and the known limits.

Run it again after ``make bench`` to put the benchmark's figures into the card.
``--refresh-card --cv DIR/evaluation/summary.json`` (no TRAINED) rewrites only the installed card's
commands, cross-validation section and limits, e.g. after folds trained later.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from build_shape_model import complete_sets  # noqa: E402

from footalign.geometry.shape_model import build_shape_model  # noqa: E402
from footalign.io.atomic import write_text_atomic  # noqa: E402
from footalign.model.bundle import CARD_FILE, load_bundle, save_bundle, shipped_model_dir  # noqa: E402
from footalign.model.card import cv_section, model_card, replace_section, section_body  # noqa: E402

MODEL_NAME = "footalign-landmarks-0.9-sim"
TRAINING_DATA = (
    "480 synthetic weight-bearing CT scans from `footalign simulate --n 480 --seed 13 --spacing 1.0 "
    "--pathology-mix normal=0.2,cavus=0.2,planovalgus=0.2,hallux_valgus=0.1,hindfoot_varus=0.15,"
    "hindfoot_valgus=0.15` (simulator of 3 December 2026, evening: the recalibrated lower-arch normal posture; "
    "CALC_PFA on the posterior facet's medial rim, a tilt-stable CALC_LOW, NAV_LOW on the navicular tuberosity, "
    "tibial sections perpendicular to the line through their centroids, every landmark rule on the continuous "
    "bone surface, CALC_TUB at 40 deg; single and bilateral, left and right, all six pathologies, none thinned "
    "out (91-125 feet each, hallux valgus 64), fields of view that cut the tibia or the toes). Fold {fold} of "
    "`dataset.json`: {n_train} scans ({train_feet} feet) for training, {n_val} scans ({val_feet} feet) held out "
    "for validation and the fold evaluation below. New anatomies (seed 13): no scan of this set was seen by the "
    "0.1-0.8 models, so fold {fold}'s held-out feet are unseen."
)
COMMAND = """footalign simulate --n 480 --out work_data/sim_train_v8 --seed 13 --spacing 1.0 --workers 2 \\
    --pathology-mix normal=0.2,cavus=0.2,planovalgus=0.2,hallux_valgus=0.1,hindfoot_varus=0.15,hindfoot_valgus=0.15
footalign train work_data/sim_train_v8 --fold 0 --out work_data/runs/shipped_v9 \\
    --config work_data/finetune_v9.json --init src/footalign/data/model --epochs 24 --max-minutes 80
# the 80-minute budget (wall time, validation included) ended it after epoch 22 (lr then 1e-5)
# --init: the 0.8 model (0.7 + 24 epochs at lr 5e-4 on 320 scans with more cavus/varus/valgus feet; 0.7 = 0.6 +
# 18 epochs; 0.6 = 0.5 + 18; 0.5 = 0.4 + 18 at lr 1e-3; 0.4 = 0.3 + 14 before the CALC_PFA/tibia fixes;
# 0.3 = 0.2 + 16 before the NAV_LOW fix; 0.2 = 0.1 + 24 on the previous simulator's scans, lr 2e-3).
# work_data/finetune_v9.json (its "epochs" is overridden by --epochs):
# {"train": {"lr": 5e-4, "epochs": 20, "val_every": 2, "threads": 1,
#            "stage2_sampling": "error", "stage2_sampling_floor": 0.3,
#            "aug": {"hu_shift": 200.0, "contrast": 0.2, "truncate_prob": 0.3}}}
python scripts/export_shipped_model.py work_data/runs/shipped_v9 --dataset work_data/sim_train_v8 --evaluate-fold
python bench/run_all.py --only accuracy   # held-out test set (seeds 9001-9005), regenerated with the new posture
python scripts/export_shipped_model.py work_data/runs/shipped_v9 --dataset work_data/sim_train_v8
# cross-validation: folds 1-4 of the same recipe (two side by side, one thread each), fold_0 = this model
footalign cv work_data/sim_train_v8 --out work_data/runs/cv9 --folds K --config work_data/finetune_v9.json \\
    --init <the 0.8 model> --epochs 14 --max-minutes 50
# (folds 3 and 4 were cut at epoch 12 by the end of a working session; the same command resumed them)
footalign cv work_data/sim_train_v8 --out work_data/runs/cv9 --evaluate-only
python scripts/export_shipped_model.py --refresh-card --cv work_data/runs/cv9/evaluation/summary.json"""
CV_NOTE = (
    "5-fold cross-validation of the recipe (`footalign cv ... --evaluate-only`, command above): fold {fold} is the "
    "shipped model; the other four have the same warm start (0.8), config and data set, each trained on its own "
    "split on one thread, two side by side, for a 14-epoch schedule (all 14 epochs run, about 50 minutes each). "
    "Every held-out foot of the five folds, oracle per-foot crops, networks only (TIB_PROX, TIB_DIST and CALC_LOW "
    "are the networks' own points, not the pipeline's re-measured ones):"
)
LIMITS = [
    "Trained and tested on synthetic scans only (`footalign simulate`); accuracy on real scans is not measured "
    "(one real scan exists, without ground truth: docs/real_scan.md).",
    "Warm-started from the 0.8 model (0.1 -> 0.2 -> ... -> 0.8; about 405 min on one core in all) and "
    "fine-tuned on one CPU core for the time in the training notes; the shipped model is fold 0. Folds 1-4 of the "
    "same recipe were trained for cross-validation only, on a shorter schedule (14 epochs; docs/model.md).",
    "Expects one foot per input region, roughly upright (+z superior) with the long axis near LPS y; the "
    "pipeline (`footalign predict`) provides such crops.",
    "Confidence is a heatmap-shape score, not a calibrated probability. Landmarks cut off by the field of view "
    "are recognised by the pipeline's shape prior (`shape_model.json`), not by the networks alone.",
    "The held-out test figures are through `footalign predict`, which re-measures TIB_DIST, TIB_PROX and CALC_LOW "
    "in the image from the networks' points (docs/model.md).",
    "Trained and tested on the simulator's recalibrated posture of 3 December 2026; its normal feet still stand "
    "higher than real ones (navicular ~60 mm above the platform, the real scan ~42 mm: docs/simulation.md).",
]


def accuracy_summary(path: Path, version: str) -> dict[str, Any] | None:
    """The benchmark's accuracy result in the card's summary format, if measured with ``version``."""
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    if doc.get("status") == "not measured" or doc.get("model", {}).get("version") != version:
        return None
    return {"n_feet": int(doc["overall"]["n_feet"]),
            "landmark_mean_error_mm": {n: v["mean"] for n, v in doc["landmarks"].items()},
            "measurement_mae": {n: v["mae"] for n, v in doc["measurements"].items()},
            "overall": doc["overall"]}


def evaluate_fold(trained: Path, dataset: Path, fold: int) -> dict[str, Any]:
    from footalign.model.assess import evaluate_predictions, predict_cases
    from footalign.model.dataset import read_dataset
    from footalign.model.predictor import Predictor

    data = read_dataset(dataset)
    _, val = data.split(fold)
    preds, gts, ids = predict_cases(Predictor.from_folder(trained), data, val)
    return evaluate_predictions(preds, gts, ids, REPO / "work_data" / "fold_eval",
                                title=f"Held-out fold {fold} of {dataset.name}")


def refresh_card(cv: Path, fold: int) -> None:
    """Bring the installed card's Reproduce commands, cross-validation and limits up to date
    (e.g. folds trained after the model was installed); weights and the training notes stay."""
    card_path = shipped_model_dir() / CARD_FILE
    card = card_path.read_text()
    # The seed and training-notes line after the commands block: it belongs to the trained model.
    notes = section_body(card, "Reproduce").rsplit("```\n", 1)[1].strip()
    card = replace_section(card, "Reproduce", ["```", COMMAND, "```", notes])
    card = replace_section(card, "5-fold cross-validation", cv_section(json.loads(cv.read_text()),
                                                                        CV_NOTE.format(fold=fold)))
    card = replace_section(card, "Known limits", [f"- {item}" for item in LIMITS])
    write_text_atomic(card_path, card)
    write_text_atomic(REPO / "docs" / "model_card.md", card)
    print(f"updated {card_path} and docs/model_card.md from {cv}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trained", type=Path, nargs="?", help="training output folder (a model bundle)")
    parser.add_argument("--dataset", type=Path, help="the training data set (required with TRAINED)")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--evaluate-fold", action="store_true", help="evaluate the held-out fold (minutes)")
    parser.add_argument("--accuracy", type=Path, default=REPO / "bench" / "results" / "accuracy.json")
    parser.add_argument("--cv", type=Path, help="summary.json of a `footalign cv` evaluation of this recipe "
                        "(every fold's held-out feet); the card shows it instead of the one fold")
    parser.add_argument("--refresh-card", action="store_true",
                        help="no TRAINED: rewrite only the installed card's commands, --cv section and limits")
    args = parser.parse_args()
    if args.refresh_card:
        if args.cv is None:
            parser.error("--refresh-card needs --cv")
        refresh_card(args.cv, args.fold)
        return
    if args.trained is None or args.dataset is None:
        parser.error("TRAINED and --dataset are required (or --refresh-card --cv SUMMARY)")

    dest = shipped_model_dir()
    points, sides = complete_sets(args.dataset)
    prior = build_shape_model(points, sides, source=f"{args.dataset.name}: {len(points)} feet (complete sets)")
    config, net1, net2 = load_bundle(args.trained)
    version = f"{MODEL_NAME} ({config.get('model_version', 'dev')})"
    config["model_version"] = version

    fold_file = REPO / "work_data" / "fold_eval" / "summary.json"
    if args.evaluate_fold:
        evaluate_fold(args.trained, args.dataset, args.fold)
    fold_summary = json.loads(fold_file.read_text()) if fold_file.is_file() else None

    metrics = pd.read_csv(args.trained / "training" / "metrics.csv")
    validated = metrics.dropna(subset=["val_stage1_mm"])
    last = validated.iloc[-1] if len(validated) else metrics.iloc[-1]
    doc = json.loads((args.dataset / "dataset.json").read_text())
    split = next(f for f in doc["folds"] if int(f["fold"]) == args.fold)
    feet = {c["id"]: len(c["feet"]) for c in doc["cases"]}
    training_data = TRAINING_DATA.format(fold=args.fold, n_train=len(split["train"]), n_val=len(split["val"]),
                                         train_feet=sum(feet[i] for i in split["train"]),
                                         val_feet=sum(feet[i] for i in split["val"]))
    trained_cfg = json.loads((args.trained / "training" / "config.json").read_text())["train"]
    threads = int(trained_cfg.get("threads", 2))
    stages = " and ".join(trained_cfg.get("stages", ["stage1", "stage2"]))
    notes = (f"Trained ({stages}) {int(metrics['epoch'].iloc[-1])} epochs in {metrics['seconds'].sum() / 60:.0f} "
             f"min of training steps on {threads} CPU thread{'s' if threads > 1 else ''} (validation time not "
             "counted). Validation at epoch "
             f"{int(last['epoch'])}: stage 1 {last.get('val_stage1_mm', float('nan')):.2f} mm, stage 2 "
             f"{last.get('val_stage2_mm', float('nan')):.2f} mm (patches jittered as in training). Learning curve: "
             "docs/img/model_learning_curve.png. Shape prior: the complete ground-truth landmark sets of all "
             f"{prior.n_feet} feet of the data set.")
    test = accuracy_summary(args.accuracy, version)
    test_data = ("the benchmark's held-out test set (`bench/bench_accuracy.py`: seeds 9001-9005, 0.4/0.6/0.8/1.0 mm, "
                 "all pathologies, single and bilateral; never used for training or selection), through the full "
                 "`footalign predict` pipeline (foot detection, side, crop); see docs/benchmarks.md")
    if args.cv is not None:
        cv_summary, cv_note = json.loads(args.cv.read_text()), CV_NOTE.format(fold=args.fold)
    else:
        cv_summary = fold_summary
        cv_note = (f"Only fold {args.fold} (the shipped model) was evaluated; its held-out scans, predicted with "
                   "oracle per-foot crops (`footalign.model.assess`):") if fold_summary else ""
    card = model_card(config, training_data=training_data, command=COMMAND, training_notes=notes,
                      test_summary=test, test_data=test_data, cv_summary=cv_summary, cv_note=cv_note,
                      limits=LIMITS)
    save_bundle(dest, config, net1.state_dict(), net2.state_dict(), card=card, shape_model=prior.to_dict())
    write_text_atomic(REPO / "docs" / "model_card.md", card)
    curve = args.trained / "training" / "learning_curve.png"
    if curve.is_file():
        shutil.copyfile(curve, REPO / "docs" / "img" / "model_learning_curve.png")
    print(f"installed {version} in {dest}; card: {'with' if test else 'without'} benchmark results, "
          f"{'with' if fold_summary else 'without'} fold evaluation")


if __name__ == "__main__":
    main()
