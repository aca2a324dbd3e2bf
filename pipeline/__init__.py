"""farside: raw lunar far-side frames to georeferenced map mosaics.

Public API (each stage callable alone, without dask; :func:`run` does them all through the
dask graph)::

    from pipeline import ingest, calibrate, register, crosscheck, mosaic, run, plan, load_config
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

__all__ = ["ingest", "calibrate", "register", "crosscheck", "mosaic", "run", "plan", "load_config", "__version__"]

_API = {"ingest": "pipeline.api", "calibrate": "pipeline.api", "register": "pipeline.api",
        "crosscheck": "pipeline.api", "mosaic": "pipeline.api", "run": "pipeline.orchestration",
        "plan": "pipeline.orchestration", "load_config": "pipeline.config"}


def __getattr__(name: str):
    # lazy: `import pipeline` (and `farside --help`) stay cheap; each name loads its module once
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
