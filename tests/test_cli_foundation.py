"""The ``measure`` / ``info`` commands and the CLI's error contract (one line, exit code, no partial file)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from footalign.anatomy import MEASUREMENT_NAMES
from footalign.cli import main
from footalign.cli.inspect import EXAMPLE_LANDMARKS
from footalign.geometry.measurements import measure_foot
from footalign.image import Image
from footalign.io.images import write_image
from footalign.io.landmarks import read_landmarks


def test_measure_bundled_example_writes_csv_matching_the_library(tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.csv"
    assert main(["measure", "--output", str(out)]) == 0
    table = pd.read_csv(out)
    expected = measure_foot(read_landmarks(EXAMPLE_LANDMARKS)[0]).values
    assert len(table) == 1 and table.loc[0, "side"] == "right"
    for name in MEASUREMENT_NAMES:
        column = next(c for c in table.columns if c.startswith(name + " ["))
        assert table.loc[0, column] == pytest.approx(expected[name], abs=1e-3)
    assert "Hallux valgus angle" in capsys.readouterr().out


def test_measure_json_output_and_tripod_option(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    assert main(["measure", str(EXAMPLE_LANDMARKS), "--tripod", "--quiet", "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["feet"][0]["floor_source"] == "tripod"
    assert set(doc["feet"][0]["values"]) == set(MEASUREMENT_NAMES)


def test_info_prints_geometry(tmp_path: Path, capsys) -> None:
    path = write_image(Image(np.full((8, 9, 10), -1000, np.int16), (0.5, 0.5, 0.8)), tmp_path / "a.nii.gz")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "8 x 9 x 10" in out and "0.500" in out


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda d: d / "missing.json", "no such landmarks file"),
        (lambda d: _write(d / "nan.json", _example_with_nan()), "NaN"),
        (lambda d: _write(d / "junk.json", "{"), "invalid JSON"),
        (lambda d: _write(d / "x.txt", "hello"), "unknown landmarks format"),
    ],
)
def test_measure_bad_input_is_one_line_nonzero_and_writes_nothing(tmp_path: Path, capsys, make_input, message) -> None:
    out = tmp_path / "out" / "m.csv"
    code = main(["measure", str(make_input(tmp_path)), "--output", str(out)])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_unknown_output_format_is_refused(tmp_path: Path, capsys) -> None:
    assert main(["measure", "--output", str(tmp_path / "m.xlsx"), "--quiet"]) != 0
    assert "unknown output format" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_console_script_exit_code_and_stderr(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-c", "from footalign.cli import run; run()", "info",
                          str(tmp_path / "nope.nii.gz")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().startswith("footalign: error:") and "Traceback" not in run.stderr
    version = subprocess.run([sys.executable, "-c", "from footalign.cli import run; run()", "--version"],
                             capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("footalign ")


def _example_with_nan() -> str:
    doc = json.loads(EXAMPLE_LANDMARKS.read_text())
    doc["feet"][0]["landmarks"][3]["position"] = [float("nan"), 1.0, 2.0]
    return json.dumps(doc)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
