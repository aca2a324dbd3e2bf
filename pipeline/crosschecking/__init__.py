"""The cross-frame check: cosmic-ray hits that overlapping frames reveal (after registration).

:func:`crosscheck_outliers` is the test on arrays; :func:`crosscheck_frame` runs it on one
calibrated frame against its overlapping frames through the registered cameras.
"""

from pipeline.crosschecking.check import crosscheck_frame, crosscheck_outliers, frame_coordinates
from pipeline.crosschecking.params import CrosscheckingParams

__all__ = ["CrosscheckingParams", "crosscheck_frame", "crosscheck_outliers", "frame_coordinates"]
