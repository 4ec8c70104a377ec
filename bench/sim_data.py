"""Simulated inputs of the benchmarks, made once with ``footalign simulate`` and reused.

A data set is regenerated only when its recipe (the simulate arguments) or the simulator's
source changes; the recipe, the source hash and the wall time it took are stored next to it in
``bench_recipe.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from common import REPO


@dataclass(frozen=True)
class SimRecipe:
    """Arguments of one ``footalign simulate`` run."""

    n: int
    seed: int
    spacing: float
    bilateral_fraction: float
    workers: int = 1
    pathology_mix: str | None = None  # None: the simulator's default mix

    def args(self, out: Path) -> list[str]:
        mix = ["--pathology-mix", self.pathology_mix] if self.pathology_mix else []
        return ["simulate", "--n", str(self.n), "--out", str(out), "--seed", str(self.seed),
                "--spacing", f"{self.spacing:g}", "--bilateral-fraction", f"{self.bilateral_fraction:g}",
                *mix, "--workers", str(self.workers), "--quiet"]


def footalign_command() -> list[str]:
    """How to run the footalign CLI with the current interpreter."""
    return [sys.executable, "-m", "footalign.cli"] if _has_main() else [str(Path(sys.executable).with_name("footalign"))]


def _has_main() -> bool:
    return (REPO / "src" / "footalign" / "cli" / "__main__.py").is_file()


def simulate(recipe: SimRecipe, out: Path, *, nice: int = 0) -> dict:
    """Make (or reuse) the data set of ``recipe`` in ``out``; return its recipe record.

    The record holds ``seconds`` (wall time of the simulate run) and ``seconds_per_case``.
    """
    stamp = out / "bench_recipe.json"
    if stamp.is_file() and (out / "dataset.json").is_file():
        record = json.loads(stamp.read_text())
        # Same arguments from another simulator version make other scans: regenerate then.
        if record.get("recipe") == asdict(recipe) and record.get("simulator_source_sha256") == simulator_source_hash():
            return record
    if out.exists():
        shutil.rmtree(out)
    cmd = footalign_command() + recipe.args(out)
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, recipe.workers)))
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t
    if proc.returncode != 0 or not (out / "dataset.json").is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"footalign simulate failed ({' '.join(cmd[-12:])}): {' | '.join(tail)}")
    record = {"recipe": asdict(recipe), "seconds": round(seconds, 2),
              "seconds_per_case": round(seconds / recipe.n, 2),
              "command": "footalign " + " ".join(recipe.args(_relative(out))),
              "simulator_source_sha256": simulator_source_hash(), "nice": nice}
    stamp.write_text(json.dumps(record, indent=2) + "\n")
    return record


def simulator_source_hash() -> str:
    """SHA-256 (first 12 hex digits) of the simulator's source, to know which version made a data set.

    ``anatomy.py`` counts too: the ground truth reads its definitions' constants there."""
    digest = hashlib.sha256()
    package = REPO / "src" / "footalign"
    for f in [*sorted((package / "simulate").glob("*.py")), package / "anatomy.py"]:
        digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(REPO)
    except ValueError:
        return path


def dataset_cases(folder: Path) -> list[dict]:
    """The ``cases`` of a simulated data set's ``dataset.json``, with absolute paths added."""
    doc = json.loads((folder / "dataset.json").read_text())
    cases = []
    for case in doc["cases"]:
        case = dict(case)
        case["image_path"] = folder / case["image"]
        case["landmarks_path"] = folder / case["landmarks"]
        cases.append(case)
    return cases
