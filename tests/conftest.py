"""Shared test helpers: small DICOM series and paths to the optional ../shared data."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

SHARED = Path(__file__).resolve().parents[2] / "shared"
REAL_WBCT = SHARED / "data" / "real_wbct"


def write_dicom_series(
    folder: Path,
    array_kji: np.ndarray,
    *,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
    modality: str = "CT",
    image_type: str = "ORIGINAL\\PRIMARY\\AXIAL",
    series_uid: str | None = None,
    laterality: str | None = None,
    prefix: str = "slice",
) -> str:
    """Write ``array_kji`` (slices, rows, columns; HU) as an axial DICOM series; return its UID."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid, frame_uid = generate_uid(), generate_uid()
    for k, plane in enumerate(np.asarray(array_kji)):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"{prefix}_{k:04d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.ImageType = modality, image_type.split("\\")
        ds.PatientName, ds.PatientID = "TEST^PATIENT", "ID12345"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.StudyDate = datetime.date.today().strftime("%Y%m%d")
        if laterality:
            ds.Laterality = laterality
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [origin[0], origin[1], origin[2] + k * spacing[2]]
        ds.PixelSpacing = [spacing[1], spacing[0]]
        ds.SliceThickness = spacing[2]
        ds.Rows, ds.Columns = plane.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = plane.astype(np.int16).tobytes()
        ds.save_as(path, enforce_file_format=True)
    return series_uid


@pytest.fixture
def dicom_writer() -> Callable[..., str]:
    """The :func:`write_dicom_series` helper as a fixture."""
    return write_dicom_series


@pytest.fixture(scope="session")
def real_wbct() -> Path:
    """The real cone-beam WBCT sample in ../shared (skips when it is absent)."""
    if not (REAL_WBCT / "wbct_left_0p8mm.nii.gz").is_file():
        pytest.skip("../shared/data/real_wbct is not available")
    return REAL_WBCT
