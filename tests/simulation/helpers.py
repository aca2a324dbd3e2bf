"""Shared constants of the simulation tests (a uniquely named module, importable from any test)."""

SMALL = {"seed": 7, "n_strips": 2, "frames_per_strip": 3, "size": (96, 96), "workers": 1}
"""A small survey: 6 frames of 96 x 96 (all four formats) + 15 calibration frames."""
