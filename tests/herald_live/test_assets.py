"""The browser files the package ships are the npm packages the lock file names (hosts need no Node)."""

from __future__ import annotations

import json

from tests.support.processes import ROOT

VENDOR = ROOT / "herald_live" / "static" / "herald" / "vendor"


def test_the_shipped_socket_io_client_is_the_locked_npm_release():
    package = ROOT / "node_modules" / "socket.io-client"
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/socket.io-client"]
    assert json.loads((package / "package.json").read_text())["version"] == locked["version"]
    assert (VENDOR / "socket.io.min.js").read_bytes() == (package / "dist" / "socket.io.min.js").read_bytes()
    assert (VENDOR / "socket.io.LICENSE").read_bytes() == (package / "LICENSE").read_bytes()


def test_the_widget_loads_only_files_the_package_ships():
    scripts = (ROOT / "herald_live" / "templates" / "herald" / "scripts.html").read_text()
    assert "http://" not in scripts and "https://" not in scripts and "//cdn" not in scripts
    for name in ("herald.js", "herald.css", "vendor/socket.io.min.js"):
        assert (ROOT / "herald_live" / "static" / "herald" / name).is_file()
