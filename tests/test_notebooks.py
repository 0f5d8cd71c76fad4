"""Every tutorial notebook (jupytext percent .py) runs top to bottom in QUICK mode, as a student would run it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
NOTEBOOKS = sorted((HERE.parent / "notebooks").glob("[0-9][0-9]_*.py"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4, NOTEBOOKS


@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(path, tmp_path):
    env = {**os.environ, "GAPSE_QUICK": "1", "GAPSE_CACHE": str(tmp_path / "cache"), "MPLBACKEND": "Agg",
           "IPYTHONDIR": str(tmp_path / "ipython")}
    res = subprocess.run([sys.executable, str(HERE / "notebook_runner.py"), str(path)], env=env, cwd=tmp_path,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=840)
    assert res.returncode == 0, f"{path.name} failed:\n{res.stdout[-3000:]}\n{res.stderr[-6000:]}"
    kinds = set(json.loads(res.stdout.split("OUTPUT_KINDS ")[1].splitlines()[0]))
    # every notebook shows something: a figure or a player, not only text
    assert kinds & {"application/vnd.plotly.v1+json", "text/html", "image/png"}, kinds
