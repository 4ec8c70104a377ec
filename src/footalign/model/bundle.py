"""The model bundle: a folder with ``config.json``, ``weights.pt``, ``checksums.json``, ``model_card.md``.

``weights.pt`` holds the float16 state dicts of both stages (what training and export use);
``stage1.ts`` / ``stage2.ts`` hold the same networks as TorchScript, so prediction loads them
without importing MONAI (about 3 s of a cold ``footalign predict``); ``shape_model.json``
(optional) is the landmark shape prior of the training data (``geometry.shape_model``), which
the pipeline uses to recognise landmarks cut off by the field of view. ``checksums.json``
records the SHA-256 of every file, verified on every load so a corrupt or swapped file fails
with one clear line.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from footalign.anatomy import LANDMARK_NAMES
from footalign.errors import ModelError
from footalign.io.atomic import atomic_path, write_text_atomic
from footalign.model.config import CONFIG_SCHEMA, CONFIG_VERSION

if TYPE_CHECKING:
    from footalign.geometry.shape_model import ShapeModel

WEIGHTS_FILE = "weights.pt"
SCRIPT_FILES = {"stage1": "stage1.ts", "stage2": "stage2.ts"}
CONFIG_FILE = "config.json"
CHECKSUMS_FILE = "checksums.json"
SHAPE_FILE = "shape_model.json"
CARD_FILE = "model_card.md"


def shipped_model_dir() -> Path:
    """The folder of the model shipped inside the package."""
    return Path(__file__).resolve().parents[1] / "data" / "model"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_bundle(
    out_dir: str | Path,
    config: dict[str, Any],
    stage1: dict[str, torch.Tensor],
    stage2: dict[str, torch.Tensor],
    *,
    card: str | None = None,
    shape_model: dict[str, Any] | None = None,
) -> Path:
    """Write a model bundle (weights stored as float16), atomically file by file.

    ``shape_model`` is ``ShapeModel.to_dict()`` of the training landmarks (or ``None``: keep the
    bundle's existing one, if any).
    """
    out = Path(out_dir)
    half = {
        "stage1": {k: v.detach().to(torch.float16) if v.is_floating_point() else v for k, v in stage1.items()},
        "stage2": {k: v.detach().to(torch.float16) if v.is_floating_point() else v for k, v in stage2.items()},
    }
    # Built first: weights that do not fit the config fail before anything is written. The
    # TorchScript graphs carry exactly the stored (float16-rounded) weights.
    scripts = [torch.jit.script(net) for net in _networks_from_state(config, half, source=out)]
    buffer = io.BytesIO()
    torch.save(half, buffer)
    with atomic_path(out / WEIGHTS_FILE) as tmp:
        tmp.write_bytes(buffer.getvalue())
    write_text_atomic(out / CONFIG_FILE, json.dumps(config, indent=2) + "\n")
    for stage, script in zip(("stage1", "stage2"), scripts, strict=True):
        with atomic_path(out / SCRIPT_FILES[stage]) as tmp:
            script.save(str(tmp))
    if shape_model is not None:
        write_text_atomic(out / SHAPE_FILE, json.dumps(shape_model, indent=1) + "\n")
    names = (WEIGHTS_FILE, CONFIG_FILE, *SCRIPT_FILES.values())
    if (out / SHAPE_FILE).is_file():
        names += (SHAPE_FILE,)
    checksums = {name: sha256_of(out / name) for name in names}
    write_text_atomic(out / CHECKSUMS_FILE, json.dumps({"sha256": checksums}, indent=2) + "\n")
    if card is not None:
        write_text_atomic(out / CARD_FILE, card)
    for name in (*names, CHECKSUMS_FILE, CARD_FILE):
        if (out / name).exists():
            (out / name).chmod(0o644)  # temp files are created private; a bundle is shared data
    return out


def read_config(model_dir: Path) -> dict[str, Any]:
    """Read and validate ``config.json`` of a bundle (schema, version, landmark names)."""
    path = model_dir / CONFIG_FILE
    if not path.is_file():
        raise ModelError(f"{model_dir}: not a footalign model folder (no {CONFIG_FILE})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable model config ({exc})") from None
    if not isinstance(config, dict) or config.get("schema") != CONFIG_SCHEMA:
        raise ModelError(f"{path}: not a footalign model config (schema {CONFIG_SCHEMA!r} expected)")
    if config.get("version") != CONFIG_VERSION:
        raise ModelError(f"{path}: model config version {config.get('version')!r} is not supported "
                         f"(this footalign reads version {CONFIG_VERSION})")
    if list(config.get("landmarks", [])) != list(LANDMARK_NAMES):
        raise ModelError(f"{path}: the model's landmark list does not match this footalign's 22 landmarks")
    return config


def verify_checksums(model_dir: Path, names: tuple[str, ...] = (WEIGHTS_FILE, CONFIG_FILE)) -> None:
    """Compare the SHA-256 of the bundle files ``names`` with ``checksums.json``."""
    path = model_dir / CHECKSUMS_FILE
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))["sha256"]
    except FileNotFoundError:
        raise ModelError(f"{model_dir}: model folder has no {CHECKSUMS_FILE}") from None
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: unreadable checksum file ({exc})") from None
    for name in names:
        file = model_dir / name
        if not file.is_file():
            raise ModelError(f"{file}: model file is missing")
        if name not in recorded:
            raise ModelError(f"{path}: no checksum recorded for {name}")
        if sha256_of(file) != recorded[name]:
            raise ModelError(f"{file}: checksum mismatch (file corrupt or modified); reinstall the model")


def load_bundle(model_dir: str | Path) -> tuple[dict[str, Any], torch.nn.Module, torch.nn.Module]:
    """Load, verify and build both networks of a bundle (float32, eval mode).

    Raises
    ------
    ModelError
        The folder or a file is missing, a checksum differs, or the weights do not fit the config.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"{model_dir}: model folder not found")
    config = read_config(model_dir)
    verify_checksums(model_dir)
    try:
        weights = torch.load(model_dir / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{model_dir / WEIGHTS_FILE}: unreadable weights ({type(exc).__name__})") from None
    net1, net2 = _networks_from_state(config, weights, source=model_dir)
    return config, net1, net2


def load_inference_bundle(model_dir: str | Path) -> tuple[dict[str, Any], torch.nn.Module, torch.nn.Module]:
    """Like :func:`load_bundle`, but from the TorchScript graphs when the bundle has them.

    Same checks (config, checksums of every file used); the networks compute the same maps.
    """
    model_dir = Path(model_dir)
    scripts = tuple(SCRIPT_FILES.values())
    if not all((model_dir / name).is_file() for name in scripts):
        return load_bundle(model_dir)  # also the "folder not found" error
    config = read_config(model_dir)
    verify_checksums(model_dir, (WEIGHTS_FILE, CONFIG_FILE, *scripts))
    nets = []
    for stage in ("stage1", "stage2"):
        try:
            net = torch.jit.load(str(model_dir / SCRIPT_FILES[stage]), map_location="cpu")
        except Exception as exc:
            raise ModelError(f"{model_dir / SCRIPT_FILES[stage]}: unreadable network ({type(exc).__name__})") from None
        nets.append(net.eval())
    return config, nets[0], nets[1]


def load_bundle_shape_model(model_dir: str | Path) -> ShapeModel | None:
    """The bundle's landmark shape prior (checksum verified), or ``None`` if it has none."""
    from footalign.geometry.shape_model import ShapeModel

    model_dir = Path(model_dir)
    if not (model_dir / SHAPE_FILE).is_file():
        return None
    verify_checksums(model_dir, (SHAPE_FILE,))
    try:
        return ShapeModel.from_dict(json.loads((model_dir / SHAPE_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{model_dir / SHAPE_FILE}: unreadable shape model ({exc})") from None


def _networks_from_state(config: dict[str, Any], weights: Any, *,
                         source: Path) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Both MONAI networks of ``config`` with the state dicts of ``weights`` (float32, eval)."""
    from footalign.model.networks import build_network  # imports MONAI: only when needed

    nets = []
    for stage in ("stage1", "stage2"):
        net = build_network(config[stage], n_landmarks=len(config["landmarks"]))
        state = weights.get(stage) if isinstance(weights, dict) else None
        if state is None:
            raise ModelError(f"{source / WEIGHTS_FILE}: no {stage} weights")
        try:
            net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        except RuntimeError:
            raise ModelError(f"{source}: {stage} weights do not match the architecture in "
                             f"{CONFIG_FILE}") from None
        net.eval()
        nets.append(net)
    return nets[0], nets[1]


def export_bundle(model_dir: str | Path, dest: str | Path, *, card: str | None = None,
                  shape_model: dict[str, Any] | None = None) -> Path:
    """Copy a verified bundle (e.g. a training output) to ``dest``, e.g. the shipped-model folder.

    The shape prior is ``shape_model`` if given, else the source bundle's (if it has one).
    """
    config, net1, net2 = load_bundle(model_dir)
    if shape_model is None:
        prior = load_bundle_shape_model(model_dir)
        shape_model = None if prior is None else prior.to_dict()
    return save_bundle(dest, config, net1.state_dict(), net2.state_dict(), card=card, shape_model=shape_model)
