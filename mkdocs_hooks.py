"""mkdocs hooks: render the Sphinx cross-reference roles used in the docstrings.

The docstrings use roles such as ``:func:`solve``` and ``:class:`~astrofield.model.Model```.
mkdocstrings renders their targets as inline code with the role name left in front
(``:func:<code>solve</code>``); this hook drops the role and, for a leading ``~``, keeps only
the last component of the dotted name, as Sphinx does.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):<code>(~?)([^<]*)</code>")


def _replace(match: re.Match) -> str:
    short, target = match.group(1), match.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if short else target}</code>"


def render_roles(html: str) -> str:
    """Return ``html`` with Sphinx roles in front of inline code removed."""
    return _ROLE.sub(_replace, html)


def on_page_content(html: str, **kwargs) -> str:
    """mkdocs event: applied to every page's HTML body."""
    return render_roles(html)
