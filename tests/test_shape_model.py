"""The landmark shape prior: similarity fits, the Procrustes mean, and the pipeline's use of it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from footalign.anatomy import LANDMARK_INDEX, LANDMARK_NAMES, N_LANDMARKS
from footalign.geometry.shape_model import (
    FOOT_SCALE_RANGE,
    ShapeModel,
    build_shape_model,
    expected_positions,
    fit_similarity,
)
from footalign.image import mirror_points_x
from footalign.pipeline.shape_check import HINGED, check_against_shape, distance_to_hinged


def _base_shape(seed: int = 0) -> np.ndarray:
    """A foot-sized random configuration: 22 points spread over ~250 x 90 x 150 mm."""
    rng = np.random.default_rng(seed)
    return rng.uniform([-45, -200, 0], [45, 50, 150], size=(N_LANDMARKS, 3))


def _random_similarity(rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
    rot = Rotation.random(random_state=rng.integers(1 << 31)).as_matrix()
    return rng.uniform(0.9, 1.1) * points @ rot.T + rng.uniform(-100, 100, size=3)


def test_fit_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(1)
    src = _base_shape()
    rot = Rotation.from_euler("xyz", [20, -35, 70], degrees=True).as_matrix()
    dst = 1.07 * src @ rot.T + np.array([10.0, -40.0, 3.0])
    fit = fit_similarity(src, dst)
    assert fit.scale == pytest.approx(1.07, abs=1e-9)
    np.testing.assert_allclose(fit.rotation, rot, atol=1e-9)
    np.testing.assert_allclose(fit.apply(src), dst, atol=1e-8)
    # Missing rows and zero weights are ignored; fewer than three usable pairs is an error.
    src_nan = src.copy()
    src_nan[3] = np.nan
    np.testing.assert_allclose(fit_similarity(src_nan, dst).apply(src[5]), dst[5], atol=1e-8)
    with pytest.raises(ValueError, match="at least 3"):
        fit_similarity(src, dst, weights=np.r_[np.ones(2), np.zeros(N_LANDMARKS - 2)])
    del rng


def test_shape_model_mean_matches_the_true_shape_and_spread_reflects_noise():
    rng = np.random.default_rng(2)
    base = _base_shape()
    sets = [_random_similarity(rng, base + rng.normal(0, 1.0, base.shape)) for _ in range(40)]
    model = build_shape_model(sets, ["right"] * len(sets))
    fit = fit_similarity(model.mean, base)
    assert np.max(np.linalg.norm(fit.apply(model.mean) - base, axis=1)) < 1.5
    assert fit.scale == pytest.approx(1.0, abs=0.05)  # the mean keeps the physical size
    assert np.all(model.spread_mm > 0.5) and np.all(model.spread_mm < 3.0)
    # Left feet are mirrored into the same frame: a mirrored copy adds no spread.
    mixed = build_shape_model(sets + [mirror_points_x(s) for s in sets], ["right"] * 40 + ["left"] * 40)
    assert np.max(np.abs(mixed.spread_mm - model.spread_mm)) < 0.5
    round_trip = ShapeModel.from_dict(model.to_dict())
    np.testing.assert_allclose(round_trip.mean, model.mean, atol=1e-3)


def test_expected_positions_ignore_one_gross_outlier():
    rng = np.random.default_rng(3)
    base = _base_shape()
    model = build_shape_model([_random_similarity(rng, base + rng.normal(0, 0.5, base.shape)) for _ in range(20)],
                              ["right"] * 20)
    foot = _random_similarity(rng, base)
    wrong = foot.copy()
    wrong[LANDMARK_INDEX["M1_HEAD"]] += np.array([0.0, 60.0, 0.0])  # placed 60 mm off
    expected = expected_positions(model, wrong, "right", trusted=np.ones(N_LANDMARKS, bool))
    assert np.linalg.norm(expected[LANDMARK_INDEX["M1_HEAD"]] - foot[LANDMARK_INDEX["M1_HEAD"]]) < 3.0
    # Too few trusted landmarks: nothing is expected.
    few = np.zeros(N_LANDMARKS, bool)
    few[:3] = True
    assert np.all(np.isnan(expected_positions(model, foot, "right", trusted=few)))


def test_fit_similarity_keeps_its_scale_in_the_given_range():
    source = _base_shape()
    target = 0.5 * source @ Rotation.random(random_state=1).as_matrix().T + 20.0
    free = fit_similarity(source, target)
    clamped = fit_similarity(source, target, scale_range=(0.8, 1.25))
    assert free.scale == pytest.approx(0.5) and clamped.scale == pytest.approx(0.8)
    np.testing.assert_allclose(clamped.rotation, free.rotation, atol=1e-9)  # same best rotation
    np.testing.assert_allclose(clamped.apply(source).mean(axis=0), target.mean(axis=0), atol=1e-9)


def test_expected_foot_is_never_smaller_than_a_small_adult_foot():
    # Trusted points that agree on a half-size foot (as a few confident points on the wrong bone
    # can, e.g. metatarsal heads found again on the midfoot of a scan that cuts the forefoot):
    # the expected foot stays at the smallest plausible size instead of shrinking with them.
    rng = np.random.default_rng(5)
    base = _base_shape()
    model = build_shape_model([_random_similarity(rng, base + rng.normal(0, 0.5, base.shape)) for _ in range(20)],
                              ["right"] * 20)
    tiny = 0.5 * (model.mean - model.mean.mean(axis=0))
    trusted = np.zeros(N_LANDMARKS, bool)
    trusted[:6] = True
    expected = expected_positions(model, tiny, "right", trusted=trusted)
    size = np.linalg.norm(expected - expected.mean(axis=0), axis=1).mean()
    mean_size = np.linalg.norm(model.mean - model.mean.mean(axis=0), axis=1).mean()
    assert size == pytest.approx(FOOT_SCALE_RANGE[0] * mean_size, rel=1e-6)


def test_check_against_shape_recognises_landmarks_cut_off_by_the_field_of_view():
    rng = np.random.default_rng(4)
    base = _base_shape()
    model = build_shape_model([_random_similarity(rng, base + rng.normal(0, 0.5, base.shape)) for _ in range(20)],
                              ["left"] * 20)
    foot = base.copy()
    cut_plane = np.sort(foot[:, 1])[4] + 1.0  # the five most anterior (lowest y) points are cut off
    cut = foot[:, 1] < cut_plane
    predicted = foot.copy()
    predicted[cut] = foot[~cut][:1] + rng.normal(0, 2.0, (cut.sum(), 3))  # the model put them on other bone
    odd = int(np.flatnonzero(~cut)[3])
    predicted[odd] += np.array([40.0, 0.0, 0.0])  # an implausible point inside the field of view

    def fov_of(points: np.ndarray) -> list[str]:
        return ["outside_fov" if np.isfinite(p).all() and p[1] < cut_plane else "ok" for p in points]

    status = ["low_confidence" if c else "ok" for c in cut]
    points, new_status, warnings, expected = check_against_shape(model, predicted, status, "left", fov_of=fov_of)
    for k in np.flatnonzero(cut):
        assert new_status[k] == "outside_fov" and np.all(np.isnan(points[k])), LANDMARK_NAMES[k]
    assert new_status[odd] == "ok" and np.all(np.isfinite(points[odd]))
    codes = {w.code: w.message for w in warnings}
    assert LANDMARK_NAMES[odd] in codes["implausible_position"]
    assert all(LANDMARK_NAMES[k] in codes["outside_fov_by_shape"] for k in np.flatnonzero(cut))
    # Landmarks that agree with the prior are left alone.
    untouched = ~cut
    untouched[odd] = False
    np.testing.assert_array_equal(points[untouched], predicted[untouched])
    assert np.all(np.isfinite(expected))



def test_a_point_the_prior_puts_outside_the_field_of_view_gets_a_tighter_tolerance():
    # Noisy training feet give spreads of ~9 mm: 2 spreads (expected outside the field of
    # view) and 4 spreads (expected inside) then both exceed the 15 mm floor.
    rng = np.random.default_rng(6)
    base = _base_shape()
    model = build_shape_model([_random_similarity(rng, base + rng.normal(0, 5.0, base.shape)) for _ in range(40)],
                              ["right"] * 40)
    inside, outside = 2, 5
    assert np.all(model.spread_mm[[inside, outside]] > 7.5)
    fitted = expected_positions(model, base, "right", trusted=np.ones(N_LANDMARKS, bool))

    def fov_of(points: np.ndarray) -> list[str]:
        return ["outside_fov" if np.allclose(p, fitted[outside], atol=12.0) else "ok" for p in points]

    for spreads, kept_outside in ((1.0, True), (3.0, False)):
        predicted = fitted.copy()
        for k in (inside, outside):  # both moved by the same multiple of their own spread
            predicted[k] = fitted[k] + [spreads * model.spread_mm[k], 0.0, 0.0]
        status = ["ok"] * N_LANDMARKS
        _, new_status, _, _ = check_against_shape(model, predicted, status, "right", fov_of=fov_of)
        assert new_status[inside] == "ok"
        assert (new_status[outside] == "ok") == kept_outside, spreads


def test_distance_to_hinged_counts_only_length_and_a_turn_beyond_the_allowed_angle():
    hinge, expected = np.array([1.0, 2.0, 3.0]), np.array([31.0, 2.0, 3.0])  # 30 mm along x
    for deg, length, want in ((0, 30, 0.0), (35, 30, 0.0), (35, 24, 6.0), (70, 30, 2 * 30 * np.sin(np.radians(15)))):
        a = np.radians(deg)
        point = hinge + length * np.array([np.cos(a), 0.0, np.sin(a)])
        assert distance_to_hinged(point, expected, hinge, 40.0) == pytest.approx(want, abs=1e-9), deg


def test_a_hallux_turned_by_hallux_valgus_is_not_taken_for_a_cut_off_head():
    # The prior expects P1_HEAD outside the field of view; the true head, turned 30 deg about
    # P1_BASE (a hallux valgus the similarity prior cannot follow), is kept; a point on P1_BASE's
    # own bone (too short a phalanx) is still recognised as the model's miss.
    rng = np.random.default_rng(8)
    base = _base_shape()
    model = build_shape_model([_random_similarity(rng, base + rng.normal(0, 0.5, base.shape)) for _ in range(20)],
                              ["right"] * 20)
    head, hinge = LANDMARK_INDEX["P1_HEAD"], LANDMARK_INDEX[HINGED["P1_HEAD"][0]]
    fitted = expected_positions(model, base, "right", trusted=np.ones(N_LANDMARKS, bool))

    def fov_of(points: np.ndarray) -> list[str]:
        return ["outside_fov" if np.allclose(p, fitted[head], atol=5.0) else "ok" for p in points]

    phalanx = fitted[head] - fitted[hinge]
    axis = np.cross(phalanx, [0.0, 0.0, 1.0])
    turned = fitted[hinge] + Rotation.from_rotvec(np.radians(30.0) * axis / np.linalg.norm(axis)).apply(phalanx)
    short = fitted[hinge] + 0.3 * phalanx
    assert np.linalg.norm(turned - fitted[head]) > 15.0  # far by plain distance: cut without the hinge
    for point, kept in ((turned, True), (short, False)):
        predicted = fitted.copy()
        predicted[head] = point
        _, status, _, _ = check_against_shape(model, predicted, ["ok"] * N_LANDMARKS, "right", fov_of=fov_of)
        assert (status[head] == "ok") == kept


def test_shipped_model_carries_an_anatomical_shape_prior():
    from footalign.model.bundle import load_bundle_shape_model, shipped_model_dir

    model = load_bundle_shape_model(shipped_model_dir())
    assert model is not None and model.n_feet >= 100
    length = np.linalg.norm(model.mean[LANDMARK_INDEX["CALC_LOW"]] - model.mean[LANDMARK_INDEX["M2_HEAD"]])
    assert 150.0 < length < 230.0  # heel to second metatarsal head of an adult foot
    assert np.all(model.spread_mm > 0.0) and np.all(model.spread_mm < 40.0)


def test_bundle_shape_prior_is_checksummed_and_kept_on_export(tmp_path):
    from footalign.errors import ModelError
    from footalign.model.bundle import export_bundle, load_bundle_shape_model, save_bundle
    from footalign.model.config import default_config, merge_config
    from footalign.model.networks import build_network

    config = merge_config(default_config(), {"stage1": {"channels": [4, 8]}, "stage2": {"channels": [4, 8]}})
    nets = [build_network(config[s], n_landmarks=N_LANDMARKS) for s in ("stage1", "stage2")]
    rng = np.random.default_rng(5)
    prior = build_shape_model([_random_similarity(rng, _base_shape()) for _ in range(3)], ["right"] * 3)
    bundle = save_bundle(tmp_path / "b", config, nets[0].state_dict(), nets[1].state_dict(),
                         shape_model=prior.to_dict())
    copy = export_bundle(bundle, tmp_path / "copy")
    np.testing.assert_allclose(load_bundle_shape_model(copy).mean, prior.mean, atol=1e-3)
    text = (bundle / "shape_model.json").read_text()
    (bundle / "shape_model.json").write_text(text.replace('"n_feet": 3', '"n_feet": 4'))
    with pytest.raises(ModelError, match="checksum mismatch"):
        load_bundle_shape_model(bundle)


def test_training_shape_prior_needs_two_complete_feet():
    from footalign.model.preprocess import FootCache
    from footalign.model.train import training_shape_prior

    rng = np.random.default_rng(6)

    def foot(points: np.ndarray) -> FootCache:
        return FootCache("k", "c", "right", points, np.zeros((1, 1, 1)), np.zeros(3), np.zeros((1, 1, 1, 1)))

    one = [foot(_base_shape())]
    assert training_shape_prior(one, source="x") is None
    two = [*one, foot(_random_similarity(rng, _base_shape()))]
    prior = training_shape_prior(two, source="x")
    assert prior is not None and ShapeModel.from_dict(prior).n_feet == 2
