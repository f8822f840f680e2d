"""Optional sampling profiles (``--profile``) of a running process with py-spy, summarised as text.

py-spy is not a requirement of the project: ``pip install py-spy==0.4.3`` into the venv to use it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def start(pid: int, *, seconds: float, out: Path, subprocesses: bool = False) -> subprocess.Popen | None:
    """Samples ``pid`` for ``seconds`` at 200 Hz into a collapsed-stack file; None without py-spy."""
    binary = py_spy()
    if binary is None:
        return None
    args = [binary, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "200"]
    args += ["--format", "raw", "--output", str(out), "--nonblocking"]
    if subprocesses:
        args.append("--subprocesses")
    log = out.with_suffix(".log").open("wb")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen | None, out: Path, *, timeout: float = 60) -> dict | None:
    if process is None:
        return None
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    return summarise(out) if out.exists() else None


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def summarise(path: Path, *, top: int = 15) -> dict:
    """Self time (leaf frames) and inclusive time (any frame on the stack) as shares of all samples."""
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        total += n
        leaf[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    share = lambda n: round(100 * n / total, 1) if total else 0.0  # noqa: E731
    # The trunk (process start-up, the task runner, the server loop) is on every stack: leave it out.
    trunk = max(inclusive.values(), default=0) * 0.9
    branches = [(f, n) for f, n in inclusive.most_common() if n < trunk or f.partition(" (")[2].startswith(_OURS)]
    return {
        "samples": total,
        "self_pct": [[f, share(n)] for f, n in leaf.most_common(top)],
        "inclusive_pct": [[f, share(n)] for f, n in branches[: top * 2]],
        "file": str(path),
    }


_OURS = ("web/", "workers/", "herald_live/")
