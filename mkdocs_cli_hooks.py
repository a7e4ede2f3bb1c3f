"""Documentation build hooks for the command-line reference page (``docs/cli.md``).

mkdocs-click renders each option's ``default`` attribute as it is. Two kinds of default would
then show as Python internals: click's "no default" sentinel (``Sentinel.UNSET``) and the
lazily resolved library defaults of :class:`astrofield.cli._common.api_default`. This module

* shows the value a user gets instead (the library default, ``inf`` as the CLI writes it; no
  default as ``None``, required options as ``_required``), by wrapping mkdocs-click's table row
  formatter for the duration of the build;
* appends each command's examples (its ``--help`` epilog) to the page, as ``bash`` blocks
  that the docs test does not run (``<!-- no-run -->``: some take minutes);
* fails the strict build if a sentinel or an object address still reaches the page.
"""

from __future__ import annotations

import logging
import re
import textwrap
from typing import Any

_log = logging.getLogger("mkdocs.plugins.astrofield_cli")
LEFTOVER = re.compile(r"Sentinel\.\w+|object at 0x[0-9a-f]+")
_PATCHED = False


def display_default(option: Any) -> Any:
    """The default of ``option`` as a user sees it (``None``: no default)."""
    from astrofield.cli._common import api_default

    value = option.default
    if isinstance(value, api_default):
        return value.shown()
    if "UNSET" in repr(value) or callable(value):
        return None
    return value


def _patch_mkdocs_click() -> None:
    global _PATCHED
    if _PATCHED:
        return
    from mkdocs_click import _docs

    original = _docs._format_table_option_row

    def row(option: Any) -> str:
        saved = option.default
        option.default = display_default(option)
        try:
            return original(option)
        finally:
            option.default = saved

    _docs._format_table_option_row = row
    _PATCHED = True


def examples_markdown() -> str:
    """A Markdown section with every command's ``--help`` examples."""
    from astrofield.cli import main

    lines = ["", "## Examples", "",
             "Each command's `--help` ends with these examples (not run by the test suite: "
             "some compute full phase maps).", ""]
    for name in sorted(main.commands):
        epilog = (main.commands[name].epilog or "").strip()
        if not epilog:
            continue
        kept = [line for line in epilog.replace("\b", "").splitlines()
                if line.strip() and not line.strip().lower().startswith("example")]
        lines += [f"### {name}", "", "<!-- no-run -->", "```bash",
                  textwrap.dedent("\n".join(kept)), "```", ""]
    return "\n".join(lines)


def on_config(config: object, **kwargs: object) -> object:
    """mkdocs event: show real defaults in mkdocs-click's option tables."""
    _patch_mkdocs_click()
    return config


def on_page_markdown(markdown: str, page: object, **kwargs: object) -> str:
    """mkdocs event: append the commands' examples to the command-line page."""
    if getattr(getattr(page, "file", None), "src_uri", "") == "cli.md":
        return markdown + examples_markdown()
    return markdown


def on_page_content(html: str, page: object, **kwargs: object) -> str:
    """mkdocs event: fail (warn, under ``--strict``) if a sentinel or address reached a page."""
    for match in LEFTOVER.finditer(html):
        src = getattr(getattr(page, "file", None), "src_uri", "?")
        _log.warning("%s: Python internals in the page: %r", src, match.group(0))
    return html
