"""Plain-JSON conversion shared by every writer of footalign's JSON files."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def to_jsonable(obj: Any, *, path_to_str: Callable[[Path], str] = str) -> Any:
    """NumPy scalars/arrays → Python values, NaN/inf → None, Paths → ``path_to_str``, recursively.

    JSON has no NaN; footalign writes ``null`` for a value that does not exist.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, path_to_str=path_to_str) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v, path_to_str=path_to_str) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), path_to_str=path_to_str)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return path_to_str(obj)
    return obj
