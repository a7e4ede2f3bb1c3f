"""The notebooks under ``docs/notebooks/``: stored clean, built by the docs site, public API only.

The notebooks are executed by the strict documentation build (``mkdocs build --strict`` in
``.ci/run``; the mkdocs-jupyter plugin runs them with ``allow_errors: false``), so a notebook that
raises fails CI there and the rendered outputs always come from the current code. The fast tests
here check what that guarantee rests on, in well under a second: every notebook is a valid
notebook stored without outputs, every one is in the site's navigation, the plugin is configured to
execute and to fail on errors, and the code uses only the top-level API (``import astrofield as
af`` and names in ``astrofield.__all__``).

``test_notebook_runs`` (marked slow: ``pytest -m slow tests/test_notebooks.py``) executes each
notebook with nbclient in a kernel that imports this checkout's ``src``, for checking a notebook
without building the whole site.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from mkdocs.utils import yaml_load

import astrofield as af

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
PUBLIC_IMPORT = "import astrofield as af"
AF_NAME = re.compile(r"\baf\.(\w+)")


def _config() -> dict:
    with open(ROOT / "mkdocs.yml", encoding="utf-8") as f:
        return yaml_load(f)


def _nav_paths(nav: list) -> set[str]:
    paths: set[str] = set()
    for entry in nav:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            paths |= _nav_paths(value) if isinstance(value, list) else {value}
    return paths


def _code(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def test_there_are_notebooks():
    assert {"first_steps", "phase_diagrams", "working_memory"} <= set(IDS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_valid_and_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["language"] == "python"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    for cell in nb.cells:
        if cell.cell_type == "code":
            # outputs are made by the docs build; stored ones would go stale and bloat the history
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_uses_public_api_only(path):
    code = "\n".join(_code(path))
    assert PUBLIC_IMPORT in code
    imports = re.findall(r"^[ \t]*(?:from|import)[ \t]+astrofield\S*.*$", code, re.MULTILINE)
    assert imports == [PUBLIC_IMPORT], imports
    private = sorted(set(AF_NAME.findall(code)) - set(af.__all__))
    assert not private, f"{path.name} uses names outside astrofield.__all__: {private}"


def test_notebooks_are_in_the_nav_and_executed_by_the_build():
    config = _config()
    nav = _nav_paths(config["nav"])
    missing = [p.name for p in NOTEBOOKS if f"notebooks/{p.name}" not in nav]
    assert not missing, f"notebooks missing from the mkdocs nav: {missing}"
    plugins = [p for p in config["plugins"] if isinstance(p, dict) and "mkdocs-jupyter" in p]
    assert len(plugins) == 1
    options = plugins[0]["mkdocs-jupyter"]
    assert options["allow_errors"] is False  # a raising notebook fails the build
    assert options["cache"] is False  # ... every time, not only when the notebook changed
    assert options["execute"] is True or os.environ.get("ASTROFIELD_DOCS_EXECUTE")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs(path, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    src = str(ROOT / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [src, *filter(None, [os.environ.get("PYTHONPATH")])]))
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    print(f"{path.name}: {time.perf_counter() - start:.1f} s")
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, "the notebook draws no figure"
