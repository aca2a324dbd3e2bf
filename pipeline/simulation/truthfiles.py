"""Writers of the truth documents of a simulated survey (``OUTDIR/truth/``).

Pure helpers of :func:`pipeline.simulation.simulate_survey`: the photometry and pipeline
config blocks of ``survey.json``, the detector files, the truth DEM GeoTIFF, film masks,
and deterministic bytes (no wall-clock time in zip members, JSON in a fixed key order). The
default survey's documents are exactly those of earlier versions: blocks for the new options
are added only when the option is used.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS as RioCRS

from pipeline.simulation.film import reseau_positions
from pipeline.simulation.writers import dump_json

TRUTH_DIR = "truth"
DEM_FILE = "dem.tif"
FILM_MASKS_FILE = "film_masks.npz"

def rounded(x: float, nd: int = 6) -> float:
    """``round(float(x), nd)``: the precision of numbers in the truth files."""
    return round(float(x), nd)


NORMAL_ALBEDO_DEFINITION = (
    "normal albedo N(x) = I/F normalised to the standard geometry (i, e, g) = (30, 0, 30) deg under the true "
    "law = I/F * f(30, 0, 30) / f(i, e, g) = A(x) * f(30, 0, 30), A = surface albedo (Surface.albedo), "
    "f = the rendering law (i, e from the topographic normal over relief)"
)


def photometry_truth(rad, dparams, supersample: int, law=None) -> dict[str, Any]:
    """The ``photometry`` block of ``survey.json``.

    Parameters
    ----------
    rad : Radiometry
    dparams : DetectorParams
    supersample : int
    law : PhotometricLaw, optional
        A non-default law: recorded with its parameters and the normal-albedo factor.
    """
    out: dict[str, Any] = {
        "model": "lunar_lambert",
        "lunar_lambert_l": rad.lunar_lambert_l,
        "formula": "I/F = albedo * (2 L cos(i) / (cos(i) + cos(e)) + (1 - L) cos(i)), albedo = normal albedo",
    }
    if law is not None:
        out = {
            "model": law.name,
            "law": law.to_dict(),
            "formula": f"I/F = albedo * f(i, e, g), {law.formula}",
            "normal_albedo": {
                "definition": NORMAL_ALBEDO_DEFINITION,
                "standard_deg": [30.0, 0.0, 30.0],
                "factor": round(law.normal_albedo_factor(), 12),
            },
        }
    out.update({
        "radiance": "L = I/F * solar_irradiance / (pi * d_au**2)  [W m-2 sr-1 um-1], "
        "d_au = |sun_position - ground point| / AU",
        "dn": "DN = rint(Poisson(gain * (responsivity * L * flat + dark_rate) * t) / gain + cosmic "
        "+ bias + drift + N(0, read_noise)), clipped to 0..4095",
        "solar_irradiance_w_m2_um": rad.solar_irradiance,
        "responsivity_dn_s_per_radiance": rad.responsivity,
        "sun_distance_au": rad.sun_distance_au,
        "psf_sigma_px": dparams.psf_sigma_px,
        "supersample": supersample,
    })
    return out


_PIPELINE_MODELS = {"lommel_seeliger": "lommel_seeliger", "lunar_lambert_mcewen": "lunar_lambert"}


def pipeline_photometry(rad, law=None) -> dict[str, Any] | None:
    """``calibration.photometry`` keys of the pipeline config matching the law (None: the
    pipeline has no matching model, e.g. Hapke or a user callable)."""
    if law is None:
        return {"model": "lunar_lambert", "lunar_lambert_l": rad.lunar_lambert_l}
    if law.name == "lunar_lambert" and law.builtin:
        return {"model": "lunar_lambert", "lunar_lambert_l": law.parameters["L"]}
    if law.builtin and law.name in _PIPELINE_MODELS:
        return {"model": _PIPELINE_MODELS[law.name]}
    return None


def pipeline_config(rad, dparams, law=None, film: bool = False) -> dict[str, Any]:
    """The farside config keys matching the simulation (``truth/calibration_config.yaml``)."""
    phot = pipeline_photometry(rad, law)
    if film:
        cal: dict[str, Any] = {"cosmic_rays": False}
    else:
        cal = {
            "responsivity": rad.responsivity,
            "solar_irradiance": rad.solar_irradiance,
            "saturation_dn": float(dparams.saturation_dn),
            "gain_e_per_dn": dparams.gain_e_per_dn,
        }
    if phot is not None:
        cal["photometry"] = phot
    return {"calibration": cal}


def yaml_text(d: dict[str, Any], indent: int = 0) -> str:
    """The tiny YAML subset of ``calibration_config.yaml`` (nested dicts of scalars)."""
    out = "" if indent else "# farside config keys matching the simulated instrument (merge into your config)\n"
    for k, v in d.items():
        if isinstance(v, dict):
            out += " " * indent + f"{k}:\n" + yaml_text(v, indent + 2)
        else:
            out += " " * indent + f"{k}: {v}\n"
    return out


def deterministic_npz(arrays: dict[str, np.ndarray]) -> bytes:
    """``np.savez_compressed`` bytes with fixed member timestamps (numpy stamps the wall clock)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for item in sorted(src.infolist(), key=lambda i: i.filename):
            info = zipfile.ZipInfo(item.filename, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(item.filename))
    return out.getvalue()


def write_detector_truth(truth_dir: Path, seed: int, size: tuple[int, int], dparams, detector) -> list[str]:
    """``detector.npz`` (float16 flat, dark rate, bias) and ``detector.json``; their names."""
    (truth_dir / "detector.npz").write_bytes(deterministic_npz({
        "flat": detector.flat.astype(np.float16),
        "dark_rate": detector.dark_rate.astype(np.float16),
        "bias": detector.bias.astype(np.float16),
    }))
    (truth_dir / "detector.json").write_text(
        dump_json({"seed": int(seed), "shape": list(size), "params": dparams.to_dict(), **detector.defects()}),
        encoding="utf-8", newline="\n",
    )
    return ["detector.npz", "detector.json"]


def write_dem(path: Path, dem) -> None:
    """Write a truth DEM as a tiled, deflate-compressed float32 GeoTIFF in its lunar CRS.

    Heights in metres above the datum sphere (``datum_radius_m``, tag ``DATUM_RADIUS_M``),
    nodata NaN, ``AREA_OR_POINT=Area`` (post centres at +0.5 pixel).
    """
    values = dem.values.astype(np.float32)
    rows, cols = values.shape
    profile = {
        "driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": "float32",
        "crs": RioCRS.from_wkt(dem.crs_wkt), "transform": dem.transform, "nodata": float("nan"),
        "compress": "deflate", "predictor": 3, "tiled": True, "blockxsize": 256, "blockysize": 256,
    }
    if rows < 256 or cols < 256:
        profile.update(tiled=False)
        profile.pop("blockxsize")
        profile.pop("blockysize")
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(values, 1)
        ds.update_tags(DATUM_RADIUS_M=f"{dem.datum_radius_m:.3f}", UNITS="m above the datum sphere",
                       SOURCE="farside pipeline.simulation relief truth")
        ds.update_tags(1, AREA_OR_POINT="Area")



def option_blocks(plan, relief_model, terrain, film_p, max_wobble_shift) -> dict[str, Any]:
    """``survey.json`` blocks of the options in use (none for a default survey).

    Parameters
    ----------
    plan : SurveyPlan
    relief_model : Relief or None
    terrain : Terrain or None
    film_p : FilmParams or None
    max_wobble_shift : float or None
        A non-default wobble limit (None: the default).
    """
    out: dict[str, Any] = {}
    if max_wobble_shift is not None:
        out["max_wobble_shift"] = max_wobble_shift
    if "oblique" in plan.extras:
        out["oblique"] = plan.extras["oblique"]
    if terrain is not None:
        dem = terrain.dem
        out["relief"] = {
            "params": relief_model.to_dict(),
            "dem": f"{TRUTH_DIR}/{DEM_FILE}",
            "dem_shape": list(dem.values.shape),
            "dem_spacing_m": round(terrain.spacing_m, 3),
            "datum_radius_m": dem.datum_radius_m,
            "height_range_m": [round(v, 3) for v in terrain.height_range_m],
            "conventions": "heights (m, float32) above the datum sphere, IAU_2015:30100 lon/lat degrees, bilinear "
            "between post centres (pixel-is-area, +0.5); each sub-pixel ray meets the DEM at its first hit; "
            "normals from central-difference gradients at the posts, bilinear; cast shadows from a per-Sun post map; "
            "the frames' *_center_deg angles are topographic (from the DEM normal)",
        }
    if film_p:

        out["film"] = {
            "params": film_p.to_dict(),
            "masks": f"{TRUTH_DIR}/{FILM_MASKS_FILE}",
            "mask_keys": "<frame id>/border, <frame id>/fiducials (bool, lines x samples)",
            "reseau_line_sample": reseau_positions(plan.size, film_p).tolist(),
            "tone": "DN = fog_dn + gain_dn_per_iof * I/F, + grain, fiducials at dark_dn/bright_dn, border = border_dn",
        }
    return out


__all__ = [
    "DEM_FILE",
    "FILM_MASKS_FILE",
    "NORMAL_ALBEDO_DEFINITION",
    "TRUTH_DIR",
    "deterministic_npz",
    "option_blocks",
    "photometry_truth",
    "pipeline_config",
    "rounded",
    "write_dem",
    "write_detector_truth",
    "yaml_text",
]
