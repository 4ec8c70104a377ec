"""The 14 alignment measurements of ANATOMY.md, computed in the foot frame.

All angles are computed from foot-frame coordinates (x anterior, y medial, z up; left feet
already mirrored by the frame), so a signed angle means the same thing on both sides.
Elevation in the sagittal plane is ``atan2(z, x)``, azimuth in the transverse plane is
``atan2(y, x)`` (towards medial positive), and coronal deviation is ``atan2(y, -z)``
(deviation of a downward axis towards medial).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from footalign.anatomy import AXES, MEASUREMENT_NAMES, MEASUREMENTS
from footalign.geometry.frame import FootFrame, foot_frame
from footalign.landmarks import FloorPlane, FootLandmarks

Local = dict[str, np.ndarray]

# An axis whose two landmarks nearly coincide has no direction (e.g. TIB_PROX falls back to the
# same section as TIB_DIST when the field of view cuts the leg just above the plafond).
MIN_AXIS_LENGTH_MM = 5.0


@dataclass
class Measurements:
    """The 14 measurements of one foot; NaN with a reason where they cannot be computed."""

    side: str
    values: dict[str, float]
    reasons: dict[str, str] = field(default_factory=dict)
    floor_source: str = ""
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "side": self.side,
            "values": {k: (None if not np.isfinite(v) else round(float(v), 4)) for k, v in self.values.items()},
            "missing": dict(self.reasons),
            "floor_source": self.floor_source,
            "notes": list(self.notes),
        }

    def out_of_range(self) -> dict[str, bool]:
        """Which measurements fall outside their ANATOMY.md normal range (NaN → False)."""
        flags = {}
        for spec in MEASUREMENTS:
            v = self.values[spec.name]
            lo, hi = spec.normal_range
            flags[spec.name] = bool(np.isfinite(v) and not lo <= v <= hi)
        return flags


def _wrap(deg: float) -> float:
    """Wrap an angle difference into (-180, 180]."""
    return float(-((-deg + 180.0) % 360.0 - 180.0))


def _axis(local: Local, name: str) -> np.ndarray:
    start, end = AXES[name]
    return local[end] - local[start]


def _degenerate_axes(names: tuple[str, ...], local: Local) -> list[str]:
    """Axes among ``AXES`` fully used by ``names`` whose landmarks are < MIN_AXIS_LENGTH_MM apart."""
    used = set(names)
    return [f"{a}→{b}" for a, b in AXES.values()
            if a in used and b in used and np.linalg.norm(local[b] - local[a]) < MIN_AXIS_LENGTH_MM]


def _elevation(v: np.ndarray) -> float:
    """Sagittal angle of ``v`` above the floor (x–z plane), degrees."""
    return float(np.degrees(np.arctan2(v[2], v[0])))


def _azimuth(v: np.ndarray) -> float:
    """Transverse angle of ``v`` from the long axis towards medial (x–y plane), degrees."""
    return float(np.degrees(np.arctan2(v[1], v[0])))


def _coronal_deviation(v: np.ndarray) -> float:
    """Coronal angle of a downward axis ``v`` from vertical, towards medial positive (y–z plane)."""
    return float(np.degrees(np.arctan2(v[1], -v[2])))


def hindfoot_angle(local: Local) -> float:
    """Tibial axis vs calcaneal hindfoot axis in the coronal plane; + valgus (heel lateral)."""
    return _wrap(_coronal_deviation(_axis(local, "tibial")) - _coronal_deviation(_axis(local, "calcaneal_hindfoot")))


def bohler_angle(local: Local) -> float:
    """180° minus the sagittal angle at CALC_PFA between CALC_TUB and CALC_ANT."""
    to_tub = local["CALC_TUB"] - local["CALC_PFA"]
    to_ant = local["CALC_ANT"] - local["CALC_PFA"]
    return 180.0 - abs(_wrap(_elevation(to_tub) - _elevation(to_ant)))


def calcaneal_pitch(local: Local) -> float:
    """Calcaneal inclination axis vs floor in the sagittal plane; + heel lower than CALC_CC."""
    return _elevation(_axis(local, "calcaneal_inclination"))


def meary_angle(local: Local) -> float:
    """Talar axis vs M1 axis in the sagittal plane; + apex dorsal (cavus), − apex plantar (planus)."""
    return _wrap(_elevation(_axis(local, "talar")) - _elevation(_axis(local, "m1")))


def talar_declination(local: Local) -> float:
    """Talar axis vs floor in the sagittal plane; + head below dome."""
    return -_elevation(_axis(local, "talar"))


def talocalcaneal_lateral(local: Local) -> float:
    """Talar axis vs calcaneal inclination axis in the sagittal plane (pitch + declination)."""
    return _wrap(_elevation(_axis(local, "calcaneal_inclination")) - _elevation(_axis(local, "talar")))


def talus_m1_ap(local: Local) -> float:
    """Talar axis vs M1 axis in the transverse plane; + forefoot abducted (M1 lateral to talus)."""
    return _wrap(_azimuth(_axis(local, "talar")) - _azimuth(_axis(local, "m1")))


def talocalcaneal_ap(local: Local) -> float:
    """Talar axis vs calcaneal inclination axis in the transverse plane (Kite angle)."""
    return _wrap(_azimuth(_axis(local, "talar")) - _azimuth(_axis(local, "calcaneal_inclination")))


def tnca(local: Local) -> float:
    """Talonavicular coverage: TAL_HEAD_MED→LAT vs NAV_MED→LAT, transverse; + navicular rotated laterally."""
    talar_line = local["TAL_HEAD_LAT"] - local["TAL_HEAD_MED"]
    nav_line = local["NAV_LAT"] - local["NAV_MED"]
    return _wrap(_azimuth(talar_line) - _azimuth(nav_line))


def hallux_valgus_angle(local: Local) -> float:
    """M1 axis vs P1 axis in the transverse plane; + lateral deviation of P1."""
    return _wrap(_azimuth(_axis(local, "m1")) - _azimuth(_axis(local, "p1")))


def intermetatarsal_1_2(local: Local) -> float:
    """M1 axis vs M2 axis in the transverse plane; + M1 deviated medially."""
    return _wrap(_azimuth(_axis(local, "m1")) - _azimuth(_axis(local, "m2")))


def navicular_height(local: Local) -> float:
    """Height of NAV_LOW above the floor (mm)."""
    return float(local["NAV_LOW"][2])


def cuneiform_height(local: Local) -> float:
    """Height of CUN1_LOW above the floor (mm)."""
    return float(local["CUN1_LOW"][2])


def foot_ankle_offset(local: Local) -> float:
    """Signed distance of TAL_DOME from CALC_LOW→mid(M1_HEAD, M5_HEAD) along y, % of foot length.

    The distance is measured in the transverse plane (perpendicular to the projected line),
    + medial; foot length is the 3D distance CALC_LOW→midpoint.
    """
    start = local["CALC_LOW"]
    mid = (local["M1_HEAD"] + local["M5_HEAD"]) / 2.0
    line = (mid - start)[:2]
    rel = (local["TAL_DOME"] - start)[:2]
    signed = (line[0] * rel[1] - line[1] * rel[0]) / np.linalg.norm(line)
    return float(100.0 * signed / np.linalg.norm(mid - start))


_FUNCTIONS: dict[str, Callable[[Local], float]] = {
    "hindfoot_angle": hindfoot_angle,
    "bohler_angle": bohler_angle,
    "calcaneal_pitch": calcaneal_pitch,
    "meary_angle": meary_angle,
    "talar_declination": talar_declination,
    "talocalcaneal_lateral": talocalcaneal_lateral,
    "talus_m1_ap": talus_m1_ap,
    "talocalcaneal_ap": talocalcaneal_ap,
    "tnca": tnca,
    "hallux_valgus_angle": hallux_valgus_angle,
    "intermetatarsal_1_2": intermetatarsal_1_2,
    "navicular_height": navicular_height,
    "cuneiform_height": cuneiform_height,
    "foot_ankle_offset": foot_ankle_offset,
}
assert tuple(_FUNCTIONS) == MEASUREMENT_NAMES, "measurement functions must follow anatomy.MEASUREMENTS"


def measure_foot(foot: FootLandmarks, floor: FloorPlane | None = None) -> Measurements:
    """Compute the 14 measurements of ANATOMY.md for one foot.

    Parameters
    ----------
    foot : the foot's 22 landmarks (LPS mm, NaN = missing) and side.
    floor : the floor plane; default ``foot.floor``, else the tripod plane of ANATOMY.md.

    Returns
    -------
    Measurements
        ``values[name]`` in degrees, mm or % (see ``anatomy.MEASUREMENTS``); NaN with
        ``reasons[name]`` when a landmark it needs is missing or the frame cannot be built.
    """
    try:
        frame: FootFrame = foot_frame(foot, floor)
    except ValueError as exc:
        reason = str(exc)
        return Measurements(foot.side, dict.fromkeys(MEASUREMENT_NAMES, float("nan")),
                            dict.fromkeys(MEASUREMENT_NAMES, reason))
    local = {name: frame.to_local(p) for name, p in foot.as_dict().items()}
    values: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for spec in MEASUREMENTS:
        missing = [n for n in spec.landmarks if not foot.has(n)]
        if missing:
            values[spec.name] = float("nan")
            reasons[spec.name] = "missing landmark(s): " + ", ".join(missing)
            continue
        degenerate = _degenerate_axes(spec.landmarks, local)
        if degenerate:
            values[spec.name] = float("nan")
            reasons[spec.name] = f"undefined axis (points closer than {MIN_AXIS_LENGTH_MM:g} mm): " + ", ".join(degenerate)
            continue
        values[spec.name] = _FUNCTIONS[spec.name](local)
    return Measurements(foot.side, values, reasons, frame.floor_source, frame.notes)
