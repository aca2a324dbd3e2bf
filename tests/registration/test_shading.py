"""Relief shading taken out before cross-view matching (:mod:`pipeline.registration.shading`).

Two frames of the simulator's crater relief (posts 60 m, about 1/3 of a pixel) seen from
opposite sides at 45 and 30 deg emission, rendered independently (lunar-Lambert shading,
cast shadows, 2 x 2 rays per pixel, PSF 0.5 px), matched with their TRUE cameras through the
truth DEM: a tie point's error is the matcher's and the images' alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.frame import Frame, FrameMeta
from pipeline.registration import relief_shading, shading_normalised
from pipeline.registration.areamatch import match_frames_area
from pipeline.registration.params import RegistrationParams
from pipeline.simulation import Surface, render_iof, scattering_law
from pipeline.simulation.relief import Relief, ReliefParams
from pipeline.simulation.terrain import Terrain
from tests.registration.helpers import aimed_camera

SURFACE = Surface(seed=4, region=(178.0, 182.0, -2.0, 2.0))


@pytest.fixture(scope="module")
def relief_dem():
    return Relief(SURFACE, ReliefParams()).sample((179.3, 180.7, -0.7, 0.7), 60.0)


def _views(dem, law=None):
    frames = []
    for fid, tilt in (("R", 45.0), ("S", -30.0)):
        cam = aimed_camera(tilt)
        scene = render_iof(cam, SURFACE, supersample=2, terrain=Terrain(dem), law=law)
        meta = FrameMeta(id=fid, path=Path(f"/synthetic/{fid}.tif"), format="tiff", shape=scene.iof.shape,
                         dtype="float32")
        frames.append(Frame(meta=meta, camera=cam, data=scene.iof, mask=~scene.on_body))
    return frames


@pytest.fixture(scope="module")
def opposite_views(relief_dem):
    return relief_dem, _views(relief_dem)


def _errors(dem, fr, fs):
    """Tie points of the pair through the DEM: (distance to the truth, its component along the
    samples: the look direction), reference pixels."""
    m = match_frames_area(fr, fs, RegistrationParams(), seed=0, dem=dem)
    assert len(m) >= 100, m.reason
    xyz, _ = fs.camera.image_to_ground_hit(m.img_j[:, 0], m.img_j[:, 1], dem=dem)
    line, sample = fr.camera.ground_to_image(xyz)
    return np.hypot(line - m.img_i[:, 0], sample - m.img_i[:, 1]), sample - m.img_i[:, 1]


def test_shading_normalised_views_tie_without_the_look_direction_bias(opposite_views):
    """Measured: raw images 0.22 px median / 0.41 px p90, biased -0.21 px along the look;
    shading-normalised with the surface's law (lunar-Lambert L = 0.5) 0.03 / 0.06 px, bias
    -0.01 px (with the default, McEwen's L(phase): 0.15 / 0.31 px, +0.12 px)."""
    dem, (fr, fs) = opposite_views
    _, along_raw = _errors(dem, fr, fs)
    assert np.median(along_raw) < -0.1  # the bias the normalisation removes
    err, along = _errors(dem, shading_normalised(fr, dem, lunar_lambert_l=0.5),
                         shading_normalised(fs, dem, lunar_lambert_l=0.5))
    assert np.median(err) < 0.08 and np.percentile(err, 90) < 0.15, (np.median(err), np.percentile(err, 90))
    assert abs(np.median(along)) < 0.05


def test_the_default_law_takes_the_shading_of_a_hapke_surface_out(relief_dem):
    """Rendered with LROC's Hapke (WAC 643 nm, roughness 23.7 deg): shading predicted with the
    default McEwen L(phase) leaves 0.058 px median / 0.117 px p90, -0.03 px along the look
    (measured); with lunar-Lambert L = 0.5 0.18 / 0.37 px, -0.17 px."""
    fr, fs = _views(relief_dem, scattering_law("hapke_lroc"))
    err, along = _errors(relief_dem, shading_normalised(fr, relief_dem), shading_normalised(fs, relief_dem))
    assert np.percentile(err, 90) < 0.2 and abs(np.median(along)) < 0.08, (np.percentile(err, 90), np.median(along))
    err, along = _errors(relief_dem, shading_normalised(fr, relief_dem, lunar_lambert_l=0.5),
                         shading_normalised(fs, relief_dem, lunar_lambert_l=0.5))
    assert np.percentile(err, 90) > 0.25 and np.median(along) < -0.1  # the wrong law's bias


def test_over_craters_the_bias_is_the_laws_emission_dependence(relief_dem):
    """The same views rendered with a Lambert law (brightness independent of the view; each
    slope still seen at a different resolution from each side) tie without the bias, frames
    as they are: measured 0.05 px median / 0.12 px p90, +0.03 px along the look (lunar-Lambert
    L = 0.5: 0.22 / 0.41 px, -0.21 px). Over oblique_relief's steeper walls the resolution
    dominates instead (docs/mosaic.md): the shading division takes out both."""
    fr, fs = _views(relief_dem, scattering_law("lambert"))
    err, along = _errors(relief_dem, fr, fs)
    assert abs(np.median(along)) < 0.06 and np.percentile(err, 90) < 0.2, (np.median(along), np.percentile(err, 90))


def test_relief_shading_follows_the_slopes_and_masks_what_faces_away(opposite_views):
    """The predicted shading is the image's brightness over its albedo (correlation > 0.9
    where lit), and pixels whose slopes turn from the Sun are masked, not divided."""
    dem, (fr, _) = opposite_views
    shade, hit = relief_shading(fr.camera, dem)
    scene = render_iof(fr.camera, SURFACE, supersample=2, terrain=Terrain(dem), shadows=False)
    ok = hit & scene.on_body & (scene.albedo > 0)
    ratio = scene.iof[ok] / scene.albedo[ok]
    assert np.corrcoef(ratio, shade[ok])[0, 1] > 0.9
    out = shading_normalised(fr, dem)
    dark = shade < 0.2 * np.median(shade[hit])
    assert out.mask[dark].all() and not out.mask[~dark & ~fr.mask & hit].any()
    assert np.all(out.data[out.mask] == 0) and fr.data is not out.data
