"""Old import paths that moved in 0.3.0 keep working for one release, with a DeprecationWarning.

Only paths the docs of 0.2 sent host sites to are kept (services, http, publisher); each module left at an
old path is a ``__getattr__`` built here, and nothing in Herald imports one. What they give is the object at its
new home: patching a name there (``mock.patch("herald_live.services.record_event")``) changes nothing any more;
a test patches the new home.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

REMOVED_IN = "0.4"


def moved(old_module: str, new_homes: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old_module``: each name it had, from its new home (``herald_live`` for the
    public API), with a warning that names that home."""

    def __getattr__(name: str) -> Any:
        home = new_homes.get(name)
        if home is None:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        warnings.warn(
            f"{old_module}.{name} moved: import it from {home} (removed from {old_module} in Herald {REMOVED_IN})",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(home), name)

    return __getattr__
