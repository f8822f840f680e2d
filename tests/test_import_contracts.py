"""The import contracts of pyproject.toml hold, and they are not vacuous: an import across a layer breaks the build.

`make lint` runs lint-imports on the tree; this runs it on copies with one forbidden import each.
"""

from __future__ import annotations

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
