"""Every example script runs on small settings and writes its figures (in-process, runpy)."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FIGURES = {
    "seed_field.py": ["seed_field.png"],
    "working_memory.py": ["working_memory.png", "working_memory_D.png"],
    "wandering.py": ["wandering_theory.png", "wandering_D_gamma.png"],
    "heterogeneous.py": ["heterogeneous.png"],
    "field2d.py": ["field2d.png", "field2d_travelling.png"],
    "bold.py": ["bold.png"],
    "collapse.py": ["collapse.png"],
}


def test_every_example_is_listed():
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(FIGURES)


@pytest.mark.parametrize("script", sorted(FIGURES))
def test_example_runs_small(script, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [script, "--small", "--outdir", str(tmp_path)])
    monkeypatch.syspath_prepend(str(EXAMPLES))
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    for name in FIGURES[script]:
        assert (tmp_path / name).stat().st_size > 1000, name
    assert capsys.readouterr().out.strip()
