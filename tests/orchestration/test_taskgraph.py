"""TaskGraph: tasks in one dict, references alone or in lists, one Delayed at the end."""

from __future__ import annotations

import operator

import pytest
from dask.task_spec import TaskRef

from pipeline.orchestration.taskgraph import TaskGraph


def _pair(a, b):
    return (a, b)


def test_references_alone_and_in_nested_lists_resolve():
    g = TaskGraph()
    xs = [g.add(f"x-{i}", operator.mul, i, i) for i in range(5)]
    total = g.add("total", sum, xs)
    nested = g.add("nested", _pair, [xs[:2], [xs[4], 7]], total)
    assert isinstance(total, TaskRef) and total.key == "total"
    result = g.delayed(nested).compute(scheduler="synchronous")
    assert result == ([[0, 1], [16, 7]], 30)
    assert g.delayed(total).compute(scheduler="threads") == 30


def test_graph_holds_exactly_the_tasks_added():
    g = TaskGraph()
    a = g.add("a", int, "3")
    g.add("a", int, "4")  # same key: the first task stays
    b = g.add("b", operator.add, a, a)
    d = g.delayed(b)
    assert set(d.dask) == {"a", "b"} and len(g) == 2
    assert d.compute(scheduler="synchronous") == 6


def test_references_in_tuples_or_dicts_are_refused():
    g = TaskGraph()
    a = g.add("a", int, "1")
    with pytest.raises(TypeError, match="in a list"):
        g.add("b", len, (a, 1))
    with pytest.raises(TypeError, match="in a list"):
        g.add("c", len, {"k": a})
    with pytest.raises(KeyError):
        g.delayed(TaskRef("missing"))


def test_large_arguments_are_passed_untouched():
    """Arguments that are not references (frames, cameras, configs) are not traversed or copied."""
    big = {"cameras": [object() for _ in range(1000)]}
    g = TaskGraph()
    ref = g.add("ident", id, big)
    assert g.delayed(ref).compute(scheduler="synchronous") == id(big)
