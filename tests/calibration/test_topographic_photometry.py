"""Topographic photometry (``calibration.photometry.topographic``) on the relief preset.

The ``relief_strip`` survey is rendered through its truth DEM (3 km of basin wall and craters)
with the local surface normal in the scattering law. Normalised with the sphere's angles the
frames keep the terrain's shading: brightness / true normal albedo correlates with the
shading ratio ``cos i_local / cos i_sphere`` (slopes facing the Sun brighter). Normalised with
the DEM's facet angles (the truth DEM, the frames' true cameras, the fixed default law) that
correlation must go. Truth: the simulator's albedo, cameras and terrain.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pipeline.simulation")

from pipeline import api
from pipeline.calibration.calibrate import normalise_frame
from pipeline.calibration.photometry import photometric_function
from pipeline.config import load_config
from pipeline.geometry.body import xyz_to_lonlat
from pipeline.geometry.dem import Dem
from pipeline.simulation import simulate_survey, survey_preset
from pipeline.simulation.truth import load_truth

pytestmark = pytest.mark.slow


def shading_correlation(frames, truth, step: int = 3) -> float:
    """Pearson r of log(brightness / true normal albedo) against log(cos i_local / cos i_sphere).

    Every ``step``-th unmasked, sunlit pixel of every frame (true ground, true camera); each
    frame's brightness ratio relative to its own median (gains are equalised elsewhere).
    """
    qs, ss = [], []
    for f in frames:
        cam = truth.true_cameras[f.id]
        ll, sm = np.mgrid[0 : f.data.shape[0] : step, 0 : f.data.shape[1] : step]
        ok = ~np.asarray(f.mask)[ll, sm] & np.isfinite(np.asarray(f.data)[ll, sm])
        ll, sm = ll[ok], sm[ok]
        xyz, hit = truth.true_ground(f.id, ll + 0.5, sm + 0.5)
        xyz, ll, sm = xyz[hit], ll[hit], sm[hit]
        lit = truth.terrain.lit(xyz, cam.sun_position_m) > 0.99
        xyz, ll, sm = xyz[lit], ll[lit], sm[lit]
        i_loc = truth.terrain.shade_angles(xyz, cam.observer_position(xyz), cam.sun_position_m)[0]
        i_sph = cam.illumination_angles(xyz)[0]
        keep = (i_loc < np.radians(80)) & (i_sph < np.radians(80))
        lon, lat = xyz_to_lonlat(xyz[keep])
        q = np.asarray(f.data, np.float64)[ll[keep], sm[keep]] / truth.normal_albedo(lon, lat)
        good = q > 0
        qs.append(np.log(q[good]) - np.median(np.log(q[good])))
        ss.append(np.log(np.cos(i_loc[keep][good]) / np.cos(i_sph[keep][good])))
    q, s = np.concatenate(qs), np.concatenate(ss)
    return float(np.corrcoef(q, s)[0, 1])


@pytest.fixture(scope="module")
def relief(tmp_path_factory):
    """The relief_strip survey (seed 4), its truth, and two of its frames calibrated."""
    src = tmp_path_factory.mktemp("relief-sim")
    simulate_survey(src, **{**survey_preset("relief_strip", seed=4), "formats": ("tiff",), "workers": 1})
    cfg = load_config()
    found = api.ingest(src, calibration=src / "calibration", config=cfg)
    return src, load_truth(src), api.calibrate(found.frames[2:4], found.calibration, cfg), cfg


def test_topographic_normalisation_removes_the_slope_shading(relief):
    """The hook itself: the same frames normalised through their true cameras, sphere vs DEM."""
    src, truth, frames, cfg = relief
    dem = Dem.from_file(src / "truth" / "dem.tif")
    func = photometric_function("lunar_lambert")  # the fixed default (McEwen's L(phase)); the preset renders L = 0.5
    p = cfg.calibration.photometry
    sphere = [normalise_frame(f, func, p, "sphere", None, truth.true_cameras[f.id]) for f in frames]
    topo = [normalise_frame(f, func, p, "dem", dem, truth.true_cameras[f.id]) for f in frames]
    r_sphere, r_topo = shading_correlation(sphere, truth), shading_correlation(topo, truth)
    assert r_sphere > 0.8, r_sphere  # measured 0.89: the sphere's angles leave the terrain's shading
    assert abs(r_topo) < 0.1, r_topo  # measured 0.05
