"""Overlap graph from footprints, and merging pairwise matches into tracks."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from pipeline.geometry.body import MOON_RADII_M
from pipeline.geometry.footprint import footprint, laea_forward, laea_inverse
from pipeline.geometry.overlap import connected_components, overlap_pairs
from pipeline.registration import PairMatches, build_tracks
from tests.registration.helpers import nadir_camera

R = MOON_RADII_M[0]


def test_overlap_area_of_two_nadir_frames_matches_geometry():
    # 200 x 200 px at 100 m: 20 km squares; shifted 8 km east -> 12 x 20 km = 240 km^2
    a = nadir_camera(180.0, 0.0)
    dlon = math.degrees(8000.0 / R)
    b = nadir_camera(180.0 + dlon, 0.0)
    (p,) = overlap_pairs([a, b])
    assert (p.i, p.j) == (0, 1)
    assert p.area_km2 == pytest.approx(240.0, rel=0.01)
    assert p.fraction == pytest.approx(0.6, rel=0.01)
    assert p.centre_lonlat_deg[0] % 360 == pytest.approx(180.0 + dlon / 2, abs=1e-3)
    assert footprint(a).area_km2 == pytest.approx(400.0, rel=0.01)


def test_survey_overlap_graph(survey):
    cams = {f.id: f.camera for f in survey.frames}
    pairs = overlap_pairs(cams)
    ids = list(cams)
    edges = {(p.id_i, p.id_j) for p in pairs}
    plan = survey.plan
    by_pos = {(f.strip, f.index): f.id for f in plan.frames}
    for (s, k), fid in by_pos.items():  # consecutive frames of a strip and neighbouring strips overlap
        if (s, k + 1) in by_pos:
            assert tuple(sorted((fid, by_pos[(s, k + 1)]), key=ids.index)) in edges
    assert all(p.i < p.j and p.area_km2 > 0 and 0 < p.fraction <= 1 for p in pairs)
    assert connected_components(len(ids), [(p.i, p.j) for p in pairs]).max() == 0
    # the survey straddles 180 E: the seam must not break anything
    lons = [p.centre_lonlat_deg[0] for p in pairs]
    assert min(abs(abs(lon) - 180.0) for lon in lons) < 1.0
    pickle.loads(pickle.dumps(pairs))


def test_no_pairs_for_distant_or_missing_cameras():
    a = nadir_camera(180.0, 0.0)
    b = nadir_camera(175.0, 0.0)
    assert overlap_pairs([a, b]) == []
    (p,) = overlap_pairs([a, None, a])
    assert (p.i, p.j) == (0, 2)
    assert overlap_pairs([a]) == []


def test_min_fraction_filters_small_overlaps():
    a = nadir_camera(180.0, 0.0)
    b = nadir_camera(180.0 + math.degrees(19000.0 / R), 0.0)  # 1 km x 20 km sliver
    assert len(overlap_pairs([a, b])) == 1
    assert overlap_pairs([a, b], min_fraction=0.1) == []
    assert overlap_pairs([a, b], min_area_km2=50.0) == []


def test_laea_round_trip_and_equal_area():
    rng = np.random.default_rng(0)
    centre = np.array([-0.3, 0.1, 0.9])
    centre /= np.linalg.norm(centre)
    u = centre + rng.normal(0, 0.05, (100, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    xy = laea_forward(u, centre, R)
    np.testing.assert_allclose(laea_inverse(xy, centre, R), u, atol=1e-12)
    # a polar cap of angular radius t has area 2 pi R^2 (1 - cos t)
    t = 0.05
    ang = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    pole = np.array([0.0, 0.0, 1.0])
    pts = np.stack([np.sin(t) * np.cos(ang), np.sin(t) * np.sin(ang), np.full(ang.shape, np.cos(t))], 1)
    p = laea_forward(pts, pole, R)
    area = 0.5 * abs(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1)))
    assert area == pytest.approx(2 * np.pi * R**2 * (1 - np.cos(t)), rel=1e-5)


def _pm(a, b, pa, pb):
    pa, pb = np.asarray(pa, float), np.asarray(pb, float)
    return PairMatches(0, 1, pa, pb, 1.0, id_i=a, id_j=b)


def test_tracks_chain_across_pairs():
    ab = _pm("A", "B", [[10, 10], [50, 50]], [[20, 20], [60, 60]])
    bc = _pm("B", "C", [[20.3, 19.8], [90, 90]], [[30, 30], [95, 95]])
    t = build_tracks([ab, bc], ["A", "B", "C"], merge_radius_px=1.0)
    assert t.n_tracks == 3
    lengths = sorted(t.track_lengths().tolist())
    assert lengths == [2, 2, 3]
    long = np.flatnonzero(t.track_lengths() == 3)[0]
    rows = t.track == long
    assert sorted(t.frame[rows].tolist()) == [0, 1, 2]
    b_obs = t.line_sample[rows & (t.frame == 1)][0]
    np.testing.assert_allclose(b_obs, [20.15, 19.9])  # the two B observations are averaged


def test_inconsistent_track_is_dropped():
    # A-B and B-C chain through B, and C-A closes the loop onto a different point of A
    ab = _pm("A", "B", [[10, 10]], [[20, 20]])
    bc = _pm("B", "C", [[20, 20]], [[30, 30]])
    ca = _pm("C", "A", [[30, 30]], [[15, 10]])
    ok = _pm("A", "C", [[100, 100]], [[110, 110]])
    t = build_tracks([ab, bc, ca, ok], ["A", "B", "C"], tolerance_px=2.0)
    assert t.n_inconsistent == 1
    assert t.n_tracks == 1
    assert len(t) == 2


def test_tracks_ignore_empty_and_unknown_frames():
    empty = PairMatches.empty(0, 1, "nothing")
    unknown = _pm("A", "Z", [[1, 1]], [[2, 2]])
    t = build_tracks([empty, unknown], ["A", "B"])
    assert t.n_tracks == 0 and len(t) == 0


def test_connected_components():
    labels = connected_components(5, [(0, 1), (3, 4)])
    assert labels.tolist() == [0, 0, 1, 2, 2]
