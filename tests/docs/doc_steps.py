"""Reads the machine-followable steps of a Markdown page (docs/integrate.md) and applies them to a project.

A step is an HTML comment (invisible once rendered) right before a fenced code block:

    <!-- step: install -->        a shell command that pip-installs the wheel: its ``*.whl`` path is replaced by
                                  the wheel under test, then it runs as a ``shell`` step
    <!-- step: shell -->          run with ``bash -e`` in the project directory (the virtualenv first on PATH)
    <!-- step: write PATH -->     the block is the whole content of PATH, a file that must not exist yet
    <!-- step: append PATH -->    the block is appended to PATH, which must exist
    <!-- step: edit PATH -->      a ``diff`` block: hunks separated by lines starting with ``@@``; in a hunk, lines
                                  starting with " " are context, "-" removed, "+" added. Each hunk's old text
                                  (context and removed lines) must occur exactly once in PATH.
    <!-- process: NAME -->        the block is the one command that starts the process NAME (web, worker, pusher)

PATH is relative to the project directory (the one holding manage.py). A marker that is not followed by a
fenced block, an unknown kind, or a step that cannot be applied, fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MARKER = re.compile(r"^<!--\s*(step|process):\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^```([\w+-]*)\s*$")
STEP_KINDS = {"install": 0, "shell": 0, "write": 1, "append": 1, "edit": 1}


class StepError(AssertionError):
    """The page's step cannot be read or applied: the doc and the code have drifted apart."""


@dataclass(frozen=True)
class Step:
    line: int  # 1-based line of the marker, for messages
    kind: str  # a step kind, or "process"
    arg: str  # the path of file steps, the name of a process, "" otherwise
    lang: str  # the fence's language
    body: str  # the block's text, ending with a newline

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind} {self.arg}".rstrip()


def read_steps(markdown: str) -> list[Step]:
    lines = markdown.splitlines()
    steps: list[Step] = []
    index = 0
    while index < len(lines):
        match = MARKER.match(lines[index].strip())
        if not match:
            index += 1
            continue
        marker_line, family, words = index + 1, match.group(1), match.group(2).split()
        if not words:
            raise StepError(f"line {marker_line}: an empty {family} marker")
        if family == "process":
            kind, args = "process", words
            if len(args) != 1:
                raise StepError(f"line {marker_line}: a process marker names one process, got {words}")
        else:
            kind, args = words[0], words[1:]
            if kind not in STEP_KINDS:
                raise StepError(f"line {marker_line}: unknown step kind {kind!r} (known: {', '.join(STEP_KINDS)})")
            if len(args) != STEP_KINDS[kind]:
                raise StepError(f"line {marker_line}: step {kind!r} takes {STEP_KINDS[kind]} argument(s), got {args}")
        index += 1
        while index < len(lines) and not lines[index].strip():
            index += 1
        fence = FENCE.match(lines[index]) if index < len(lines) else None
        if not fence:
            raise StepError(f"line {marker_line}: the {family} marker is not followed by a fenced code block")
        body: list[str] = []
        index += 1
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        if index == len(lines):
            raise StepError(f"line {marker_line}: the code block never closes")
        index += 1
        steps.append(Step(marker_line, kind, args[0] if args else "", fence.group(1), "\n".join(body) + "\n"))
    return steps


def process_command(steps: list[Step], name: str) -> str:
    found = [step for step in steps if step.kind == "process" and step.arg == name]
    if len(found) != 1:
        raise StepError(f"the page must give exactly one command for the process {name!r}, found {len(found)}")
    command = " ".join(line.strip() for line in found[0].body.splitlines() if line.strip())
    return command


def write(project: Path, step: Step) -> None:
    path = _target(project, step)
    if path.exists() and path.read_text():
        raise StepError(f"{step}: {step.arg} already exists (a 'write' step creates a new file)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(step.body)


def append(project: Path, step: Step) -> None:
    path = _target(project, step)
    if not path.exists():
        raise StepError(f"{step}: {step.arg} does not exist (an 'append' step adds to a file)")
    text = path.read_text()
    separator = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    path.write_text(text + separator + step.body)


def edit(project: Path, step: Step) -> None:
    if step.lang != "diff":
        raise StepError(f"{step}: an 'edit' step needs a ```diff block, got ```{step.lang}")
    path = _target(project, step)
    if not path.exists():
        raise StepError(f"{step}: {step.arg} does not exist")
    text = path.read_text()
    for number, (old, new) in enumerate(_hunks(step), start=1):
        count = text.count(old)
        if count != 1:
            raise StepError(
                f"{step}: hunk {number} must match {step.arg} exactly once, matched {count} times. Its old text:\n{old}"
            )
        text = text.replace(old, new, 1)
    path.write_text(text)


def _hunks(step: Step) -> list[tuple[str, str]]:
    hunks: list[tuple[str, str]] = []
    old: list[str] = []
    new: list[str] = []
    for line in [*step.body.splitlines(), "@@"]:
        if line.startswith("@@"):
            if old or new:
                if not old:
                    raise StepError(f"{step}: a hunk without context lines cannot be placed")
                hunks.append(("".join(old), "".join(new)))
            old, new = [], []
            continue
        marker, content = (line[:1], line[1:]) if line else (" ", "")
        if marker not in " -+":
            raise StepError(f"{step}: a diff line must start with ' ', '-', '+' or '@@': {line!r}")
        if marker in " -":
            old.append(content + "\n")
        if marker in " +":
            new.append(content + "\n")
    return hunks


def _target(project: Path, step: Step) -> Path:
    path = (project / step.arg).resolve()
    if project.resolve() not in path.parents:
        raise StepError(f"{step}: {step.arg} is outside the project")
    return path
