"""The Sphinx site in doc/ builds with warnings as errors, runs every example, documents every name.

The build here runs every script of ``examples/`` through sphinx-gallery
(``plot_gallery=1``) with ``SKFAIRLATENT_EXAMPLES_QUICK=1``, which makes the
examples use fewer epochs, rows and samples (same code, smaller numbers), so
CI executes each example in a few minutes in all. The full build, at the
examples' real sizes, is the README's command::

    python -m sphinx -W --keep-going -b html doc doc/_build/html

The whole module is the ``docs`` tier (``pytest -m "not docs"`` skips it).
"""

import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import skfairlatent

for _module in ("sphinx", "numpydoc", "sphinx_gallery", "myst_parser", "pydata_sphinx_theme"):
    pytest.importorskip(_module)

pytestmark = pytest.mark.docs

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "doc"
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.py"))
METHOD_PAGES = ["alfa", "aeda", "lassi", "fldgm", "fair_flow", "scaling"]
SITE_PAGES = ["index", "getting_started", "user_guide", "api", "changelog",
              *METHOD_PAGES, "auto_examples/index"]


def public_modules():
    names = ["skfairlatent"]
    for info in pkgutil.walk_packages(skfairlatent.__path__, "skfairlatent."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def public_names(module_name):
    """``__all__`` of a module, or the functions and classes it defines."""
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        return [n for n in module.__all__ if not n.startswith("__")]
    return [name for name, obj in vars(module).items()
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module_name]


def documented_names(*, autodata=True):
    """Fully qualified names listed in doc/api.rst (autosummary, and autodata if asked)."""
    names, current = set(), None
    for line in (DOC / "api.rst").read_text(encoding="utf-8").splitlines():
        if line.startswith(".. currentmodule::"):
            current = line.split()[-1]
        elif line.startswith(".. autodata::"):
            if autodata:
                names.add(line.split()[-1])
        elif line.startswith("   ") and line.strip() and not line.strip().startswith(":"):
            names.add(f"{current}.{line.strip()}")
    return names


def _resolves_to_same(documented, module_name, name):
    obj = getattr(importlib.import_module(module_name), name)
    for qualified in documented:
        if qualified.rsplit(".", 1)[-1] != name:
            continue
        module_part, _, attr = qualified.rpartition(".")
        try:
            target = getattr(importlib.import_module(module_part), attr)
        except ImportError:
            parent, _, sub = module_part.rpartition(".")
            target = getattr(getattr(importlib.import_module(parent), sub), attr)
        if target is obj:
            return True
    return False


def test_api_reference_lists_every_public_name():
    documented = documented_names()
    missing = [f"{module}.{name}" for module in public_modules()
               for name in public_names(module)
               if module != "skfairlatent.cli" and not _resolves_to_same(documented, module, name)]
    assert not missing, f"add these to doc/api.rst: {missing}"


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
               "-D", "plot_gallery=1", "-d", str(out / "doctrees"), str(DOC), str(out / "html")]
    env = {**os.environ, "SKFAIRLATENT_EXAMPLES_QUICK": "1", "OMP_NUM_THREADS": "1",
           "MPLBACKEND": "Agg"}
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800,
                            env=env)
    assert result.returncode == 0, (
        f"the docs build failed (warnings are errors):\n{result.stderr[-6000:]}")
    return out / "html"


def test_docs_build_without_warnings(built_site):
    for page in SITE_PAGES:
        assert (built_site / f"{page}.html").is_file(), page


def test_navigation_is_getting_started_user_guide_examples_api_changelog(built_site):
    index = (built_site / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'class="nav-link nav-internal" href="([^"]+)\.html"', index)
    top = list(dict.fromkeys(links))
    assert top[:5] == ["getting_started", "user_guide", "auto_examples/index", "api",
                       "changelog"], top
    user_guide = (built_site / "user_guide.html").read_text(encoding="utf-8")
    for page in METHOD_PAGES:
        assert f'href="{page}.html' in user_guide, page
    changelog = (built_site / "changelog.html").read_text(encoding="utf-8")
    assert "Changelog" in changelog and "0.1.0" in changelog  # CHANGES.md, included


def test_every_public_name_has_an_api_page(built_site):
    pages = {p.stem for p in (built_site / "generated").glob("*.html")}
    for qualified in documented_names(autodata=False):  # constants are documented in place
        assert qualified in pages, qualified
    estimator = (built_site / "generated" / "skfairlatent.ALFAClassifier.html").read_text()
    # numpydoc sections rendered, methods documented, routing helper present
    for text in ("Parameters", "Attributes", "predict_proba", "set_fit_request"):
        assert text in estimator, text


def test_gallery_lists_every_example(built_site):
    gallery = (built_site / "auto_examples" / "index.html").read_text(encoding="utf-8")
    for example in EXAMPLES:
        assert (built_site / "auto_examples" / f"{example}.html").is_file(), example
        assert re.search(rf'href="{example}\.html', gallery), example


def test_every_example_ran_and_shows_its_output(built_site):
    """plot_gallery=1: each example was executed; its printed output is on its page."""
    for example in EXAMPLES:
        page = (built_site / "auto_examples" / f"{example}.html").read_text(encoding="utf-8")
        assert "sphx-glr-script-out" in page, f"{example} did not run (no output block)"
    for example in ("alfa_compas", "aeda_colored_mnist"):  # the examples that draw figures
        page = (built_site / "auto_examples" / f"{example}.html").read_text(encoding="utf-8")
        assert "sphx_glr_" in page and ".png" in page, f"{example}: no figure embedded"


def _python_blocks(markdown):
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_getting_started_code_runs(tmp_path, monkeypatch):
    """The Getting started page's code runs as written (1 epoch, 2 α values, 2 folds)."""
    blocks = _python_blocks((DOC / "getting_started.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    code = "\n".join(blocks)
    for full, quick in [("max_epochs=10", "max_epochs=1"),
                        ("[0.1, 1, 10]}, cv=3", "[0.1, 10]}, cv=2")]:
        assert full in code, full
        code = code.replace(full, quick)
    monkeypatch.chdir(tmp_path)
    import sklearn

    with sklearn.config_context():
        namespace = {}
        exec(compile(code, "getting_started.md", "exec"), namespace)
    assert namespace["audit"].by_group.shape[0] == 2
    assert "alfaclassifier__alpha" in namespace["search"].best_params_


def test_docs_cite_papers_not_local_paths():
    """Pages cite papers by authors, title, venue and arXiv id, not by a path of this checkout."""
    files = [*DOC.glob("*.md"), *DOC.glob("*.rst"), ROOT / "README.md",
             *(ROOT / "examples").glob("*.py"), *(ROOT / "skfairlatent").rglob("*.py")]
    offenders = [str(path.relative_to(ROOT)) for path in files
                 if "shared/papers" in path.read_text(encoding="utf-8")]
    assert not offenders, offenders
