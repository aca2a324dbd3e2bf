"""Synthetic report inputs with known truth: a far-side mosaic across 180 E, frames tiling it
(one rejected), and tie-point observations with a known misregistration; reading the page
back (HTML, embedded PNGs) and rendering it in headless Chromium."""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import rasterio

from pipeline.geometry.body import lonlat_to_xyz_deg
from pipeline.geometry.grid import MapGrid
from pipeline.report import FrameRow, ReportData
from pipeline.report.data import TieObservations

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------
# Synthetic data: a far-side mosaic across 180 E, frames tiling it, one rejected
# ---------------------------------------------------------------------------------------
def footprints() -> list[tuple[str, list[tuple[float, float]]]]:
    """4 x 3 lon/lat boxes over 165..195 E, -13..13 N, slightly overlapping, with
    continuous longitudes (the middle column straddles 180 E)."""
    out = []
    k = 0
    for lat0 in (-13.0, -4.5, 4.0):
        for lon0 in (165.0, 172.0, 178.0, 186.0):
            lon1, lat1 = lon0 + 9.0, lat0 + 9.0
            k += 1
            out.append((f"F{k:02d}", [(lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1)]))
    return out


REJECTED_ID = "F07"  # second row, third column: interior, straddles 180 E (178..187 E)
REJECTED_REASON = "no ISD sidecar and no geolocated neighbour: cannot be placed"


def eqc_grid(resolution_m: float, half_lon: float = 18.0, half_lat: float = 15.0) -> MapGrid:
    # lon 162..198 E, lat -15..15 N in an equirectangular CRS centred on 180 E
    deg = np.pi / 180.0 * 1_737_400.0
    bounds = (-half_lon * deg, -half_lat * deg, half_lon * deg, half_lat * deg)
    return MapGrid.from_bounds("farside_eqc", bounds, resolution_m)


def write_mosaic(path: Path, grid: MapGrid, footprints, with_count: bool = True, nodata_nan: bool = True,
                 with_top_index: bool = False):
    """GeoTIFF with band 1 = I/F (NaN outside used footprints), band 2 = 'count' and, with
    ``with_top_index``, a band 'top_index': the first used footprint (by position in
    ``footprints``) holding the pixel, NaN where none. Returns the count (and the top index)."""
    lon, lat = grid.lonlat()
    lon = np.mod(lon, 360.0)
    count = np.zeros(grid.shape, np.uint16)
    top = np.full(grid.shape, -1, np.int32)
    for k, (fid, poly) in enumerate(footprints):
        if fid == REJECTED_ID:
            continue
        a = np.asarray(poly)
        inside = (
            (lon >= a[:, 0].min()) & (lon <= a[:, 0].max()) & (lat >= a[:, 1].min()) & (lat <= a[:, 1].max())
        )
        count += inside.astype(np.uint16)
        top[inside & (top < 0)] = k
    img = (0.12 + 0.03 * np.sin(np.radians(lon) * 40) * np.cos(np.radians(lat) * 35)).astype(np.float32)
    rng = np.random.default_rng(1)
    img += rng.normal(0, 0.004, img.shape).astype(np.float32)
    nodata = np.nan if nodata_nan else -9999.0
    img[count == 0] = nodata
    rows, cols = grid.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=cols,
        height=rows,
        count=1 + int(with_count) + int(with_top_index),
        dtype="float32",
        crs=grid.crs_wkt,
        transform=grid.transform,
        nodata=nodata,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
    ) as ds:
        ds.write(img, 1)
        ds.set_band_description(1, "I/F")
        if with_count:
            ds.write(count.astype(np.float32), 2)
            ds.set_band_description(2, "count")
        if with_top_index:
            ds.write(np.where(top >= 0, top, np.nan).astype(np.float32), 2 + int(with_count))
            ds.set_band_description(2 + int(with_count), "top_index")
    return (count, top) if with_top_index else count


def report_data(mosaic: Path, footprints, n_extra: int = 0) -> ReportData:
    rng = np.random.default_rng(7)
    frames = []
    for k, (fid, poly) in enumerate(footprints):
        rejected = fid == REJECTED_ID
        frames.append(
            FrameRow(
                id=fid,
                path=f"/data/raw/{fid.lower()}.IMG",
                format="PDS3",
                shape=(1024, 1024),
                exposure_s=0.0125,
                time_utc=f"2024-05-01T12:{k:02d}:00Z",
                status="rejected" if rejected else ("kept with prior pointing" if fid == "F12" else "used"),
                reason=REJECTED_REASON if rejected else "",
                level=0.12 + 0.001 * k,
                noise=0.004,
                masked_fraction=0.002 * k,
                cosmic_rays=3 + k,
                incidence_deg=(40.0 + k, 55.0 + k),
                emission_deg=(0.5, 12.0),
                tie_points=None if rejected else 40 + k,
                correction_deg=None if rejected else (0.01 * k, -0.002, 0.0005),
                residual_before_px=None if rejected else 2.0 + 0.1 * k,
                residual_after_px=None if rejected else 0.3 + 0.01 * k,
                gain=None if rejected else 1.0 + 0.01 * (k - 6),
                offset=None if rejected else 0.001 * (k - 6),
                footprint_lonlat=poly,
            )
        )
    for k in range(n_extra):  # more frames over the same area (for the timing test)
        fid, poly = footprints[k % len(footprints)]
        frames.append(
            FrameRow(
                id=f"X{k:02d}",
                path=f"/data/raw/x{k:02d}.IMG",
                format="FITS",
                shape=(512, 512),
                exposure_s=0.01,
                time_utc=None,
                status="used",
                footprint_lonlat=poly,
                residual_before_px=1.5,
                residual_after_px=0.2,
                gain=1.0,
                offset=0.0,
            )
        )
    used = [np.asarray(p) for fid, p in footprints if fid != REJECTED_ID]
    ties = np.vstack(
        [
            np.column_stack(
                [rng.uniform(a[:, 0].min(), a[:, 0].max(), 30), rng.uniform(a[:, 1].min(), a[:, 1].max(), 30)]
            )
            for a in used
        ]
    )
    n_obs = 2 * len(ties)
    return ReportData(
        mosaic_path=mosaic,
        frames=frames,
        residuals_before_px=rng.rayleigh(2.0, n_obs),
        residuals_after_px=rng.rayleigh(0.3, n_obs),
        tie_points_lonlat=ties,
        overlap_diff_before=rng.normal(0.01, 0.02, 400),
        overlap_diff_after=rng.normal(0.0, 0.003, 400),
        provenance={
            "inputs": [f"/data/raw/{fid.lower()}.IMG" for fid, _ in footprints],
            "config": {
                "grid": "farside_eqc_2km",
                "register": {"detector": "sift", "max_iter": 20},
                "mosaic": {"blend": "feather", "tile": 512},
                "path": Path("/tmp/x"),
            },
            "versions": {"farside": "0.1.0", "numpy": np.__version__, "rasterio": rasterio.__version__},
            "scheduler": {"kind": "threads", "workers": 2},
        },
        timings_s={"ingest": 1.2, "calibrate": 3.4, "register": 12.5, "mosaic": 8.0},
        notes=["absolute position limited by priors", "<script>alert('x')</script> escaped"],
    )


def overlap_boxes(fps) -> list[tuple[int, int, tuple[float, float, float, float]]]:
    """``(i, j, (lon0, lat0, lon1, lat1))`` of every pair of used footprints that overlap."""
    boxes = [(k, np.asarray(p)) for k, (fid, p) in enumerate(fps) if fid != REJECTED_ID]
    out = []
    for n, (i, a) in enumerate(boxes):
        for j, b in boxes[n + 1:]:
            lo = np.maximum(a.min(axis=0), b.min(axis=0))
            hi = np.minimum(a.max(axis=0), b.max(axis=0))
            if np.all(hi > lo):
                out.append((i, j, (lo[0], lo[1], hi[0], hi[1])))
    return out


def tie_observations(fps, shift_m: dict[str, tuple[float, float]], *, n_pair: int = 40,
                     n_with_shifted: int = 5, noise_m: float = 0.0, seed: int = 3) -> TieObservations:
    """Tie points in every overlap of the used footprints, each seen by both frames.

    Frame ``f`` of ``shift_m`` sees the ground ``shift_m[f] = (east_m, north_m)`` away from the
    truth (a known misregistration); the others see it where it is (plus ``noise_m`` of
    Gaussian noise per axis). Pairs involving a shifted frame get ``n_with_shifted`` tie points,
    the others ``n_pair``. Residual vectors are half of the frame's shift, in the direction
    from the observed to the true position (px = m / 1000).
    """
    rng = np.random.default_rng(seed)
    ids = [fid for fid, _ in fps]
    rows = {"frame": [], "point": [], "xyz": [], "res": []}
    pid = 0
    for i, j, (lon0, lat0, lon1, lat1) in overlap_boxes(fps):
        n = n_with_shifted if ids[i] in shift_m or ids[j] in shift_m else n_pair
        lon, lat = rng.uniform(lon0, lon1, n), rng.uniform(lat0, lat1, n)
        truth = lonlat_to_xyz_deg(lon, lat)
        up = truth / np.linalg.norm(truth, axis=1, keepdims=True)
        east = np.column_stack([-np.sin(np.radians(lon)), np.cos(np.radians(lon)), np.zeros(n)])
        north = np.cross(up, east)
        for k in (i, j):
            de, dn = shift_m.get(ids[k], (0.0, 0.0))
            noise = noise_m * (rng.normal(size=(n, 1)) * east + rng.normal(size=(n, 1)) * north)
            d = de * east + dn * north + noise
            rows["frame"] += [ids[k]] * n
            rows["point"].append(pid + np.arange(n))
            rows["xyz"].append(truth + d)
            rows["res"].append(-0.5 * d)
        pid += n
    res = np.vstack(rows["res"])
    return TieObservations(frame_id=np.array(rows["frame"]), point_id=np.concatenate(rows["point"]),
                           ground_xyz_m=np.vstack(rows["xyz"]), residual_px=res[:, :2] / 1000.0,
                           residual_ground_m=res)


# ---------------------------------------------------------------------------------------
# HTML helpers
# ---------------------------------------------------------------------------------------
class Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sections, self.imgs, self.rows, self.scripts_src = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id"))
        elif tag == "img":
            self.imgs.append(a.get("src", ""))
        elif tag == "tr" and "data-frame-id" in a:
            self.rows.append((a["data-frame-id"], a.get("class", "")))
        elif tag in ("script", "link") and (a.get("src") or a.get("href")):
            self.scripts_src.append(a.get("src") or a.get("href"))


def parse_html(text: str) -> Collect:
    p = Collect()
    p.feed(text)
    return p


def decode_png(uri: str) -> bytes:
    m = re.fullmatch(r"data:image/png;base64,([A-Za-z0-9+/=]+)", uri)
    assert m, f"not a base64 PNG data URI: {uri[:60]}"
    try:
        raw = base64.b64decode(m.group(1), validate=True)
    except binascii.Error as exc:  # pragma: no cover - failure path
        pytest.fail(f"bad base64: {exc}")
    assert raw.startswith(PNG_MAGIC)
    return raw


def png_pixels(raw: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(raw)) as im:
        im.load()
        return np.asarray(im.convert("RGB"))


# ---------------------------------------------------------------------------------------
# Headless Chromium (the ``chromium`` fixture is in conftest.py)
# ---------------------------------------------------------------------------------------
def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def run_chromium(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        *args,
    ]
    env = dict(os.environ, HOME=str(profile))
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60, env=env)
