"""Every code snippet in the documentation runs as written.

Rules (they apply to every page under ``docs/`` and to ``README.md``):

* every fenced ```` ```python ```` block is executed; the blocks of one page run in order in one
  namespace (so a page may build on its earlier blocks), in a fresh temporary directory, with the
  non-interactive matplotlib backend;
* every fenced ```` ```bash ```` block whose commands are all ``astrofield ...`` invocations is
  executed line by line (``astrofield`` is run as ``astrofield.cli.main`` with this interpreter
  and this checkout's ``src`` first on the path) and each command must exit with status 0;
* a block directly preceded by the HTML comment ``<!-- no-run -->`` is not executed: use it for
  expensive commands (full phase diagrams, figures) and for set-up commands (``pip install``);
* a ```` ```bash ```` block without that marker that contains any other command fails this test,
  so nothing is skipped silently;
* blocks with any other (or no) language tag are not code to run (e.g. equations, synopses).

Each block should take a few seconds at most; the page's total time is printed on failure.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
NO_RUN = "<!-- no-run -->"
_CLI = "import sys; from astrofield.cli import main; sys.argv[0] = 'astrofield'; main()"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


@dataclass
class Block:
    """One fenced code block of a page."""

    lang: str
    code: str
    line: int
    no_run: bool


def extract_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order, with their no-run markers."""
    blocks = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip().splitlines()
        no_run = bool(before) and before[-1].strip() == NO_RUN
        line = text.count("\n", 0, m.start()) + 1
        blocks.append(Block(m.group(1).lower(), m.group(2), line, no_run))
    return blocks


def bash_commands(code: str) -> list[str]:
    """The commands of a bash block (continuation lines joined, comments and blanks dropped)."""
    joined = re.sub(r"\s*\\\n\s*", " ", code)
    commands = []
    for raw in joined.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line:
            commands.append(line)
    return commands


def _page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_extraction_rules():
    text = ("intro\n```python\nx = 1\n```\n\n<!-- no-run -->\n```bash\nastrofield figure 5\n```\n"
            "```\nplain\n```\n```bash\nastrofield bump --json  # cheap\n# comment\n```\n")
    blocks = extract_blocks(text)
    assert [(b.lang, b.no_run) for b in blocks] == [("python", False), ("bash", True), ("", False),
                                                      ("bash", False)]
    assert blocks[0].code == "x = 1\n" and blocks[0].line == 2
    assert bash_commands(blocks[3].code) == ["astrofield bump --json"]
    assert bash_commands("astrofield phase --vary D=1 \\\n    --T 5\n") == [
        "astrofield phase --vary D=1 --T 5"]


def test_every_page_is_found_and_has_code():
    names = {_page_id(p) for p in PAGES}
    assert {"README.md", "docs/getting_started.md", "docs/model.md"} <= names
    n_python = sum(b.lang == "python" for p in PAGES for b in extract_blocks(p.read_text()))
    assert n_python >= 10


def _run_python(block: Block, namespace: dict, page: str) -> None:
    code = compile(block.code, f"{page}:{block.line}", "exec")
    exec(code, namespace)  # noqa: S102 - running the documentation is the point of this test


def _run_bash(block: Block, page: str, cwd: Path) -> None:
    commands = bash_commands(block.code)
    others = [c for c in commands if shlex.split(c)[0] != "astrofield"]
    assert not others, (f"{page}:{block.line}: bash block has non-astrofield commands {others}; "
                        f"mark it with {NO_RUN} if it must not run")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
        [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    for cmd in commands:
        argv = [sys.executable, "-c", _CLI, *shlex.split(cmd)[1:]]
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, (f"{page}:{block.line}: `{cmd}` exited {proc.returncode}\n"
                                      f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_page_snippets_run(page, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib").use("Agg")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # tqdm reads its TQDM_* variables once, when it is first imported, and keeps them for the
    # process: setting TQDM_DISABLE here would silence every later test's bars if this test
    # happened to import tqdm first. Silence the snippets' bars for this test only instead.
    from functools import partialmethod

    from tqdm.auto import tqdm as auto_tqdm
    from tqdm.std import tqdm as std_tqdm

    for cls in {auto_tqdm, std_tqdm}:
        monkeypatch.setattr(cls, "__init__", partialmethod(cls.__init__, disable=True))
    monkeypatch.chdir(tmp_path)
    name = _page_id(page)
    blocks = [b for b in extract_blocks(page.read_text()) if not b.no_run]
    runnable = [b for b in blocks if b.lang in ("python", "bash")]
    if not runnable:
        return  # a page without code (or with only no-run blocks) has nothing to check
    namespace = {"__name__": "__docs__"}
    start = time.perf_counter()
    for block in runnable:
        if block.lang == "python":
            _run_python(block, namespace, name)
        else:
            _run_bash(block, name, tmp_path)
    print(f"{name}: {len(runnable)} blocks in {time.perf_counter() - start:.1f} s")


def test_every_figure_under_docs_is_in_the_gallery_with_a_command():
    gallery = (ROOT / "docs" / "gallery.md").read_text()
    rows = [line for line in gallery.splitlines() if line.startswith("| `")]
    for png in sorted((ROOT / "docs").rglob("*.png")):
        rel = str(png.relative_to(ROOT / "docs"))
        row = [r for r in rows if f"`{rel}`" in r]
        assert row, f"{rel} is not listed in docs/gallery.md"
        assert "astrofield " in row[0] or "python " in row[0], f"{rel}: no command in {row[0]}"
        assert f"]({rel})" in gallery, f"{rel} is not shown in docs/gallery.md"


def test_readme_relative_links_exist():
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert local, "README has no relative links"
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"

