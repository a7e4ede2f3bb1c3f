"""Documentation build hooks: Sphinx roles become checked links, ``.. math::`` becomes math.

The docstrings are numpydoc with Sphinx markup, which mkdocstrings does not interpret: a role such
as ``:func:`solve``` would render as literal text and a ``.. math::`` directive as raw LaTeX. This
module rewrites both before rendering, and reports what it cannot resolve so that
``mkdocs build --strict`` fails on it:

* **Roles** (``:func:``, ``:class:``, ``:meth:``, ``:mod:``, ``:data:``, ``:attr:``, ``:exc:``,
  ``:obj:``). The target is resolved by importing it (:func:`resolve`), relative to the object
  whose docstring holds it, as Sphinx does: ``Simulator.step`` or ``solve`` is looked up in the
  enclosing class, then the module, then each parent package, then as an absolute path; a leading
  ``~`` shows only the last component; a leading ``.`` (``~.numba_loop``) is the same lookup. A
  public ``astrofield`` object becomes an autorefs link ``[`title`][canonical.path]``, which the
  strict build checks (the object must be rendered in the API reference); a private or external
  object (``_relax_pair``, ``numpy.ndarray``) becomes inline code, an optional link at most. A
  target that does not import is logged as a warning, which fails the strict build.
* **Math**: a ``.. math::`` directive (its argument and indented body; equations separated by blank
  lines) becomes ``$$ ... $$`` blocks and ``:math:`x``` becomes ``$x$``, both rendered by
  ``pymdownx.arithmatex`` (generic mode) and MathJax (``docs/javascripts/mathjax.js``, MathJax
  itself loaded by the reader's browser, nothing downloaded at build time).

The docstrings are rewritten by the griffe extension :class:`SphinxMarkup` (loaded through the
``extensions`` option of the mkdocstrings python handler in ``mkdocs.yml``); the Markdown pages
by the mkdocs event :func:`on_page_markdown`. :func:`on_page_content` fails the build if a role
or a ``.. math::`` directive still reaches a page. ``tests/test_docs_reference.py`` applies the
same resolution to every docstring of the package, so a broken reference also fails the tests.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import importlib.util
import inspect
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

#: This checkout's sources: references resolve against them, not another installed copy.
_SRC = str(Path(__file__).resolve().parent / "src")
#: The documentation pages.
DOCS = Path(__file__).resolve().parent / "docs"

ROLES = ("func", "class", "meth", "mod", "data", "attr", "exc", "obj")
#: A Sphinx cross-reference role, ``:func:`target```; the target may be wrapped over lines.
ROLE = re.compile(r":(?P<role>" + "|".join(ROLES) + r"):`(?P<target>[^`]+)`")
#: An inline math role, ``:math:`x```.
MATH_ROLE = re.compile(r":math:`(?P<tex>[^`]+)`")
#: A ``.. math::`` directive line: its indentation and its argument (maybe empty).
MATH_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<arg>.*)$")
#: Leftovers in a rendered page that mean a role or directive was not converted.
LEFTOVER = re.compile(r":(?:" + "|".join(ROLES) + r"|math):(?:<code>|`)|\.\. math::")

PACKAGE = "astrofield"
_MISSING = object()
_log = logging.getLogger("mkdocs.plugins.astrofield_docs")


# ----------------------------------------------------------------------------- resolution

def _instance_attribute(cls: type, name: str) -> bool:
    """Whether ``name`` is an instance attribute of ``cls`` that ``getattr`` cannot see.

    True for dataclass fields and annotated or ``__slots__`` names, for ``self.name = ...`` in
    the class's source, and for names listed in its docstring's ``Attributes`` section.
    """
    if name in getattr(cls, "__dataclass_fields__", {}) or name in getattr(cls, "__slots__", ()):
        return True
    if any(name in getattr(k, "__annotations__", {}) for k in cls.__mro__):
        return True
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        source = ""
    if re.search(rf"\bself\.{re.escape(name)}\s*(?::[^=\n]*)?=[^=]", source):
        return True
    doc = inspect.cleandoc(cls.__doc__ or "")
    section = re.search(r"^Attributes\n-+\n(.*?)(?:^\S[^\n]*\n-+\n|\Z)", doc, re.M | re.S)
    if section:
        for line in section.group(1).splitlines():
            if line and not line[0].isspace():
                if name in [n.strip() for n in line.split(":")[0].split(",")]:
                    return True
    return False


def _canonical(obj: object, path: str) -> str:
    """The path where an ``astrofield`` class or function is defined (and documented), else
    ``path``."""
    if inspect.ismodule(obj):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if (inspect.isclass(obj) or inspect.isroutine(obj)) and qualname and "<" not in qualname \
            and module and module.split(".")[0] == PACKAGE:
        return f"{module}.{qualname}"
    return path


def _lookup(path: str) -> tuple[str, object] | None:
    """``(canonical path, object)`` for :func:`lookup`; the object is None if not imported."""
    parts = path.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    for i in range(len(parts), 0, -1):
        modname = ".".join(parts[:i])
        try:
            spec = importlib.util.find_spec(modname)
        except (ImportError, ValueError, AttributeError):
            spec = None
        if spec is None:
            continue
        if i == len(parts):
            return modname, sys.modules.get(modname)
        try:
            obj: object = importlib.import_module(modname)
        except ImportError:
            return None
        canonical = modname
        for name in parts[i:]:
            nxt = getattr(obj, name, _MISSING)
            if nxt is _MISSING:
                if inspect.isclass(obj) and _instance_attribute(obj, name):
                    return (f"{canonical}.{name}", None) if name == parts[-1] else None
                return None
            canonical = _canonical(nxt, f"{canonical}.{name}")
            obj = nxt
        return canonical, obj
    if len(parts) == 1 and hasattr(builtins, path):
        return path, getattr(builtins, path)
    return None


def lookup(path: str) -> str | None:
    """The canonical dotted path of the object ``path`` names, or None if it does not exist.

    The longest importable module prefix of ``path`` is imported (a module named in full is only
    located, not imported) and the rest is looked up with ``getattr``; instance attributes
    (:func:`_instance_attribute`) and builtins (``ValueError``) count as found. The canonical
    path is where a class or function is defined (``astrofield.solve`` gives
    ``astrofield.simulator.integrator.solve``).
    """
    found = _lookup(path)
    return None if found is None else found[0]


def _resolve(target: str, module: str, scope: str = "") -> tuple[str, object] | None:
    name = re.sub(r"\s+", "", target).lstrip("~").lstrip(".")
    context = f"{module}.{scope}" if scope else module
    parts = context.split(".")
    for i in range(len(parts), 0, -1):
        found = _lookup(".".join(parts[:i]) + "." + name)
        if found:
            return found
    return _lookup(name)


def resolve(target: str, module: str, scope: str = "") -> str | None:
    """Resolve a role's target as Sphinx would, returning the canonical path or None.

    Parameters
    ----------
    target
        The role's target as written: ``solve``, ``~astrofield.model.Model``, ``.numba_loop``,
        ``Simulator.step`` (whitespace from line wrapping is ignored).
    module
        Dotted name of the module whose docstring holds the role.
    scope
        Qualified name of the enclosing class inside ``module`` (``""`` at module level).

    Returns
    -------
    str or None
        The canonical dotted path (see :func:`lookup`) of the first candidate that exists:
        ``target`` inside the enclosing class, the module, each parent package, then as an
        absolute path.
    """
    found = _resolve(target, module, scope)
    return None if found is None else found[0]


@functools.cache
def documented_modules(docs: Path = DOCS) -> frozenset[str]:
    """The identifiers rendered by ``::: identifier`` blocks in the pages under ``docs``."""
    names = set()
    for page in docs.rglob("*.md"):
        names.update(re.findall(r"^:::[ \t]+(\S+)", page.read_text(), re.M))
    return frozenset(names)


def is_rendered(path: str, obj: object, documented: frozenset[str]) -> bool:
    """Whether the API reference renders an anchor for the object at canonical ``path``.

    mkdocstrings renders a documented module, and the public classes and functions (methods
    included) with a docstring that such a module defines; data and instance attributes only
    if they have a docstring, which is not visible at run time, so they are not counted.
    """
    parts = path.split(".")
    if parts[0] != PACKAGE or any(p.startswith("_") for p in parts):
        return False
    if inspect.ismodule(obj):
        return path in documented
    if not (inspect.isclass(obj) or inspect.isroutine(obj)) or not getattr(obj, "__doc__", None):
        return False
    module = getattr(obj, "__module__", "") or ""
    return module in documented


def role_markdown(role: str, target: str, module: str, scope: str = "",
                  on_error: Callable[[str], None] | None = None,
                  documented: frozenset[str] | None = None) -> str:
    """The Markdown that replaces one role: a checked link, or inline code.

    An object the API reference renders (:func:`is_rendered`) gives ``[`title`][path]``, which
    strict builds check; any other ``astrofield`` object gives an optional autorefs link around
    inline code (plain code where nothing is rendered), an external one inline code. An
    unresolved target is passed to ``on_error`` and left as inline code.
    """
    clean = re.sub(r"\s+", "", target)
    shown = clean.lstrip("~").lstrip(".")
    title = f"`{shown.rsplit('.', 1)[-1] if clean.startswith('~') else shown}`"
    found = _resolve(target, module, scope)
    if found is None:
        if on_error is not None:
            on_error(f":{role}:`{target}`")
        return title
    path, obj = found
    if is_rendered(path, obj, documented_modules() if documented is None else documented):
        return f"[{title}][{path}]"
    if path.startswith(PACKAGE + "."):
        return f'<autoref identifier="{path}" optional><code>{title[1:-1]}</code></autoref>'
    return title


def convert_roles(text: str, module: str, scope: str = "",
                  on_error: Callable[[str], None] | None = None) -> str:
    """Replace every cross-reference role in ``text`` (see :func:`role_markdown`)."""
    documented = documented_modules()
    return ROLE.sub(lambda m: role_markdown(m["role"], m["target"], module, scope, on_error,
                                            documented), text)


# ----------------------------------------------------------------------------- math

def convert_math(text: str) -> str:
    """Replace ``.. math::`` directives by ``$$`` blocks and ``:math:`x``` by ``$x$``.

    The directive's argument and its body (the following lines indented deeper than the
    directive, blank lines included) are dedented; each blank-line-separated equation becomes its
    own ``$$`` block at the directive's indentation, with blank lines around it. As in Sphinx, an
    equation with line breaks (``\\``) or alignment marks (``&``) outside an environment of its
    own is wrapped in ``split``.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = MATH_DIRECTIVE.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        body = [match["arg"]] if match["arg"].strip() else []
        i += 1
        block: list[str] = []
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > len(indent)):
            block.append(lines[i])
            i += 1
        while block and not block[-1].strip():
            i -= 1  # give trailing blank lines back to the text
            block.pop()
        margin = min((_indent(b) for b in block if b.strip()), default=0)
        body += [b[margin:] for b in block]
        equations = re.split(r"\n\s*\n", "\n".join(body).strip())
        if out and out[-1].strip():
            out.append("")
        for eq in equations:
            eq_lines = [e.rstrip() for e in eq.split("\n")]
            if ("&" in eq or "\\\\" in eq) and "\\begin{" not in eq:
                eq_lines = ["\\begin{split}", *eq_lines, "\\end{split}"]  # as Sphinx does
            out += [f"{indent}$$", *(f"{indent}{e}" for e in eq_lines), f"{indent}$$", ""]
        if i < len(lines) and not lines[i].strip():
            out.pop()
    text = "\n".join(out)
    return MATH_ROLE.sub(lambda m: f"${m['tex'].strip()}$", text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


# ----------------------------------------------------------------------------- docstrings

def iter_docstrings(package: Path) -> Iterator[tuple[str, str, str, Path, int]]:
    """Every docstring of the package in directory ``package``: ``(module, scope, text, file,
    line)``.

    Read from the source (nothing is imported): module, class and function docstrings, nested
    ones included; ``scope`` is the qualified name of the enclosing class, or ``""``.
    """
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        module = ".".join(parts)
        yield from _docstrings(ast.parse(path.read_text()), module, "", path)


def _docstrings(node: ast.AST, module: str, scope: str,
                path: Path) -> Iterator[tuple[str, str, str, Path, int]]:
    if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        doc = ast.get_docstring(node, clean=False)
        if doc:
            yield module, scope, doc, path, getattr(node, "lineno", 1)
    for child in ast.iter_child_nodes(node):  # through if/try/with blocks too
        inner = scope
        if isinstance(child, ast.ClassDef):
            inner = f"{scope}.{child.name}" if scope else child.name
        yield from _docstrings(child, module, inner, path)


try:  # the griffe extension needs griffe (a dependency of mkdocstrings-python)
    import griffe
except ImportError:  # pragma: no cover - the test suite uses the functions above only
    griffe = None

if griffe is not None:
    class SphinxMarkup(griffe.Extension):
        """Griffe extension: convert roles and math in every docstring before it is rendered."""

        def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
            """Rewrite ``obj``'s docstring in place (griffe event)."""
            if obj.docstring is None:
                return
            module = obj.module.path
            scope = ""
            parent = obj if obj.is_class else obj.parent
            if parent is not None and parent.is_class:
                scope = parent.path[len(module) + 1:]

            def report(role: str) -> None:
                _log.warning("%s: unresolved cross-reference %s", obj.path, role)

            value = convert_roles(obj.docstring.value, module, scope, report)
            obj.docstring.value = convert_math(value)


# ----------------------------------------------------------------------------- mkdocs events

def on_config(config: object, **kwargs: object) -> object:
    """mkdocs event: put this checkout's ``src`` first on ``sys.path`` for :func:`resolve`, and
    on ``PYTHONPATH`` for the notebook kernels that mkdocs-jupyter starts (they run in
    ``docs/notebooks``, where a relative path would find nothing)."""
    if _SRC not in sys.path:
        sys.path.insert(0, _SRC)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if _SRC not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([_SRC, *filter(None, paths)])
    return config


def on_page_markdown(markdown: str, page: object, **kwargs: object) -> str:
    """mkdocs event: convert roles (relative to ``astrofield``) and math in a Markdown page."""
    src = getattr(getattr(page, "file", None), "src_uri", "?")

    def report(role: str) -> None:
        _log.warning("%s: unresolved cross-reference %s", src, role)

    return convert_math(convert_roles(markdown, PACKAGE, "", report))


def on_page_content(html: str, page: object, **kwargs: object) -> str:
    """mkdocs event: fail (warn, under ``--strict``) if a role or ``.. math::`` survived."""
    for match in LEFTOVER.finditer(html):
        src = getattr(getattr(page, "file", None), "src_uri", "?")
        context = html[max(0, match.start() - 60):match.end() + 60]
        _log.warning("%s: unconverted Sphinx markup: %r", src, context)
    return html
