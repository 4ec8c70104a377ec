"""Measurements against landmark sets built with known geometry (ANATOMY.md definitions)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from footalign.anatomy import LANDMARK_NAMES, MEASUREMENT_NAMES
from footalign.geometry.frame import foot_frame, signed_planar_angle, tripod_floor
from footalign.geometry.measurements import measure_foot
from footalign.image import mirror_points_x
from footalign.landmarks import FloorPlane, FootLandmarks

# A normal right foot in foot-frame coordinates (anterior, medial, up) in mm; floor is z = 0 and
# CALC_LOW→M2_HEAD lies exactly along the anterior axis, so the frame is the identity.
BASE_LOCAL: dict[str, tuple[float, float, float]] = {
    "TIB_PROX": (45, 10, 160), "TIB_DIST": (45, 10, 120), "TAL_DOME": (45, 4, 85),
    "TAL_HEAD": (100, 10, 64), "TAL_HEAD_MED": (100, 23, 64), "TAL_HEAD_LAT": (98, -4, 62),
    "CALC_LOW": (10, 0, 12), "CALC_TUB": (0, -2, 50), "CALC_PFA": (35, 5, 62), "CALC_ANT": (75, -5, 50),
    "CALC_CC": (78, -18, 40), "NAV_LOW": (118, 22, 22), "NAV_MED": (112, 26, 55), "NAV_LAT": (110, 0, 54),
    "CUN1_LOW": (140, 22, 20), "M1_BASE": (160, 20, 40), "M1_HEAD": (222, 18, 18), "M2_BASE": (165, 5, 42),
    "M2_HEAD": (230, 0, 17), "M5_HEAD": (200, -45, 15), "P1_BASE": (238, 17, 16), "P1_HEAD": (268, 12, 16),
}


def unit(deg_elev: float = 0.0, deg_azim: float = 0.0) -> np.ndarray:
    """Unit vector in the foot frame: elevation in the x–z plane or azimuth (towards medial) in x–y."""
    assert deg_elev == 0.0 or deg_azim == 0.0, "one plane at a time keeps the expected angle exact"
    e, a = math.radians(deg_elev), math.radians(deg_azim)
    return np.array([math.cos(e) * math.cos(a), math.sin(a), math.sin(e)])


def to_lps(local: dict[str, np.ndarray], side: str) -> dict[str, np.ndarray]:
    """Foot frame → LPS: anterior = -y (LPS), up = +z, medial = +x (right foot) or -x (left foot)."""
    sign = 1.0 if side == "right" else -1.0
    return {k: np.array([sign * v[1], -v[0], v[2]], dtype=float) for k, v in local.items()}


def make_foot(overrides: dict[str, np.ndarray] | None = None, side: str = "right",
              with_floor: bool = True) -> FootLandmarks:
    local = {k: np.asarray(v, dtype=float) for k, v in BASE_LOCAL.items()}
    local.update({k: np.asarray(v, dtype=float) for k, v in (overrides or {}).items()})
    floor = FloorPlane(np.zeros(3), np.array([0.0, 0.0, 1.0]), "platform") if with_floor else None
    return FootLandmarks.from_dict(side, to_lps(local, side), floor=floor)


def value(foot: FootLandmarks, name: str) -> float:
    return measure_foot(foot).values[name]


@pytest.mark.parametrize("side", ["right", "left"])
def test_hindfoot_valgus_of_8_degrees(side: str) -> None:
    # Tibia vertical; calcaneal axis PFA→LOW rotated 8° towards lateral (-y) from straight down.
    pfa = np.array([35.0, 5.0, 62.0])
    down_lateral = np.array([0.0, -math.sin(math.radians(8)), -math.cos(math.radians(8))])
    foot = make_foot({"TIB_PROX": (40, 5, 160), "TIB_DIST": (40, 5, 120), "CALC_PFA": pfa,
                      "CALC_LOW": pfa + 50 * down_lateral, "M2_HEAD": (230, float((pfa + 50 * down_lateral)[1]), 17)},
                     side=side)
    assert value(foot, "hindfoot_angle") == pytest.approx(8.0, abs=0.01)


def test_hindfoot_varus_is_negative() -> None:
    pfa = np.array([35.0, 5.0, 62.0])
    down_medial = np.array([0.0, math.sin(math.radians(6)), -math.cos(math.radians(6))])
    low = pfa + 50 * down_medial
    foot = make_foot({"TIB_PROX": (40, 5, 160), "TIB_DIST": (40, 5, 120), "CALC_PFA": pfa,
                      "CALC_LOW": low, "M2_HEAD": (230, float(low[1]), 17)})
    assert value(foot, "hindfoot_angle") == pytest.approx(-6.0, abs=0.01)


@pytest.mark.parametrize("side", ["right", "left"])
def test_hallux_valgus_angle_of_p1_rotated_15_degrees_laterally(side: str) -> None:
    m1_base, m1_head = np.array([160.0, 20, 30]), np.array([220.0, 20, 30])
    p1_base = np.array([230.0, 20, 30])
    p1_head = p1_base + 30 * unit(deg_azim=-15) + np.array([0, 0, 5.0])  # height must not matter
    foot = make_foot({"M1_BASE": m1_base, "M1_HEAD": m1_head, "P1_BASE": p1_base, "P1_HEAD": p1_head}, side=side)
    assert value(foot, "hallux_valgus_angle") == pytest.approx(15.0, abs=0.01)


def test_intermetatarsal_angle_and_talus_m1_ap() -> None:
    m2_base, m2_head = np.array([165.0, 0, 30]), np.array([230.0, 0, 30])
    m1_base = np.array([160.0, 20, 30])
    m1_head = m1_base + 60 * unit(deg_azim=12)  # M1 deviated 12° medially from M2
    dome = np.array([45.0, 4, 60])
    foot = make_foot({"M2_BASE": m2_base, "M2_HEAD": m2_head, "M1_BASE": m1_base, "M1_HEAD": m1_head,
                      "TAL_DOME": dome, "TAL_HEAD": dome + 55 * unit(deg_azim=19)})
    assert value(foot, "intermetatarsal_1_2") == pytest.approx(12.0, abs=0.01)
    # Talus points 19° medial, M1 12° medial: forefoot abducted by 7° relative to the talus.
    assert value(foot, "talus_m1_ap") == pytest.approx(7.0, abs=0.01)


def test_sagittal_angles_pitch_declination_meary_lateral_talocalcaneal() -> None:
    low = np.array([10.0, 0, 12])
    dome = np.array([45.0, 0, 85])
    m1_base = np.array([160.0, 0, 45])
    foot = make_foot({
        "CALC_LOW": low, "CALC_CC": low + 70 * unit(deg_elev=25),
        "TAL_DOME": dome, "TAL_HEAD": dome + 55 * unit(deg_elev=-20),
        "M1_BASE": m1_base, "M1_HEAD": m1_base + 60 * unit(deg_elev=-28),
    })
    m = measure_foot(foot).values
    assert m["calcaneal_pitch"] == pytest.approx(25.0, abs=0.01)
    assert m["talar_declination"] == pytest.approx(20.0, abs=0.01)
    assert m["talocalcaneal_lateral"] == pytest.approx(45.0, abs=0.01)
    assert m["meary_angle"] == pytest.approx(8.0, abs=0.01)  # M1 more plantarflexed: apex dorsal (cavus)


def test_planus_meary_is_negative() -> None:
    dome, m1_base = np.array([45.0, 0, 85]), np.array([160.0, 0, 45])
    foot = make_foot({"TAL_DOME": dome, "TAL_HEAD": dome + 55 * unit(deg_elev=-32),
                      "M1_BASE": m1_base, "M1_HEAD": m1_base + 60 * unit(deg_elev=-22)})
    assert value(foot, "meary_angle") == pytest.approx(-10.0, abs=0.01)


def test_bohler_angle() -> None:
    pfa = np.array([35.0, 5, 62])
    # Tuberosity line 150° from the anterior line at PFA → Böhler = 30°, both declining from PFA.
    foot = make_foot({"CALC_PFA": pfa, "CALC_TUB": pfa + 40 * unit(deg_elev=-165),
                      "CALC_ANT": pfa + 40 * unit(deg_elev=-15)})
    assert value(foot, "bohler_angle") == pytest.approx(30.0, abs=0.01)


def test_talocalcaneal_ap_and_tnca() -> None:
    low, dome = np.array([10.0, 0, 12]), np.array([45.0, 0, 85])
    tal_med = np.array([100.0, 23, 64])
    nav_med = np.array([112.0, 26, 55])
    foot = make_foot({
        "CALC_LOW": low, "CALC_CC": low + 70 * unit(deg_azim=-14) + np.array([0, 0, 25.0]),
        "TAL_DOME": dome, "TAL_HEAD": dome + 55 * unit(deg_azim=10),
        "TAL_HEAD_MED": tal_med, "TAL_HEAD_LAT": tal_med + 27 * unit(deg_azim=-90),
        "NAV_MED": nav_med, "NAV_LAT": nav_med + 26 * unit(deg_azim=-100),  # rotated 10° laterally
    })
    m = measure_foot(foot).values
    assert m["talocalcaneal_ap"] == pytest.approx(24.0, abs=0.01)
    assert m["tnca"] == pytest.approx(10.0, abs=0.01)


def test_heights_and_foot_ankle_offset() -> None:
    foot = make_foot({"NAV_LOW": (118, 22, 18.5), "CUN1_LOW": (140, 22, 21.0), "CALC_LOW": (0, 0, 12),
                      "M1_HEAD": (200, 30, 12), "M5_HEAD": (200, -30, 12), "M2_HEAD": (210, 0, 12),
                      "TAL_DOME": (50, 10, 85)})
    m = measure_foot(foot).values
    assert m["navicular_height"] == pytest.approx(18.5, abs=1e-6)
    assert m["cuneiform_height"] == pytest.approx(21.0, abs=1e-6)
    assert m["foot_ankle_offset"] == pytest.approx(5.0, abs=1e-6)  # 10 mm medial of a 200 mm foot


def test_rigid_motion_leaves_every_measurement_unchanged() -> None:
    foot = make_foot()
    reference = measure_foot(foot).values
    rng = np.random.default_rng(7)
    for _ in range(5):
        rot = Rotation.from_rotvec(rng.normal(size=3) * 0.8)
        shift = rng.normal(size=3) * 100
        moved = FootLandmarks(foot.side, rot.apply(foot.points) + shift,
                              floor=FloorPlane(rot.apply(foot.floor.point) + shift, rot.apply(foot.floor.normal)))
        values = measure_foot(moved).values
        for name in MEASUREMENT_NAMES:
            assert values[name] == pytest.approx(reference[name], abs=1e-6), name


def test_mirrored_right_foot_labelled_left_gives_identical_measurements() -> None:
    right = make_foot()
    left = FootLandmarks("left", mirror_points_x(right.points),
                         floor=FloorPlane(mirror_points_x(right.floor.point), mirror_points_x(right.floor.normal)))
    a, b = measure_foot(right).values, measure_foot(left).values
    for name in MEASUREMENT_NAMES:
        assert b[name] == pytest.approx(a[name], abs=1e-9), name
    # Without mirroring, labelling the same right foot "left" flips every transverse/coronal sign.
    wrong = FootLandmarks("left", right.points, floor=right.floor)
    assert measure_foot(wrong).values["hallux_valgus_angle"] == pytest.approx(-a["hallux_valgus_angle"])


def test_missing_landmarks_only_remove_the_measurements_that_need_them() -> None:
    foot = make_foot({"P1_HEAD": (np.nan, np.nan, np.nan)})
    m = measure_foot(foot)
    assert math.isnan(m.values["hallux_valgus_angle"])
    assert "P1_HEAD" in m.reasons["hallux_valgus_angle"]
    others = [n for n in MEASUREMENT_NAMES if n != "hallux_valgus_angle"]
    assert all(np.isfinite(m.values[n]) for n in others)


def test_missing_m2_head_falls_back_and_says_so() -> None:
    foot = make_foot({"M2_HEAD": (np.nan, np.nan, np.nan)})
    m = measure_foot(foot)
    assert any("M2_BASE" in note for note in m.notes)
    assert np.isfinite(m.values["hindfoot_angle"])
    assert math.isnan(m.values["intermetatarsal_1_2"])


def test_missing_calc_low_gives_all_nan_with_reason() -> None:
    m = measure_foot(make_foot({"CALC_LOW": (np.nan, np.nan, np.nan)}))
    assert all(math.isnan(v) for v in m.values.values())
    assert all("CALC_LOW" in r for r in m.reasons.values())


def test_tripod_floor_is_used_without_platform_and_recorded() -> None:
    foot = make_foot(with_floor=False)
    plane = tripod_floor(foot)
    assert plane is not None and plane.normal[2] > 0.99  # tripod heads are nearly level here
    for name in ("CALC_LOW", "M1_HEAD", "M5_HEAD"):
        assert plane.height(foot[name]) == pytest.approx(0.0, abs=1e-9)
    assert measure_foot(foot).floor_source == "tripod"
    assert measure_foot(make_foot()).floor_source == "platform"


def test_frame_is_orthonormal_and_y_points_medial_on_both_sides() -> None:
    for side in ("right", "left"):
        frame = foot_frame(make_foot(side=side))
        basis = np.stack([frame.x, frame.y, frame.z])
        np.testing.assert_allclose(basis @ basis.T, np.eye(3), atol=1e-12)
        local_nav_med = frame.to_local(make_foot(side=side)["NAV_MED"])
        assert local_nav_med[1] > 0, side  # the medial navicular edge has +y


def test_signed_planar_angle_sign_and_projection() -> None:
    z = np.array([0.0, 0.0, 1.0])
    assert signed_planar_angle(np.array([1.0, 0, 0]), np.array([0.0, 1, 5]), z) == pytest.approx(90.0)
    assert signed_planar_angle(np.array([1.0, 0, 0]), np.array([0.0, -1, 0]), z) == pytest.approx(-90.0)


def test_base_foot_is_within_normal_ranges() -> None:
    flags = measure_foot(make_foot()).out_of_range()
    assert not any(flags.values()), [k for k, v in flags.items() if v]
    assert set(BASE_LOCAL) == set(LANDMARK_NAMES)


def test_coinciding_axis_landmarks_give_nan_with_reason_not_a_random_angle() -> None:
    # A field of view cut just above the plafond puts TIB_PROX on TIB_DIST: no tibial direction.
    foot = make_foot({"TIB_PROX": (45, 10, 120.0), "TIB_DIST": (45, 10, 120.0 + 1e-9)})
    m = measure_foot(foot)
    assert math.isnan(m.values["hindfoot_angle"])
    assert "TIB_PROX→TIB_DIST" in m.reasons["hindfoot_angle"]
    assert np.isfinite(m.values["bohler_angle"])


def test_plane_basis_is_a_right_handed_orthonormal_frame_for_any_axis():
    from footalign.geometry.planes import plane_basis

    rng = np.random.default_rng(0)
    for axis in [*rng.normal(size=(20, 3)), np.array([0.0, 0.0, -3.0]), np.array([1e-3, 1.0, 0.0])]:
        u, v = plane_basis(axis)
        n = axis / np.linalg.norm(axis)
        assert np.allclose([u @ u, v @ v], 1.0) and np.allclose([u @ n, v @ n, u @ v], 0.0, atol=1e-12)
        assert np.allclose(np.cross(u, v), n)
