"""The import contracts of pyproject.toml hold, and they are not vacuous: an import across a layer breaks the build.

`make lint` runs lint-imports on the tree; this runs it on copies with one forbidden import each. It also checks
what lint-imports cannot see: herald_live/__init__.py loads the public API lazily, through importlib, so a module
of the package that took a public name from the package itself would depend on any layer unseen.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT, base_env

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**base_env(), "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def copy_of_the_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for name in ("pyproject.toml", "herald_live", "web", "workers", "tests", "bench", "scripts"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "results", "static"))
        else:
            shutil.copy(source, root / name)
    return root


def test_the_tree_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # The circle the layers ended: the fan-out queueing its chunks through tasks.py.
        ("herald_live/delivery/fanout.py", "from herald_live import tasks", "herald_live.delivery is not allowed"),
        # A read that writes.
        ("herald_live/selectors/users.py", "from herald_live.actions import sending", "herald_live.selectors is not"),
        # A request that publishes by itself.
        (
            "herald_live/actions/read_state.py",
            "from herald_live.delivery import publish",
            "import herald_live.delivery.publish",
        ),
        # The pusher reaching Django through the app's settings.
        ("herald_live/pusher/config.py", "from herald_live import conf", "herald_live.pusher is not allowed"),
        # A feature's own view publishing by itself.
        ("herald_live/push/views.py", "from herald_live.infra import publisher", "import herald_live.infra.publisher"),
        # Wiring that imports the tasks instead of queueing by name.
        ("herald_live/urls.py", "from herald_live import tasks", "allowed to import herald_live.tasks"),
        # The installable app importing the reference site.
        ("herald_live/infra/sql.py", "import web.settings", "herald_live is not allowed to import web"),
    ],
)
def test_one_forbidden_import_breaks_the_build(copy_of_the_tree, module, line, broken):
    target = copy_of_the_tree / module
    original = target.read_text()
    target.write_text(f"{line}  # noqa: F401\n{original}")
    try:
        result = lint_imports(copy_of_the_tree)
    finally:
        target.write_text(original)
    assert result.returncode != 0
    assert broken in result.stdout, result.stdout[-3000:]


def public_names_imported_inside(package: Path) -> list[str]:
    """``from herald_live import <a public name>`` (or ``herald_live.<name>``) in a module of the package."""
    public = {
        line.split('"')[1] for line in (package / "__init__.py").read_text().splitlines() if '": "herald_live' in line
    }
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "herald_live" and not node.level:
                found += [f"{path.name}: {alias.name}" for alias in node.names if alias.name in public]
            elif (
                isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "herald_live"
            ):
                found += [f"{path.name}: herald_live.{node.attr}"] if node.attr in public else []
    return found


def test_no_module_of_the_package_takes_a_public_name_from_the_package():
    assert len(public_names_imported_inside(ROOT / "herald_live")) == 0


def test_a_module_that_takes_one_is_found(copy_of_the_tree):
    target = copy_of_the_tree / "herald_live" / "infra" / "sql.py"
    original = target.read_text()
    target.write_text(f"from herald_live import mark_all_read  # noqa: F401\n{original}")
    try:
        assert public_names_imported_inside(copy_of_the_tree / "herald_live") == ["sql.py: mark_all_read"]
    finally:
        target.write_text(original)
