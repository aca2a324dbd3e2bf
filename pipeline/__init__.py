"""farside: raw lunar far-side frames to georeferenced map mosaics.

Public API (each stage callable alone, without dask)::

    from pipeline import ingest, calibrate, register, crosscheck, mosaic, run, load_config
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["ingest", "calibrate", "register", "crosscheck", "mosaic", "run", "plan", "load_config", "__version__"]


def __getattr__(name: str):
    # Lazy so `import pipeline` stays cheap and `pipeline.<stage package>` never clashes.
    if name in ("ingest", "calibrate", "register", "crosscheck", "mosaic"):
        from pipeline import api

        return getattr(api, name)
    if name in ("run", "plan"):
        from pipeline import graph

        return getattr(graph, name)
    if name == "load_config":
        from pipeline.config import load_config

        return load_config
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
