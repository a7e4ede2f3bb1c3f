"""The command-line reference page shows real defaults and every command's examples.

The page is rendered by mkdocs-click through the hooks in ``mkdocs_cli_hooks.py``; the strict
docs build fails if a sentinel or an object address reaches it. These checks run without a
build: every option's displayed default is a plain value, and equals the library default it is
read from.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mkdocs_cli_hooks as hooks  # noqa: E402
from astrofield.cli import main  # noqa: E402


def test_displayed_defaults_are_values():
    shown = []
    for cmd in main.commands.values():
        for p in cmd.params:
            if isinstance(p, click.Option):
                v = hooks.display_default(p)
                assert not hooks.LEFTOVER.search(str(v)), (cmd.name, p.name, v)
                shown.append((cmd.name, p.name, v))
    run = {name: v for c, name, v in shown if c == "run"}
    import astrofield as af

    assert run["beta"] == af.Model().beta and run["D"] == af.Model().D
    assert run["config"] is None


def test_every_command_has_its_examples_on_the_page():
    text = hooks.examples_markdown()
    for name, cmd in main.commands.items():
        if cmd.epilog:
            assert f"### {name}\n" in text
            assert f"astrofield {name}" in text
    assert "\b" not in text
