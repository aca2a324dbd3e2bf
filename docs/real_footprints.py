"""Draw the footprints of the real far-side ALE ISDs on a longitude/latitude map.

Usage (from the project root)::

    .venv/bin/python docs/real_footprints.py [ISD_FOLDER] [--out docs/real_footprints.png]

``ISD_FOLDER`` defaults to ``../shared/reference/ale-isds`` (the USGS ALE test ISDs:
Clementine HIRES/LWIR/NIR and Apollo 15 Metric AS15-M-1450). Each footprint is
``FrameCamera.footprint_deg`` (continuous longitudes, east-positive, shown 0..360 so the
far side, centred on 180 E, is in one piece); the cross is the image-centre ground point.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pipeline.geometry.body import xyz_to_lonlat_deg
from pipeline.geometry import FrameCamera

ISDS = {
    "Clementine HIRES LHA0775Q.001": "clem_hires_isd.json",
    "Clementine LWIR LLA5391Q.209": "clem_lwir_isd.json",
    "Clementine NIR LNB4653M.093": "clem_nir_isd.json",
    "Apollo 15 Metric AS15-M-1450 (-Z)": "apollometric_isd.json",
}
COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red"]


def footprints(folder: Path):
    """``(label, lon ring 0..360-continuous, lat ring, centre lon, centre lat)`` per ISD."""
    out = []
    for label, name in ISDS.items():
        cam = FrameCamera.from_file(folder / name)
        lon, lat = cam.footprint_deg(32)
        shift = 360.0 * np.floor(np.mean(lon) / 360.0)  # show in 0..360 (far side in one piece)
        lon = lon - shift
        xyz, _ = cam.image_to_ground_hit(*cam.image_center)
        c_lon, c_lat = (float(v) for v in xyz_to_lonlat_deg(xyz))
        c_lon = c_lon % 360.0
        out.append((label, lon, lat, c_lon, c_lat))
    return out


def draw(folder: Path, out: Path) -> Path:
    rings = footprints(folder)
    fig = plt.figure(figsize=(12, 7.5))
    grid = fig.add_gridspec(2, 4, height_ratios=[1.6, 1.0])
    ax = fig.add_subplot(grid[0, :])
    ax.set_xlim(0, 360)
    ax.set_ylim(-90, 90)
    ax.axvspan(90, 270, color="0.93", zorder=0)
    ax.axvline(180, color="0.6", lw=0.8, ls="--")
    ax.text(180, -86, "far side (90-270 E)", ha="center", va="bottom", color="0.4", fontsize=9)
    for (label, lon, lat, c_lon, c_lat), colour in zip(rings, COLOURS):
        ax.fill(lon, lat, color=colour, alpha=0.5, lw=1.5, ec=colour)
        ax.plot(c_lon, c_lat, "+", color=colour, ms=14, mew=2, label=f"{label}: {abs(c_lat):.2f} {'N' if c_lat >= 0 else 'S'}, {c_lon:.2f} E")
    ax.set_xticks(range(0, 361, 30))
    ax.set_yticks(range(-90, 91, 30))
    ax.set_xlabel("longitude (deg E)")
    ax.set_ylabel("latitude (deg)")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    ax.set_title("Footprints of real far-side ALE frame ISDs (image-centre ground point: +)")
    for i, ((label, lon, lat, c_lon, c_lat), colour) in enumerate(zip(rings, COLOURS)):
        sub = fig.add_subplot(grid[1, i])
        sub.fill(lon, lat, color=colour, alpha=0.35, ec=colour, lw=1.5)
        sub.plot(lon[0], lat[0], "o", color="k", ms=4)  # first vertex: image (0, 0)
        sub.plot(c_lon, c_lat, "+", color="k", ms=12, mew=2)
        pad = 0.1 * max(np.ptp(lon), np.ptp(lat))
        sub.set_xlim(lon.min() - pad, lon.max() + pad)
        sub.set_ylim(lat.min() - pad, lat.max() + pad)
        sub.set_aspect(1.0 / np.cos(np.radians(np.mean(lat))))  # locally true shape
        sub.set_title(label.split(" (")[0], fontsize=8)
        sub.tick_params(labelsize=7)
        sub.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT.parent / "shared" / "reference" / "ale-isds")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "real_footprints.png")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder}: no such folder of ALE ISDs")
    print(draw(args.folder, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
