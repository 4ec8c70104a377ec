"""Tests of the two-stage heatmap landmark model (tiny synthetic volumes, tiny networks)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from footalign.anatomy import LANDMARK_NAMES, N_LANDMARKS
from footalign.errors import InputError, ModelError
from footalign.image import Image, mirror_points_x, mirror_x
from footalign.io.images import write_image
from footalign.io.landmarks import write_landmarks_json
from footalign.landmarks import FootLandmarks
from footalign.model.bundle import load_bundle, save_bundle, sha256_of
from footalign.model.config import default_config, merge_config
from footalign.model.heatmaps import decode_heatmaps, gaussian_heatmap, heatmap_loss
from footalign.model.networks import build_network
from footalign.model.predictor import Predictor, landmark_status
from footalign.model.preprocess import cache_signature, load_foot_cache
from footalign.model.train import train_model

# Landmarks of the toy "foot": a 2 x 2 x 6 lattice (20 mm apart) of blobs of graded brightness.
_LATTICE = np.array([(x, y, z) for y in (-50, -30, -10, 10, 30, 50) for x in (-10, 10) for z in (-10, 10)],
                    dtype=float)[:N_LANDMARKS]

TINY = {
    "stage1": {"spacing_mm": 6.0, "shape": [12, 24, 12], "channels": [8, 16, 32], "sigma_mm": 6.0,
               "window_mm": 12.0},
    "stage2": {"spacing_mm": 1.0, "shape": [12, 12, 12], "channels": [8, 16], "sigma_mm": 1.5},
    "train": {"threads": 1, "batch1": 1, "batch2": 6, "lr": 1e-2, "val_every": 1000, "seed": 0, "min_steps_per_epoch": 12, "heatmap_weight": 0.2,
              "aug": {"rotation_deg": 0.0, "scale": 0.0, "shift1_mm": 6.0, "jitter2_mm": 2.0,
                      "jitter2_max_mm": 4.0, "noise_hu": 0.0, "blur_prob": 0.0, "truncate_prob": 0.0,
                      "hu_shift": 0.0, "contrast": 0.0}},
}


def tiny_config() -> dict:
    return merge_config(default_config(), TINY)


def blob_image(points: np.ndarray, *, shape=(48, 120, 48), spacing=1.0) -> Image:
    """A CT-like volume: air, a soft-tissue ellipsoid, one Gaussian blob (bone HU) per landmark."""
    origin = -(np.asarray(shape) - 1) / 2.0 * spacing
    axes = [origin[d] + spacing * np.arange(shape[d]) for d in range(3)]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    array = np.full(shape, -1000.0, dtype=np.float32)
    array[(x / 22) ** 2 + (y / 58) ** 2 + (z / 22) ** 2 <= 1] = 40.0
    for i, p in enumerate(points):
        r2 = (x - p[0]) ** 2 + (y - p[1]) ** 2 + (z - p[2]) ** 2
        array += (700.0 + 30.0 * i) * np.exp(-0.5 * r2 / 2.0**2).astype(np.float32)
    return Image(array, (spacing,) * 3, tuple(origin))


def make_dataset(root: Path, points_per_case: list[np.ndarray]) -> Path:
    """Write a dataset.json folder with one right foot per case."""
    cases = []
    for c, pts in enumerate(points_per_case):
        cid = f"case_{c:04d}"
        write_image(blob_image(pts), root / "images" / f"{cid}.nii.gz")
        write_landmarks_json(root / "landmarks" / f"{cid}.json", [FootLandmarks("right", pts)])
        cases.append({"id": cid, "image": f"images/{cid}.nii.gz", "landmarks": f"landmarks/{cid}.json",
                      "feet": [{"side": "right", "pathology": "normal"}]})
    ids = [c["id"] for c in cases]
    doc = {"schema": "footalign.dataset", "version": 1, "landmarks": list(LANDMARK_NAMES), "cases": cases,
           "folds": [{"fold": 0, "train": ids, "val": ids[:1]}]}
    (root / "dataset.json").write_text(json.dumps(doc))
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, np.ndarray]:
    """A tiny model overfitted on one synthetic case: (model dir, dataset dir, true points)."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("model")
    points = _LATTICE + np.random.default_rng(3).uniform(-1.5, 1.5, size=(N_LANDMARKS, 3))
    dataset = make_dataset(root / "ds", [points])
    train_model(dataset, fold="all", out_dir=root / "model", config=tiny_config(), cache_dir=root / "cache",
                epochs=8, quiet=True)
    return root / "model", dataset, points


# ----- heatmaps -----------------------------------------------------------------------------------
def test_heatmap_encode_decode_recovers_subvoxel_point():
    rng = np.random.default_rng(0)
    for _ in range(5):
        center = rng.uniform(5.0, 10.0, size=3)
        prob = gaussian_heatmap(center, (16, 16, 16), sigma_vox=1.5)[None]
        for method in ("local", "softargmax"):
            found, confidence = decode_heatmaps(prob, method=method, window_vox=5.0, sigma_vox=1.5)
            assert np.linalg.norm(found[0] - center) < 0.1
            assert confidence[0] > 0.95


def test_confidence_drops_for_split_heatmap():
    sharp = gaussian_heatmap(np.array([8.0, 8.0, 8.0]), (24, 24, 24), 1.5)
    split = 0.5 * sharp + 0.5 * gaussian_heatmap(np.array([18.0, 8.0, 8.0]), (24, 24, 24), 1.5)
    _, conf = decode_heatmaps(np.stack([sharp, split]), sigma_vox=1.5)
    assert conf[0] > 0.95 and conf[1] < 0.6


def test_heatmap_loss_is_distance_when_map_matches():
    # Logits = log of the exact target: JS term ~0, loss = soft-argmax distance ~0.
    center = np.array([11.3, 12.1, 10.4])
    target = gaussian_heatmap(center, (24, 24, 24), 2.0)
    logits = torch.log(torch.from_numpy(target).float())[None, None]
    points = torch.tensor(center, dtype=torch.float32)[None, None]
    loss, dist = heatmap_loss(logits, points, torch.tensor([[True]]), spacing_mm=2.0, sigma_mm=4.0)
    assert float(loss) < 0.05 and float(dist[0, 0]) < 0.05
    shifted = torch.tensor(center + np.array([3.0, 0, 0]), dtype=torch.float32)[None, None]
    loss2, dist2 = heatmap_loss(logits, shifted, torch.tensor([[True]]), spacing_mm=2.0, sigma_mm=4.0)
    assert abs(float(dist2[0, 0]) - 6.0) < 0.1 and float(loss2) > 6.0


# ----- training and prediction --------------------------------------------------------------------
def test_training_loss_decreases(trained):
    import pandas as pd

    model_dir, _, _ = trained
    metrics = pd.read_csv(model_dir / "training" / "metrics.csv")
    assert len(metrics) == 8
    for col in ("train_loss1", "train_loss2"):
        first, last = metrics[col].iloc[0], metrics[col].iloc[-2:].mean()
        assert last < 0.8 * first, f"{col}: {first:.2f} -> {last:.2f}"
    assert (model_dir / "training" / "learning_curve.png").stat().st_size > 1000


def test_overfitted_model_finds_its_landmarks(trained):
    model_dir, _, points = trained
    predictor = Predictor.from_folder(model_dir)
    foot = predictor.predict_foot(blob_image(points), "right")
    errors = np.linalg.norm(foot.points - points, axis=1)
    assert np.median(errors) < 1.0, errors.round(2)
    assert np.mean(errors < 3.0) >= 0.75 and errors.max() < 10.0, errors.round(2)
    assert set(foot.meta["timing"]) == {"stage1", "stage2"}
    assert np.all((foot.confidence >= 0) & (foot.confidence <= 1))


def test_save_load_round_trip_gives_identical_predictions(trained, tmp_path):
    model_dir, _, points = trained
    config, net1, net2 = load_bundle(model_dir)
    save_bundle(tmp_path / "copy", config, net1.state_dict(), net2.state_dict())
    image = blob_image(points)
    a = Predictor.from_folder(model_dir).predict_foot(image, "right")
    b = Predictor.from_folder(tmp_path / "copy").predict_foot(image, "right")
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.confidence, b.confidence)


def test_mirrored_left_foot_gives_mirrored_prediction(trained):
    model_dir, _, points = trained
    predictor = Predictor.from_folder(model_dir)
    image = blob_image(points)
    right = predictor.predict_foot(image, "right")
    left = predictor.predict_foot(mirror_x(image), "left")
    np.testing.assert_allclose(left.points, mirror_points_x(right.points), atol=1e-3)
    assert left.side == "left"


def test_landmark_status_marks_outside_fov_and_low_confidence():
    image = blob_image(_LATTICE)  # 48 x 120 x 48 mm centred on the origin
    points = np.zeros((N_LANDMARKS, 3))
    points[0] = (0.0, -70.0, 0.0)  # beyond the front of the volume
    points[1] = (0.0, 0.0, 30.0)  # above it
    confidence = np.full(N_LANDMARKS, 0.9)
    confidence[2] = 0.2
    out, status = landmark_status(points, confidence, image, threshold=0.5)
    assert status[:3] == ["outside_fov", "outside_fov", "low_confidence"]
    assert set(status[3:]) == {"ok"}
    assert np.all(np.isnan(out[:2])) and np.all(np.isfinite(out[2:]))


def test_bfloat16_inference_agrees_with_float32(trained):
    model_dir, _, points = trained
    exact = Predictor.from_folder(model_dir, precision="float32")
    fast = Predictor.from_folder(model_dir, precision="bfloat16")
    image = blob_image(points)
    a, b = exact.predict_foot(image, "right"), fast.predict_foot(image, "right")
    assert b.meta["model"]["precision"] == "bfloat16" and a.meta["model"]["precision"] == "float32"
    assert np.nanmean(np.linalg.norm(a.points - b.points, axis=1)) < 0.3
    assert Predictor.from_folder(model_dir).precision in ("float32", "bfloat16")  # "auto" resolves
    with pytest.raises(ValueError, match="precision"):
        Predictor.from_folder(model_dir, precision="half")


def test_resume_continues_training(trained, tmp_path):
    model_dir, dataset, _ = trained
    out = tmp_path / "resumed"
    shutil.copytree(model_dir, out)
    train_model(dataset, fold="all", out_dir=out, config=tiny_config(), cache_dir=tmp_path / "cache",
                epochs=9, resume=True, quiet=True)
    import pandas as pd

    metrics = pd.read_csv(out / "training" / "metrics.csv")
    assert list(metrics["epoch"]) == list(range(1, 10))


def test_raising_epochs_on_resume_stretches_the_learning_rate_schedule():
    from footalign.model.train import _stretch_one_cycle

    def lrs(total: int, *, stretch_at: int | None = None, new_total: int | None = None) -> list[float]:
        opt = torch.optim.AdamW(torch.nn.Linear(2, 2).parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=total, pct_start=0.05)
        out = []
        for step in range((new_total or total) - 1):
            if step == stretch_at:
                _stretch_one_cycle(sched, new_total)
            opt.step()
            sched.step()
            out.append(sched.get_last_lr()[0])
        return out

    planned, stretched = lrs(341), lrs(101, stretch_at=30, new_total=341)
    # After the stretch the schedule is the one of the longer run: it anneals to ~0 at the new end
    # instead of climbing back up after the old one.
    np.testing.assert_allclose(stretched[100:], planned[100:], rtol=1e-6)
    assert stretched[-1] < 1e-6 and max(stretched[100:]) < planned[99] + 1e-12


def test_warm_start_begins_where_the_given_model_ended(trained, tmp_path):
    from footalign.model.preprocess import load_foot_cache
    from footalign.model.train import validate

    model_dir, dataset, _ = trained
    config = tiny_config()
    # One epoch at a tiny learning rate: a warm start stays close to the trained model's error,
    # a cold start (random weights) cannot be.
    slow = merge_config(config, {"train": {"lr": 1e-7}})
    warm = train_model(dataset, fold="all", out_dir=tmp_path / "warm", config=slow, cache_dir=tmp_path / "cache",
                       epochs=1, quiet=True, init_from=model_dir)["last"]
    cold = train_model(dataset, fold="all", out_dir=tmp_path / "cold", config=slow,
                       cache_dir=tmp_path / "cache", epochs=1, quiet=True)["last"]
    _, net1, net2 = load_bundle(model_dir)
    feet = [load_foot_cache(p) for p in sorted((tmp_path / "cache").glob("*/*.npz"))]
    reference = validate(net1, net2, feet, config)
    assert warm["val_stage2_mm"] == pytest.approx(reference["val_stage2_mm"], abs=0.2)
    assert cold["val_stage2_mm"] > reference["val_stage2_mm"] + 0.5
    # A model with other grids cannot start this training.
    other = merge_config(config, {"stage2": {"channels": [4, 8]}})
    with pytest.raises(ModelError, match="differs from the training config"):
        train_model(dataset, fold="all", out_dir=tmp_path / "bad", config=other, cache_dir=tmp_path / "cache",
                    epochs=1, quiet=True, init_from=model_dir)



def test_stage2_alone_on_a_wider_patch_keeps_stage1_and_trains_stage2(trained, tmp_path):
    model_dir, dataset, _ = trained
    _, init1, init2 = load_bundle(model_dir)
    # A wider stage-2 view (16^3 instead of 12^3) warm-started from the 12^3 weights; stage 1 frozen.
    wide = merge_config(tiny_config(), {"stage2": {"shape": [16, 16, 16]}, "train": {"stages": ["stage2"]}})
    train_model(dataset, fold="all", out_dir=tmp_path / "wide", config=wide, cache_dir=tmp_path / "cache",
                epochs=1, quiet=True, init_from=model_dir)
    config, net1, net2 = load_bundle(tmp_path / "wide")
    assert config["stage2"]["shape"] == [16, 16, 16]
    for key, value in init1.state_dict().items():
        torch.testing.assert_close(net1.state_dict()[key], value)
    assert any(not torch.equal(net2.state_dict()[k], v) for k, v in init2.state_dict().items())
    # Its cache holds cubes wide enough for the larger patch.
    cubes = {load_foot_cache(p).fine.shape[-1] for p in (tmp_path / "cache").glob("*/*.npz")}
    assert cubes == {16 + 2 * 8}
    # Training one stage alone needs the other's weights from somewhere.
    with pytest.raises(InputError, match="needs --init"):
        train_model(dataset, fold="all", out_dir=tmp_path / "alone", config=wide, cache_dir=tmp_path / "cache",
                    epochs=1, quiet=True)

def test_error_weighted_sampling_favours_hard_landmarks_but_keeps_easy_ones():
    from footalign.model.train import landmark_weights, pair_probabilities

    errors = np.full(N_LANDMARKS, 0.5)
    errors[2], errors[5] = 3.0, np.nan  # one hard landmark, one never validated
    weights = landmark_weights(errors, floor=0.3)
    assert weights[2] == pytest.approx(3.0 / np.nanmean(errors))
    assert weights[5] == 1.0 and np.all(weights >= 0.3)
    np.testing.assert_array_equal(landmark_weights(None, floor=0.3), np.ones(N_LANDMARKS))
    # Landmark 0 is held by 3 feet, the others by 1: its share is still its weight's share.
    pairs = [(f, 0) for f in range(3)] + [(0, k) for k in range(1, N_LANDMARKS)]
    p = pair_probabilities(pairs, weights)
    share = np.bincount([k for _, k in pairs], weights=p, minlength=N_LANDMARKS)
    np.testing.assert_allclose(share, weights / weights.sum())


def test_training_with_error_weighted_sampling(trained, tmp_path):
    _, dataset, _ = trained
    config = merge_config(tiny_config(), {"train": {"stage2_sampling": "error", "val_every": 1}})
    last = train_model(dataset, fold="all", out_dir=tmp_path / "weighted", config=config,
                       cache_dir=tmp_path / "cache", epochs=2, quiet=True)["last"]
    assert np.isfinite(last["val_stage2_mm"])
    bad = merge_config(tiny_config(), {"train": {"stage2_sampling": "hardest"}})
    with pytest.raises(InputError, match="stage2_sampling"):
        train_model(dataset, fold="all", out_dir=tmp_path / "bad", config=bad, cache_dir=tmp_path / "cache",
                    epochs=1, quiet=True)


# ----- bundle errors ------------------------------------------------------------------------------
@pytest.fixture
def small_bundle(tmp_path) -> Path:
    config = tiny_config()
    nets = [build_network(config[s], n_landmarks=N_LANDMARKS) for s in ("stage1", "stage2")]
    return save_bundle(tmp_path / "bundle", config, nets[0].state_dict(), nets[1].state_dict())


def test_missing_model_folder_is_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Predictor.from_folder(tmp_path / "nowhere")


def test_missing_weights_is_model_error(small_bundle):
    (small_bundle / "weights.pt").unlink()
    with pytest.raises(ModelError, match="missing"):
        Predictor.from_folder(small_bundle)


def test_corrupt_weights_fail_checksum(small_bundle):
    data = bytearray((small_bundle / "weights.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (small_bundle / "weights.pt").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        Predictor.from_folder(small_bundle)


def test_config_not_matching_weights_is_model_error(small_bundle):
    config, net1, net2 = load_bundle(small_bundle)
    config["stage2"]["channels"] = [4, 8]  # architecture no longer fits the stored weights
    before = {p.name: p.read_bytes() for p in small_bundle.iterdir()}
    with pytest.raises(ModelError, match="do not match"):
        save_bundle(small_bundle, config, net1.state_dict(), net2.state_dict())
    assert {p.name: p.read_bytes() for p in small_bundle.iterdir()} == before  # nothing written
    # A bundle with such a config (written by other means, without TorchScript graphs) fails on load.
    for name in ("stage1.ts", "stage2.ts"):
        (small_bundle / name).unlink()
    (small_bundle / "config.json").write_text(json.dumps(config))
    checksums = json.loads((small_bundle / "checksums.json").read_text())
    checksums["sha256"]["config.json"] = sha256_of(small_bundle / "config.json")
    (small_bundle / "checksums.json").write_text(json.dumps(checksums))
    with pytest.raises(ModelError, match="do not match"):
        Predictor.from_folder(small_bundle)


def test_card_section_replaced_without_touching_the_others(small_bundle):
    from footalign.model.card import cv_section, model_card, replace_section, section_body

    config, _, _ = load_bundle(small_bundle)
    card = model_card(config, training_data="data", command="cmd", training_notes="notes", test_summary=None,
                      test_data="", limits=["old limit"])
    new = replace_section(card, "5-fold cross-validation", ["Folds 0-4.", "- 5 feet"])
    new = replace_section(new, "Known limits", ["- new limit"])
    assert "Not run for this model" in card and "Not run for this model" not in new
    assert "Folds 0-4.\n- 5 feet\n\n## Known limits\n- new limit\n\n## Configuration" in new
    # Everything outside the two sections is unchanged, the last section included.
    assert new.split("## 5-fold")[0] == card.split("## 5-fold")[0]
    assert new.split("## Configuration")[1] == card.split("## Configuration")[1]
    assert replace_section(new, "Configuration", ["x"]).endswith("## Configuration\nx\n\n")
    assert section_body(new, "Known limits") == "- new limit\n\n"
    assert "\n".join(cv_section(None)) in card
    with pytest.raises(ValueError, match="no '## Results' section"):
        replace_section(card, "Results", [])


def test_predictor_uses_torchscript_graphs_with_the_same_output(small_bundle):
    from footalign.model.bundle import load_inference_bundle

    _, monai1, monai2 = load_bundle(small_bundle)
    _, script1, script2 = load_inference_bundle(small_bundle)
    assert isinstance(script1, torch.jit.ScriptModule) and isinstance(script2, torch.jit.ScriptModule)
    config = tiny_config()
    for a, b, stage in ((monai1, script1, "stage1"), (monai2, script2, "stage2")):
        x = torch.randn(1, 1, *config[stage]["shape"])
        with torch.inference_mode():
            torch.testing.assert_close(a(x), b(x))


def test_corrupt_torchscript_graph_fails_checksum(small_bundle):
    data = bytearray((small_bundle / "stage2.ts").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (small_bundle / "stage2.ts").write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"stage2\.ts: checksum mismatch"):
        Predictor.from_folder(small_bundle)


def test_config_with_other_landmarks_is_model_error(small_bundle):
    config, net1, net2 = load_bundle(small_bundle)
    config["landmarks"] = config["landmarks"][::-1]
    save_bundle(small_bundle, config, net1.state_dict(), net2.state_dict())
    with pytest.raises(ModelError, match="landmark list"):
        Predictor.from_folder(small_bundle)


def test_edited_config_fails_checksum(small_bundle):
    path = small_bundle / "config.json"
    config = json.loads(path.read_text())
    config["confidence_threshold"] = 0.1
    path.write_text(json.dumps(config))
    with pytest.raises(ModelError, match="checksum mismatch"):
        Predictor.from_folder(small_bundle)


# ----- cross-validation and CLI -------------------------------------------------------------------
def test_cross_validation_evaluates_every_held_out_foot(tmp_path, monkeypatch):
    from footalign.model.cv import cross_validate

    rng = np.random.default_rng(5)
    dataset = make_dataset(tmp_path / "ds", [_LATTICE + rng.uniform(-2, 2, size=(N_LANDMARKS, 3)) for _ in range(2)])
    doc = json.loads((dataset / "dataset.json").read_text())
    doc["folds"] = [{"fold": 0, "train": ["case_0000"], "val": ["case_0001"]},
                    {"fold": 1, "train": ["case_0001"], "val": ["case_0000"]}]
    (dataset / "dataset.json").write_text(json.dumps(doc))
    config = merge_config(tiny_config(), {"train": {"min_steps_per_epoch": 2}})
    summary = cross_validate(dataset, out_dir=tmp_path / "cv", config=config, cache_dir=tmp_path / "cache",
                             epochs=1, plots=False, quiet=True)
    assert summary["n_feet"] == 2
    assert (tmp_path / "cv" / "evaluation" / "evaluation.json").exists()
    for k in (0, 1):
        assert (tmp_path / "cv" / f"fold_{k}" / "weights.pt").exists()
    assert sorted(p.stem for p in (tmp_path / "cv" / "evaluation" / "predictions").glob("*.json")) == [
        "case_0000", "case_0001"]
    folds = pd.read_csv(tmp_path / "cv" / "evaluation" / "folds.csv")
    assert folds["fold"].tolist() == [0, 1] and folds["n_feet"].tolist() == [1, 1]
    # Two feet, one per fold: the pooled mean is the mean of the two folds' means.
    assert summary["overall"]["mean_error_mm"] == pytest.approx(folds["mean_mm"].mean(), abs=1e-3)
    report = (tmp_path / "cv" / "evaluation" / "evaluation.md").read_text()
    assert "## Per fold" in report and report.count(f"/{N_LANDMARKS} |") == 2
    # The model card shows the pooled figures and the same per-fold rows; without CV it says so.
    from footalign.model.card import cv_section

    card = "\n".join(cv_section(summary, "Folds 0-1."))
    assert card.startswith("Folds 0-1.") and "2 feet; mean error" in card
    assert card.count(f"/{N_LANDMARKS} |") == 2 and "## Per fold" not in card
    assert "Not run for this model" in "\n".join(cv_section(None))

    # Pooling the finished folds again trains nothing, predicts nothing (each fold's held-out
    # predictions are kept beside its model) and gives the same evaluation.
    import footalign.model.cv as cv_module

    weights = tmp_path / "cv" / "fold_0" / "weights.pt"
    stamp = weights.stat().st_mtime_ns
    calls = []
    real_predict_cases = cv_module.predict_cases
    monkeypatch.setattr(cv_module, "predict_cases", lambda *a, **kw: calls.append(a) or real_predict_cases(*a, **kw))
    again = cross_validate(dataset, out_dir=tmp_path / "cv", config=config, cache_dir=tmp_path / "cache",
                           train=False, plots=False, quiet=True)
    assert weights.stat().st_mtime_ns == stamp and calls == []
    assert again["overall"]["mean_error_mm"] == pytest.approx(summary["overall"]["mean_error_mm"], abs=1e-4)
    assert [r["mean_mm"] for r in again["folds"]] == pytest.approx([r["mean_mm"] for r in summary["folds"]], abs=1e-4)
    # Another model in fold_1 (fold_0's weights copied in) is predicted again, not read from the file.
    for name in ("weights.pt", "stage1.ts", "stage2.ts", "config.json", "checksums.json"):
        shutil.copy(tmp_path / "cv" / "fold_0" / name, tmp_path / "cv" / "fold_1" / name)
    cross_validate(dataset, out_dir=tmp_path / "cv", config=config, cache_dir=tmp_path / "cache",
                   train=False, plots=False, quiet=True)
    assert len(calls) == 1
    with pytest.raises(InputError, match="no trained model to evaluate"):
        cross_validate(dataset, out_dir=tmp_path / "empty", config=config, cache_dir=tmp_path / "cache",
                       train=False, quiet=True)
    with pytest.raises(InputError, match=r"fold\(s\) \[7\] not in"):
        cross_validate(dataset, out_dir=tmp_path / "cv", config=config, cache_dir=tmp_path / "cache",
                       folds=[7], train=False, quiet=True)


def test_cli_preprocess_builds_the_cache_that_training_reuses(tmp_path, capsys):
    from footalign.cli import main

    points = _LATTICE + np.random.default_rng(5).uniform(-1.0, 1.0, size=(N_LANDMARKS, 3))
    dataset = make_dataset(tmp_path / "ds", [points, points + 2.0])
    config_file = tmp_path / "tiny.json"
    config_file.write_text(json.dumps(TINY))
    assert main(["preprocess", str(dataset), "--config", str(config_file), "--quiet"]) == 0
    folder = dataset / "preprocessed" / cache_signature(tiny_config())
    cached = sorted(folder.glob("*.npz"))
    assert [p.stem for p in cached] == ["case_0000__right", "case_0001__right"]
    cache = load_foot_cache(cached[1])
    np.testing.assert_allclose(cache.points, points + 2.0, atol=1e-3)  # landmark files keep 4 decimals
    # Training on the same config reads the cache as it is (no file rewritten).
    stamps = [p.stat().st_mtime_ns for p in cached]
    train_model(dataset, fold=0, out_dir=tmp_path / "m", config=tiny_config(), cache_dir=dataset / "preprocessed",
                epochs=1, quiet=True)
    assert [p.stat().st_mtime_ns for p in cached] == stamps
    assert main(["preprocess", str(tmp_path / "missing"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "data set folder not found" in err and "Traceback" not in err


def test_cli_train_reports_bad_dataset_as_one_line(tmp_path, capsys):
    from footalign.cli import main

    code = main(["train", str(tmp_path / "missing"), "--out", str(tmp_path / "m"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "data set folder not found" in err and "Traceback" not in err


def test_cli_cv_evaluate_only_without_trained_folds_is_one_line_error(tmp_path, capsys):
    from footalign.cli import main

    dataset = make_dataset(tmp_path / "ds", [_LATTICE, _LATTICE + 1.0])
    code = main(["cv", str(dataset), "--out", str(tmp_path / "cv"), "--evaluate-only", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no trained model to evaluate" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "cv" / "evaluation").exists()


def test_cli_bad_model_folder_exits_with_model_error(tmp_path, capsys):
    from footalign.cli import main

    (tmp_path / "ds").mkdir()
    make_dataset(tmp_path / "ds", [_LATTICE])
    code = main(["test-model", str(tmp_path / "ds"), "--model", str(tmp_path / "nomodel"),
                 "--output", str(tmp_path / "out"), "--quiet"])
    assert code == 3
    assert "model folder not found" in capsys.readouterr().err


def test_shipped_model_loads_and_predicts_22_points():
    from footalign.model.bundle import shipped_model_dir

    if not (shipped_model_dir() / "weights.pt").exists():
        pytest.skip("no shipped model in this checkout")
    predictor = Predictor.from_folder()
    assert (shipped_model_dir() / "weights.pt").stat().st_size < 20 * 1024 * 1024
    foot = predictor.predict_foot(blob_image(_LATTICE), "left")
    assert foot.points.shape == (N_LANDMARKS, 3) and len(foot.status) == N_LANDMARKS
    assert set(foot.meta["timing"]) == {"stage1", "stage2"}
