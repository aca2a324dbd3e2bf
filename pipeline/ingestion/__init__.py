"""Ingestion: a folder of raw frames (and calibration frames) in, :class:`~pipeline.frame.Frame` objects out.

:func:`ingest` scans a folder (:func:`scan_folder`), reads every product's metadata and camera
(no pixels) and reports every rejected file with its reason; :func:`format_inventory` prints
what it found.
"""

from pipeline.ingestion.ingest import IngestResult, ingest, read_frames
from pipeline.ingestion.inventory import format_inventory, inventory_rows
from pipeline.ingestion.params import IngestionParams
from pipeline.ingestion.scan import IGNORED_SUFFIXES, SKIPPED_FOLDERS, scan_folder

__all__ = [
    "IGNORED_SUFFIXES",
    "SKIPPED_FOLDERS",
    "IngestResult",
    "IngestionParams",
    "format_inventory",
    "ingest",
    "inventory_rows",
    "read_frames",
    "scan_folder",
]
