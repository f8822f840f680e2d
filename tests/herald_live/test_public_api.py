"""Herald's public API (herald_live/__init__.py): what a host site may import, listed once; the 0.2 paths warn."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import pytest

import herald_live
from herald_live import actions, producers, wire
from herald_live.actions import read_state, sending, sessions
from herald_live.infra import http, publisher
from tests.support.processes import ROOT, base_env


@pytest.mark.parametrize("name", sorted(set(herald_live.__all__) - {"__version__"}))
def test_every_public_name_loads_from_its_home(name):
    value = getattr(herald_live, name)
    assert value is not None
    assert name in dir(herald_live)


def test_the_public_names_are_the_functions_themselves():
    assert herald_live.notify is producers.notify
    assert herald_live.mark_all_read is read_state.mark_all_read
    assert herald_live.revoke_other_sessions is sessions.revoke_other_sessions
    assert herald_live.BrokerUnavailable is sending.BrokerUnavailable
    assert herald_live.rate_limited is http.rate_limited


def test_an_unknown_name_is_an_attribute_error_and_submodules_still_import():
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        herald_live.nothing_here  # noqa: B018
    assert wire.SOCKET_EVENT == "herald" and actions.__name__ == "herald_live.actions"


def test_importing_the_package_loads_no_django():
    """The pusher is part of the package and never imports Django: the public API loads on first use only."""
    probe = "import sys, herald_live, herald_live.wire; print(sorted(m for m in sys.modules if m.startswith('django')))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("old", "name", "new"),
    [
        ("herald_live.services", "mark_all_read", read_state.mark_all_read),
        ("herald_live.services", "revoke_other_sessions", sessions.revoke_other_sessions),
        ("herald_live.services", "publish_resync_on_commit", herald_live.publish_resync_on_commit),
        ("herald_live.services", "BrokerUnavailable", sending.BrokerUnavailable),
        ("herald_live.http", "rate_limited", http.rate_limited),
        ("herald_live.publisher", "emit_to_rooms", publisher.emit_to_rooms),
    ],
)
def test_the_paths_the_0_2_docs_named_still_work_with_a_deprecation_warning(old, name, new):
    module = __import__(old, fromlist=[name])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert getattr(module, name) is new
    (warning,) = caught
    assert warning.category is DeprecationWarning
    assert f"{old}.{name} moved" in str(warning.message) and "0.4" in str(warning.message)


def test_a_name_the_old_module_never_had_is_still_an_attribute_error():
    from herald_live import services

    with pytest.raises(AttributeError):
        services.worker_tasks  # noqa: B018 - the locator is gone, not deprecated


def test_the_import_block_of_docs_integrate_md_imports_public_names_only():
    section = (ROOT / "docs" / "integrate.md").read_text().split("## What your code may import", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    namespace: dict = {}
    exec(compile(block, "docs/integrate.md", "exec"), namespace)  # noqa: S102 - the page's own block
    imported = {name for name in namespace if not name.startswith("__")}
    assert imported and imported <= set(herald_live.__all__)
