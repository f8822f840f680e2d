"""Herald on a host's own notification model (NOTIFICATIONS_NOTIFICATION_MODEL), in a process of its own:
the model is chosen when Django starts, so this cannot run inside the main test process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.processes import ROOT, base_env


def test_herald_writes_reads_and_publishes_through_a_swapped_model(tmp_path, broker_queue_length):
    env = base_env(
        DJANGO_SETTINGS_MODULE="tests.herald_live.swapped_settings",
        HERALD_SWAPPED_DB=str(tmp_path / "swapped.sqlite3"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "tests.herald_live.swapped_app.scenario"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["rows"] == ["herald send", "stock send"]  # in the host's table, once each
    assert seen["index_table"] == "host_notices"
    assert seen["published_sessions"] == 1
    assert seen["page"] == ["herald send", "stock send"]
    assert seen["unread_after_mark_all"] == 0
    assert seen["up_to_id"] == seen["max_id"]
    assert os.path.exists(tmp_path / "swapped.sqlite3")
