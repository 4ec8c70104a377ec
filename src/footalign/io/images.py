"""Read CT volumes (DICOM folder, NIfTI, NRRD, MHA) into :class:`~footalign.image.Image`; write NIfTI.

SimpleITK does the reading and keeps the physical LPS frame; pydicom reads the few header
fields used to pick the right series (modality, image type, laterality).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import SimpleITK as sitk

from footalign.errors import InputError
from footalign.image import Image
from footalign.io.atomic import atomic_path

VOLUME_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
_IMAGE_TYPES_TO_SKIP = ("LOCALIZER", "SCOUT")
_IMAGE_STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1."  # DICOM storage SOP classes (images, SR, ...)
# Header fields that identify a person; dropped from meta unless the user asks to keep them.
IDENTIFYING_FIELDS: tuple[str, ...] = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber",
                                       "StudyDate", "InstitutionName")


@dataclass(frozen=True)
class DicomSeries:
    """One DICOM series found in a folder."""

    uid: str
    files: tuple[str, ...]
    modality: str
    image_type: str
    description: str

    @property
    def is_localizer(self) -> bool:
        return any(t in self.image_type.upper() for t in _IMAGE_TYPES_TO_SKIP)


def is_volume_file(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` has a volume file ending footalign reads (NIfTI, NRRD, MHA/MHD)."""
    return str(path).lower().endswith(VOLUME_SUFFIXES)


def read_image(path: str | os.PathLike[str], *, series_uid: str | None = None) -> Image:
    """Read a CT volume into an :class:`Image` in the physical LPS frame (HU values).

    Parameters
    ----------
    path : a DICOM folder (or one DICOM file of a series), or a NIfTI / NRRD / MHA file.
    series_uid : in a DICOM folder holding several series, the SeriesInstanceUID to read;
        default: the CT series with the most slices (localizers/scouts skipped).

    Raises
    ------
    InputError
        One line naming the file and the problem (missing, not an image, truncated, 2D, ...).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    if p.is_dir():
        return _read_dicom_folder(p, series_uid)
    if is_volume_file(p):
        return _read_volume_file(p)
    if has_dicom_preamble(p):
        return _read_dicom_folder(p.parent, series_uid or _series_uid_of(p))
    raise InputError(f"{p}: not a DICOM folder or a NIfTI/NRRD/MHA volume")


def write_image(image: Image, path: str | os.PathLike[str], *, compress: bool = True) -> Path:
    """Write ``image`` (e.g. NIfTI ``.nii.gz``) atomically, keeping its physical space."""
    with atomic_path(path) as tmp:
        sitk.WriteImage(image.to_sitk(), str(tmp), compress)
    return Path(path)


def _check_volume(img: sitk.Image, source: Path) -> None:
    if img.GetDimension() != 3:
        raise InputError(f"{source}: a {img.GetDimension()}D image, footalign needs a 3D CT volume")
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{source}: a multi-component (e.g. RGB) image, not a CT volume")
    size = img.GetSize()
    if min(size) < 2:
        raise InputError(f"{source}: a single-slice image (size {size}), footalign needs a 3D CT volume")
    spacing = np.asarray(img.GetSpacing())
    if not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise InputError(f"{source}: invalid voxel spacing {tuple(spacing)} mm")


def _read_volume_file(path: Path) -> Image:
    try:
        img = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot read image ({_first_line(exc)})") from None
    if img.GetDimension() == 4 and img.GetSize()[3] == 1:
        img = img[:, :, :, 0]
    _check_volume(img, path)
    return Image.from_sitk(img, meta={"source": str(path), "format": "volume"})


def has_dicom_preamble(path: Path) -> bool:
    """True if ``path`` is a file with the DICOM Part 10 preamble (``DICM`` at byte 128)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _series_uid_of(path: Path) -> str | None:
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:
        raise InputError(f"{path}: unreadable DICOM file ({_first_line(exc)})") from None
    return str(ds.get("SeriesInstanceUID", "")) or None


def list_dicom_series(folder: Path) -> list[DicomSeries]:
    """All DICOM series in ``folder`` (not recursive), with modality and image type."""
    reader = sitk.ImageSeriesReader()
    series = []
    for uid in reader.GetGDCMSeriesIDs(str(folder)):
        files = tuple(reader.GetGDCMSeriesFileNames(str(folder), uid))
        if not files:
            continue
        try:
            ds = pydicom.dcmread(files[0], stop_before_pixels=True)
        except Exception:
            continue
        image_type = "\\".join(str(v) for v in ds.get("ImageType", []))
        series.append(DicomSeries(uid, files, str(ds.get("Modality", "")), image_type,
                                  str(ds.get("SeriesDescription", ""))))
    return series


def _read_dicom_folder(folder: Path, series_uid: str | None) -> Image:
    entries = [e for e in folder.iterdir() if e.is_file()]
    if not entries:
        raise InputError(f"{folder}: empty folder, no DICOM files")
    all_series = list_dicom_series(folder)
    _check_no_broken_dicom(entries, all_series, folder)
    if not all_series:
        raise InputError(f"{folder}: no readable DICOM series found")
    if series_uid is not None:
        chosen = [s for s in all_series if s.uid == series_uid]
        if not chosen:
            raise InputError(f"{folder}: no DICOM series with UID {series_uid} "
                             f"(found: {', '.join(s.uid for s in all_series)})")
        series = chosen[0]
    else:
        volumes = [s for s in all_series if s.modality in ("CT", "") and not s.is_localizer and len(s.files) >= 2]
        if not volumes:
            kinds = ", ".join(sorted({f"{s.modality or '?'} {s.image_type or ''}".strip() for s in all_series}))
            raise InputError(f"{folder}: no CT volume series (found only: {kinds})")
        series = max(volumes, key=lambda s: len(s.files))
    _check_complete_pixel_data(series, folder)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(list(series.files))
    try:
        img = reader.Execute()
    except RuntimeError as exc:
        raise InputError(f"{folder}: cannot read DICOM series {series.uid} ({_first_line(exc)})") from None
    _check_volume(img, folder)
    meta = {"source": str(folder), "format": "dicom", "series_uid": series.uid, "modality": series.modality,
            "series_description": series.description, "n_files": len(series.files)}
    meta.update(_dicom_header_meta(series.files[0]))
    return Image.from_sitk(img, meta=meta)


def _pixel_data_complete(ds: pydicom.Dataset) -> bool:
    """True if the dataset's pixel data is as long as its rows x columns x samples x bits say."""
    try:
        expected = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) * int(ds.BitsAllocated) // 8
        return len(ds.PixelData) >= expected
    except Exception:
        return False


def _check_no_broken_dicom(entries: list[Path], all_series: list[DicomSeries], folder: Path) -> None:
    """Refuse a folder holding DICOM images that no series could use because they are truncated.

    GDCM silently leaves such files out, which would give a volume with a missing slice.
    """
    in_series = {os.path.abspath(f) for s in all_series for f in s.files}
    for entry in entries:
        if os.path.abspath(entry) in in_series or not has_dicom_preamble(entry):
            continue
        try:
            ds = pydicom.dcmread(entry)
        except Exception as exc:
            raise InputError(f"{folder}: {entry.name} is a truncated or corrupt DICOM file "
                             f"({_first_line(exc)})") from None
        sop_class = str(ds.file_meta.get("MediaStorageSOPClassUID", "") or ds.get("SOPClassUID", ""))
        if sop_class.startswith(_IMAGE_STORAGE_PREFIX) and not _pixel_data_complete(ds):
            raise InputError(f"{folder}: {entry.name} is a truncated DICOM image (incomplete header or pixel data)")


def _check_complete_pixel_data(series: DicomSeries, folder: Path) -> None:
    """Refuse a series in which a slice file is shorter than its pixel data needs (truncated file)."""
    sizes = np.array([os.path.getsize(f) for f in series.files])
    for f, size in zip(series.files, sizes, strict=True):
        if size < 0.98 * np.median(sizes) and not _pixel_data_complete(_try_dcmread(f)):
            raise InputError(f"{folder}: {Path(f).name} is a truncated DICOM file (pixel data incomplete)")


def _try_dcmread(path: str) -> pydicom.Dataset:
    try:
        return pydicom.dcmread(path)
    except Exception:
        return pydicom.Dataset()


def _dicom_header_meta(file: str) -> dict[str, Any]:
    ds = pydicom.dcmread(file, stop_before_pixels=True)
    meta: dict[str, Any] = {}
    for key in ("Laterality", "ImageLaterality", "PatientPosition", "Manufacturer",
                "ManufacturerModelName", "BodyPartExamined", *IDENTIFYING_FIELDS):
        value = ds.get(key)
        if value not in (None, ""):
            meta[key] = str(value)
    return meta


def _first_line(exc: BaseException) -> str:
    """The most informative single line of an exception message (ITK messages are multi-line)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if ln.lower().startswith(("description:", "itk::error")):
            return ln.split(":", 1)[-1].strip()[:200]
    return (lines[-1] if lines else type(exc).__name__)[:200]
