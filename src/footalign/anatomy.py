"""The landmark and measurement specification of ``docs/ANATOMY.md``, encoded once.

Every other module reads landmark names, order, bones, measurement planes, sign conventions
and normal ranges from here. If this module and ``docs/ANATOMY.md`` disagree, fix one of them
in the same change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Plane = Literal["sagittal", "coronal", "transverse", "none"]


@dataclass(frozen=True)
class LandmarkSpec:
    """One of the 22 landmarks: its position in the canonical order, name, bone, definition."""

    index: int
    name: str
    bone: str
    definition: str


@dataclass(frozen=True)
class MeasurementSpec:
    """One of the 14 measurements: plane, unit, sign convention, normal range, landmarks used."""

    name: str
    title: str
    plane: Plane
    unit: Literal["deg", "mm", "%"]
    definition: str
    sign: str
    normal_range: tuple[float, float]
    landmarks: tuple[str, ...]
    needs_floor: bool = False


LANDMARKS: tuple[LandmarkSpec, ...] = tuple(
    LandmarkSpec(i, name, bone, definition)
    for i, (name, bone, definition) in enumerate(
        [
            ("TIB_PROX", "tibia", "centroid of the tibial cross-section 60 mm above the plafond, "
             "or the most proximal complete section in the field of view"),
            ("TIB_DIST", "tibia", "centroid of the tibial cross-section 20 mm above the plafond"),
            ("TAL_DOME", "talus", "top of the talar trochlea at its mid-width (talar dome centre)"),
            ("TAL_HEAD", "talus", "centre of the sphere best fitting the talar head articular surface"),
            ("TAL_HEAD_MED", "talus", "medial edge of the talar head articular surface, "
             "in the transverse plane through TAL_HEAD"),
            ("TAL_HEAD_LAT", "talus", "lateral edge of the talar head articular surface, same plane"),
            ("CALC_LOW", "calcaneus", "lowest (plantar-most) point of the calcaneal tuberosity"),
            ("CALC_TUB", "calcaneus", "posterosuperior tip of the calcaneal tuberosity"),
            ("CALC_PFA", "calcaneus", "highest point of the posterior subtalar facet"),
            ("CALC_ANT", "calcaneus", "tip of the anterior process (anterosuperior)"),
            ("CALC_CC", "calcaneus", "anterior-inferior corner of the calcaneus at the "
             "calcaneocuboid joint"),
            ("NAV_LOW", "navicular", "lowest point of the navicular"),
            ("NAV_MED", "navicular", "medial edge of the navicular proximal (talar) articular surface"),
            ("NAV_LAT", "navicular", "lateral edge of the navicular proximal articular surface"),
            ("CUN1_LOW", "medial_cuneiform", "lowest point of the medial cuneiform"),
            ("M1_BASE", "metatarsal_1", "centre of the base (centroid of the proximal 10 % of the bone)"),
            ("M1_HEAD", "metatarsal_1", "centre of the sphere best fitting the head"),
            ("M2_BASE", "metatarsal_2", "centre of the base"),
            ("M2_HEAD", "metatarsal_2", "centre of the head"),
            ("M5_HEAD", "metatarsal_5", "centre of the head"),
            ("P1_BASE", "hallux_proximal_phalanx", "centre of the base"),
            ("P1_HEAD", "hallux_proximal_phalanx", "centre of the head"),
        ]
    )
)

LANDMARK_NAMES: tuple[str, ...] = tuple(spec.name for spec in LANDMARKS)
N_LANDMARKS = len(LANDMARKS)
LANDMARK_INDEX: dict[str, int] = {spec.name: spec.index for spec in LANDMARKS}

# TIB_DIST and TIB_PROX: centroids of the tibial sections this far above the plafond; a section
# counts as complete (TIB_PROX moves down until one is) when this disk around the axis is in view.
TIBIA_SECTION_HEIGHTS_MM: dict[str, float] = {"TIB_DIST": 20.0, "TIB_PROX": 60.0}
TIBIA_COMPLETE_SECTION_RADIUS_MM = 25.0
# The lowest height above the plafond each section may move down to when the field of view ends
# below its own height; lower than that the point is out of view (not marked). TIB_DIST does not
# move. TIB_PROX stops 10 mm above TIB_DIST: on a shorter axis a 1 mm sideways error tilts the
# tibial axis, and the hindfoot angle with it, by more than 5 deg.
TIBIA_SECTION_LOWEST_MM: dict[str, float] = {"TIB_DIST": 20.0, "TIB_PROX": 30.0}

# CALC_LOW is the lowest point of the tuberosity, made stable on its flat bottom: of the surface
# within this height of the lowest, the point nearest to that part's centre.
CALC_LOW_PLATEAU_MM = 1.0

# TAL_DOME is the top of the trochlea at its mid-width: on the band of the trochlea within this
# half width of the middle of its medial-lateral extent, the surface within TAL_DOME_PLATEAU_MM of
# the highest, and the point nearest to that part's centre (the dome is a ~20 mm radius arc from
# front to back, so its top 1 mm is ~12 mm long).
TAL_DOME_MID_WIDTH_MM = 1.5
TAL_DOME_PLATEAU_MM = 1.0

# Axes used by the measurements: (from, to) landmark names.
AXES: dict[str, tuple[str, str]] = {
    "tibial": ("TIB_PROX", "TIB_DIST"),
    "talar": ("TAL_DOME", "TAL_HEAD"),
    "calcaneal_hindfoot": ("CALC_PFA", "CALC_LOW"),
    "calcaneal_inclination": ("CALC_LOW", "CALC_CC"),
    "m1": ("M1_BASE", "M1_HEAD"),
    "m2": ("M2_BASE", "M2_HEAD"),
    "p1": ("P1_BASE", "P1_HEAD"),
}

MEASUREMENTS: tuple[MeasurementSpec, ...] = (
    MeasurementSpec("hindfoot_angle", "Hindfoot alignment angle", "coronal", "deg",
                    "tibial axis vs calcaneal hindfoot axis", "+ valgus, - varus", (0.0, 10.0),
                    ("TIB_PROX", "TIB_DIST", "CALC_PFA", "CALC_LOW")),
    MeasurementSpec("bohler_angle", "Böhler angle", "sagittal", "deg",
                    "180° minus the angle at CALC_PFA between CALC_TUB and CALC_ANT", "—",
                    (20.0, 40.0), ("CALC_TUB", "CALC_PFA", "CALC_ANT")),
    MeasurementSpec("calcaneal_pitch", "Calcaneal pitch", "sagittal", "deg",
                    "calcaneal inclination axis vs floor", "+ heel lower than CALC_CC",
                    (20.0, 30.0), ("CALC_LOW", "CALC_CC")),
    MeasurementSpec("meary_angle", "Meary angle (lateral talus-M1)", "sagittal", "deg",
                    "talar axis vs M1 axis", "+ apex dorsal (cavus), - apex plantar (planus)",
                    (-4.0, 4.0), ("TAL_DOME", "TAL_HEAD", "M1_BASE", "M1_HEAD")),
    MeasurementSpec("talar_declination", "Talar declination", "sagittal", "deg",
                    "talar axis vs floor", "+ head below dome", (15.0, 25.0),
                    ("TAL_DOME", "TAL_HEAD")),
    MeasurementSpec("talocalcaneal_lateral", "Talocalcaneal angle (lateral)", "sagittal", "deg",
                    "talar axis vs calcaneal inclination axis", "—", (25.0, 45.0),
                    ("TAL_DOME", "TAL_HEAD", "CALC_LOW", "CALC_CC")),
    MeasurementSpec("talus_m1_ap", "Talus-M1 angle (AP)", "transverse", "deg",
                    "talar axis vs M1 axis", "+ forefoot abducted", (0.0, 10.0),
                    ("TAL_DOME", "TAL_HEAD", "M1_BASE", "M1_HEAD")),
    MeasurementSpec("talocalcaneal_ap", "Talocalcaneal angle (AP, Kite)", "transverse", "deg",
                    "talar axis vs calcaneal inclination axis", "—", (15.0, 35.0),
                    ("TAL_DOME", "TAL_HEAD", "CALC_LOW", "CALC_CC")),
    MeasurementSpec("tnca", "Talonavicular coverage angle", "transverse", "deg",
                    "line TAL_HEAD_MED→TAL_HEAD_LAT vs line NAV_MED→NAV_LAT",
                    "+ navicular rotated laterally", (-7.0, 7.0),
                    ("TAL_HEAD_MED", "TAL_HEAD_LAT", "NAV_MED", "NAV_LAT")),
    MeasurementSpec("hallux_valgus_angle", "Hallux valgus angle", "transverse", "deg",
                    "M1 axis vs P1 axis", "+ lateral deviation of P1", (0.0, 15.0),
                    ("M1_BASE", "M1_HEAD", "P1_BASE", "P1_HEAD")),
    MeasurementSpec("intermetatarsal_1_2", "Intermetatarsal angle 1-2", "transverse", "deg",
                    "M1 axis vs M2 axis", "+ M1 deviated medially", (0.0, 9.0),
                    ("M1_BASE", "M1_HEAD", "M2_BASE", "M2_HEAD")),
    MeasurementSpec("navicular_height", "Navicular height", "none", "mm",
                    "height of NAV_LOW above the floor", "—", (15.0, 25.0), ("NAV_LOW",),
                    needs_floor=True),
    MeasurementSpec("cuneiform_height", "Medial cuneiform height", "none", "mm",
                    "height of CUN1_LOW above the floor", "—", (15.0, 25.0), ("CUN1_LOW",),
                    needs_floor=True),
    MeasurementSpec("foot_ankle_offset", "Foot-ankle offset", "transverse", "%",
                    "signed distance of TAL_DOME from the line CALC_LOW→mid(M1_HEAD, M5_HEAD), "
                    "along y, as % of foot length", "+ medial (valgus)", (-1.0, 5.0),
                    ("TAL_DOME", "CALC_LOW", "M1_HEAD", "M5_HEAD")),
)

MEASUREMENT_NAMES: tuple[str, ...] = tuple(spec.name for spec in MEASUREMENTS)
MEASUREMENT_BY_NAME: dict[str, MeasurementSpec] = {spec.name: spec for spec in MEASUREMENTS}

# Landmarks that define the foot frame (ANATOMY.md, "Foot frame"): long axis and tripod floor.
FRAME_LONG_AXIS: tuple[str, str] = ("CALC_LOW", "M2_HEAD")
FRAME_TRIPOD: tuple[str, str, str] = ("CALC_LOW", "M1_HEAD", "M5_HEAD")

# Landmarks that lie on the bone surface (extreme or margin points); the others are centres.
SURFACE_LANDMARKS: frozenset[str] = frozenset(
    {"TAL_DOME", "TAL_HEAD_MED", "TAL_HEAD_LAT", "CALC_LOW", "CALC_TUB", "CALC_PFA", "CALC_ANT",
     "CALC_CC", "NAV_LOW", "NAV_MED", "NAV_LAT", "CUN1_LOW"}
)

# Published figures to beat (74 patients, 5-fold CV): per-landmark MAE range and angle MAE.
PUBLISHED_LANDMARK_MAE_MM: dict[str, float] = {"best (P1_HEAD)": 1.00, "worst (CALC_LOW)": 1.88}
PUBLISHED_ANGLE_MAE_DEG: dict[str, float] = {"hindfoot_angle": 0.91, "bohler_angle": 2.90}
SDR_THRESHOLDS_MM: tuple[float, ...] = (2.0, 2.5, 3.0, 4.0)

Side = Literal["left", "right"]
SIDES: tuple[str, str] = ("left", "right")


def landmark_index(name: str) -> int:
    """Return the canonical index of landmark ``name`` (raises ``KeyError`` with the valid names)."""
    try:
        return LANDMARK_INDEX[name]
    except KeyError:
        raise KeyError(f"unknown landmark {name!r}; expected one of {', '.join(LANDMARK_NAMES)}") from None
