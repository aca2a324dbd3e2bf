"""Pixel statistics and repair shared by the stages that look at raw pixels (calibration and the
cross-frame check): robust noise and background estimates, sigma clipping, interpolation over
flagged pixels. Pure numpy/scipy/OpenCV on arrays; no stage, no config.
"""
