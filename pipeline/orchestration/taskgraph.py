"""A dask task graph built in time linear in its tasks.

``dask.delayed`` merges and culls the whole upstream graph every time a call takes a *list*
of delayed values (``unpack_collections`` -> ``_finalize_args_collections``), and merges every
upstream layer into each new one otherwise: building farside's graph that way grows with
the square of the frames (1,024 frames: ~2 minutes before the first task ran). Here every
task is one :class:`dask.task_spec.Task` in one plain dict, its inputs referenced by key, and
the finished dict becomes a single :class:`dask.delayed.Delayed` once.

Examples
--------
>>> g = TaskGraph()
>>> a = g.add("a-1", int, "2")
>>> b = g.add("b-1", sum, [a, a, 3])
>>> g.delayed(b).compute(scheduler="synchronous")
7
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dask.delayed import Delayed
from dask.task_spec import List, Task, TaskRef

__all__ = ["TaskGraph"]


def _arg(value: Any) -> Any:
    """A task argument: references stay references, a list holding any becomes a dask
    ``List`` (its items resolved when the task runs); everything else is passed as it is
    (never traversed, so frames and cameras cost nothing to add)."""
    if isinstance(value, list) and any(isinstance(v, TaskRef | list) for v in value):
        return List(*(_arg(v) for v in value))
    items = value.values() if isinstance(value, dict) else value if isinstance(value, tuple | set) else ()
    if any(isinstance(v, TaskRef) for v in items):
        raise TypeError("pass task references alone or in a list, not in a tuple, set or dict")
    return value


class TaskGraph:
    """Tasks by key; :meth:`add` returns the new task's reference (``.key``) to pass on."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}

    def add(self, key: str, func: Callable[..., Any], *args: Any) -> TaskRef:
        """Add ``func(*args)`` as task ``key``. ``args`` may hold references returned by
        earlier calls, alone or in lists. Adding the same key twice keeps the first task (keys
        hash their inputs, so it is the same work)."""
        if key not in self.tasks:
            self.tasks[key] = Task(key, func, *(_arg(a) for a in args))
        return TaskRef(key)

    def __len__(self) -> int:
        return len(self.tasks)

    def delayed(self, ref: TaskRef) -> Delayed:
        """The graph as one ``Delayed`` computing task ``ref`` (and what it depends on)."""
        if ref.key not in self.tasks:
            raise KeyError(f"no task {ref.key!r} in this graph")
        return Delayed(ref.key, dict(self.tasks))
