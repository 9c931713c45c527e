"""Sphinx configuration for the skfairlatent documentation.

Build the site (offline: no intersphinx, no downloads) from the repository root::

    python -m sphinx -W --keep-going -b html doc doc/_build/html

Every example in ``examples/`` is run and its output and figures are embedded
in the gallery. With ``SKFAIRLATENT_EXAMPLES_QUICK=1`` in the environment the
examples run with fewer epochs, rows and samples (their code, numbers aside, is
the same); that is what the test suite does (``tests/test_docs.py``).
``-D plot_gallery=0`` skips running them.
"""

import os
import re
import shutil
import warnings
from pathlib import Path

import skfairlatent

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

project = "skfairlatent"
author = "the skfairlatent developers"
copyright = "2026, the skfairlatent developers"
release = skfairlatent.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_gallery_src", "Thumbs.db", ".DS_Store"]
html_theme = "pydata_sphinx_theme"
html_title = f"skfairlatent {release}"
html_static_path = []
# Top navigation bar as in scikit-learn and fairlearn: Getting started, User
# guide, Examples, API, Changelog (the root toctree of index.md). No icon links
# or version switcher: the build stays offline.
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting_started": [], "changelog": []}

# --- API reference: autosummary pages from the numpydoc docstrings ----------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
autodoc_member_order = "bysource"
# numpydoc renders Parameters/Returns/Raises/...; method tables come from our
# class template, so numpydoc does not add its own (which would duplicate them).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# --- the method pages (doc/*.md) are Markdown, read by myst-parser ----------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# --- the examples gallery (sphinx-gallery) -----------------------------------
# The examples write their PNGs into the current folder. sphinx-gallery runs
# each one from its source folder, so the gallery is built from a scratch copy
# of examples/ (ignored by git) and the repository stays clean.
_GALLERY_SRC = HERE / "_gallery_src"


def _titled(source):
    """Underline the first line of an example's docstring as its page title.

    The examples open with a one-line summary (plain text, readable in a
    terminal); sphinx-gallery needs a reST section title to list the page.
    """
    match = re.match(r'(\s*"""|\s*\'\'\')(.+)\n', source)
    if match is None:
        return source
    head, title = match.group(1), match.group(2).rstrip()
    rest = source[match.end():]
    if re.match(r"[=\-~^]{3,}\s*\n", rest):
        return source
    return f"{head}{title}\n{'=' * len(title)}\n{rest}"


# Stubs of names that no longer exist would be orphan pages: start afresh.
shutil.rmtree(HERE / "generated", ignore_errors=True)
if _GALLERY_SRC.exists():
    shutil.rmtree(_GALLERY_SRC)
_GALLERY_SRC.mkdir()
for _path in sorted((ROOT / "examples").iterdir()):
    if _path.suffix in {".rst", ".txt"}:
        shutil.copy2(_path, _GALLERY_SRC / _path.name)
    elif _path.suffix == ".py":
        (_GALLERY_SRC / _path.name).write_text(_titled(_path.read_text(encoding="utf-8")),
                                               encoding="utf-8")

sphinx_gallery_conf = {
    "examples_dirs": ["_gallery_src"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r".*\.py$",     # run every example, not only plot_*.py
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "write_computation_times": False,
    # "Examples using X" at the foot of each API page.
    "doc_module": ("skfairlatent",),
    "backreferences_dir": "generated/backreferences",
}

# torch/skorch emit runtime warnings while the examples run; they are the
# examples' output, not documentation problems.
warnings.filterwarnings("ignore", category=UserWarning,
                        message=".*fitted without sensitive_features.*")
os.environ.setdefault("OMP_NUM_THREADS", "1")


# --- docstrings written for help() as much as for the site -------------------
# Our docstrings write absolute values and norms in plain text (``|TPR_1 -
# TPR_0|``) and name fitted attributes sklearn-style (``n_features_in_``).
# In reStructuredText the first reads as a substitution and the second as a
# hyperlink reference, so both are escaped here (outside literals, math and
# literal blocks), after numpydoc has turned the sections into reST.

_SPAN = re.compile(r"(``.*?``|:\w+:`[^`]*`|`[^`]*`_{0,2})")
_TRAILING_UNDERSCORE = re.compile(r"(?<![\w\\])(\w*[A-Za-z0-9])_(?![\w`])")
_BAR = re.compile(r"(?<!\\)\|")


def _escape_plain(text):
    text = _BAR.sub(r"\\|", text)
    return _TRAILING_UNDERSCORE.sub(r"\1\\_", text)


def _escape_line(line):
    parts = _SPAN.split(line)
    return "".join(part if i % 2 else _escape_plain(part) for i, part in enumerate(parts))


def _escape_plain_math(app, what, name, obj, options, lines):
    literal_indent = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None:
            if stripped and indent <= literal_indent:
                literal_indent = None
            else:
                continue
        if stripped.endswith("::"):
            literal_indent = indent
        if not stripped or stripped.startswith((">>>", "...", "| ", "+-", "+=", ".. ")):
            continue
        lines[i] = _escape_line(line)


# The set_<method>_request methods scikit-learn generates on every estimator
# cite scikit-learn's own glossary and user guide; keep their words, drop the
# cross-references that only resolve inside scikit-learn's site.
_SK_ROLE = re.compile(r":(?:term|ref):`([^`<]*?)\s*(?:<[^`]*>)?`")


def _sklearn_roles_to_text(app, what, name, obj, options, lines):
    from_sklearn = str(getattr(obj, "__module__", "")).startswith("sklearn")
    if not (from_sklearn or name.endswith("_request")):
        return
    for i, line in enumerate(lines):
        lines[i] = _SK_ROLE.sub(lambda m: m.group(1), line)


def setup(app):
    app.connect("autodoc-process-docstring", _sklearn_roles_to_text, priority=400)
    app.connect("autodoc-process-docstring", _escape_plain_math, priority=600)
