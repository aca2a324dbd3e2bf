"""LROC WAC Hapke photometry as ISIS ``lrowacphomap`` applies it: model definition, parameter map.

ISIS takes two inputs besides the image and its angles:

- a PVL *model definition* (``PhotometricModel`` object: ``Units``, reference angles
  ``Incref``/``Emiref``/``Pharef``, ``Hfunc``, the algorithm ``Name = HapkeLROC`` and one
  ``Parameters`` group per WAC band: ``BandBinCenter`` and the 1-based ``Bands`` of the
  parameter map holding that band's parameters), read by
  :func:`pipeline.calibration.hapke_definition.read_model_definition`;
- a *parameter map*: a map-projected cube (LROC's: 7 WAC bands x 9 parameters = 63 bands,
  equirectangular, 70 S - 70 N) whose ``BandBin/Name`` names each band's parameter
  (``w, b, c, Bco, hc, Bso, hs, theta, phi``), held by :class:`ParameterMap`.

Each pixel takes the parameters of the map cell holding its latitude/longitude, exactly as
``HapkeLROC::photometry`` finds it (equirectangular forward projection, then
``int(world + 0.5)``), and is normalised as ``I/F * r(ref; p_ref) / r(i, e, g; p)``
(:func:`lrowac_correction`). Labels and pixels are read by the caller (the edge): these
functions take text, plain mappings and arrays. Angles and latitudes/longitudes are radians
here; the PVL's degrees are converted when read.

``isis_compat=True`` reproduces which parameter groups ISIS really uses for a band; see
:func:`pipeline.calibration.hapke_definition.select_parameter_groups`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.calibration.hapke import HapkeParameters, hapke_lroc
from pipeline.calibration.hapke_definition import ModelDefinition, ParameterGroup, select_parameter_groups
from pipeline.errors import PhotometricModelError

ISIS_VALID_MIN_REAL = np.float32(np.frombuffer(np.uint32(0xFF7FFFFA).tobytes(), dtype=np.float32)[0])
"""Smallest valid value of an ISIS ``Real`` (float32) cube; NULL, LRS, LIS, HIS and HRS are
the five float32 values below it (ISIS ``SpecialPixel.h``)."""

_PARAMETER_NAMES = {
    "W": "w",
    "B": "b",
    "C": "c",
    "BCO": "bc0",
    "HC": "hc",
    "BSO": "bs0",
    "HS": "hs",
    "THETA": "theta",
    "PHI": "phi",
}
"""ISIS's upper-cased parameter band names -> :class:`HapkeParameters` fields."""


def isis_valid(values: np.ndarray) -> np.ndarray:
    """True where a value read from an ISIS ``Real`` cube is a valid pixel (not NULL/LRS/LIS/HIS/HRS).

    GDAL reports only NULL as nodata; the other four special values arrive as ordinary,
    hugely negative floats, so mask all five here (and NaN).

    Examples
    --------
    >>> null = np.frombuffer(np.uint32(0xFF7FFFFB).tobytes(), dtype=np.float32)[0]
    >>> isis_valid(np.array([1.0, null, np.nan], dtype=np.float32)).tolist()
    [True, False, False]
    """
    values = np.asarray(values)
    return np.isfinite(values) & (values >= ISIS_VALID_MIN_REAL)


@dataclass(frozen=True)
class ParameterMap:
    """A map-projected Hapke parameter cube (equirectangular / simple cylindrical, sphere).

    Parameters
    ----------
    data : ndarray of shape (bands, lines, samples)
        The cube's values (float32 as read); ISIS special pixels are recognised by
        :func:`isis_valid`.
    names : tuple of str
        ``BandBin/Name`` per band (``w, b, c, Bco, hc, Bso, hs, theta, phi`` repeated).
    radius_m : float
        Sphere radius (the projection's ``EquatorialRadius``; ISIS uses the local radius at
        the centre latitude, the same on a sphere).
    center_lat, center_lon : float
        Projection centre, radians (``CenterLatitude``, ``CenterLongitude``).
    upper_left_x_m, upper_left_y_m, resolution_m : float
        ``UpperLeftCornerX``/``Y`` (the corner of the first pixel) and ``PixelResolution``.
    positive_west : bool
        ``LongitudeDirection = PositiveWest``.
    domain_180 : bool
        ``LongitudeDomain = 180``.
    """

    data: np.ndarray
    names: tuple[str, ...]
    radius_m: float
    center_lat: float
    center_lon: float
    upper_left_x_m: float
    upper_left_y_m: float
    resolution_m: float
    positive_west: bool = False
    domain_180: bool = False

    @classmethod
    def from_isis_label(
        cls, data: np.ndarray, mapping: Mapping, names: Sequence[str], source: str = "<parameter map>"
    ) -> ParameterMap:
        """Build from the cube's ``Mapping`` group (a mapping of keyword -> value, any case).

        Values may be numbers, strings or pvl ``Quantity`` objects (``.value``).
        """
        m = {str(k).upper(): (getattr(v, "value", v)) for k, v in mapping.items()}
        projection = str(m.get("PROJECTIONNAME", "")).upper()
        if projection not in ("EQUIRECTANGULAR", "SIMPLECYLINDRICAL"):
            raise PhotometricModelError(
                f"{source}: parameter map projection {projection or '?'} is not supported; "
                "reproject it to Equirectangular (ISIS map2map)"
            )
        eq, pol = float(m["EQUATORIALRADIUS"]), float(m.get("POLARRADIUS", m["EQUATORIALRADIUS"]))
        if str(m.get("LATITUDETYPE", "Planetocentric")).upper() != "PLANETOCENTRIC" and eq != pol:
            raise PhotometricModelError(
                f"{source}: planetographic latitudes on an ellipsoid are not supported"
            )
        data = np.asarray(data)
        if data.ndim != 3 or data.shape[0] != len(names):
            raise PhotometricModelError(
                f"{source}: {len(names)} BandBin names for data of shape {data.shape}; read every band"
            )
        return cls(
            data=data,
            names=tuple(str(n) for n in names),
            radius_m=eq,
            center_lat=float(np.radians(float(m.get("CENTERLATITUDE", 0.0))))
            if projection != "SIMPLECYLINDRICAL"
            else 0.0,
            center_lon=float(np.radians(float(m["CENTERLONGITUDE"]))),
            upper_left_x_m=float(m["UPPERLEFTCORNERX"]),
            upper_left_y_m=float(m["UPPERLEFTCORNERY"]),
            resolution_m=float(m["PIXELRESOLUTION"]),
            positive_west=str(m.get("LONGITUDEDIRECTION", "PositiveEast")).upper() == "POSITIVEWEST",
            domain_180=str(m.get("LONGITUDEDOMAIN", "360")) == "180",
        )

    def cell_index(
        self, latitude: np.ndarray, longitude: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Zero-based (line, sample) of the map cell ISIS uses at each ground point, and inside flags.

        ISIS ``TProjection::SetUniversalGround`` then ``int(WorldX + 0.5)``: longitude to the
        map's direction and domain, ``x = R cos(clat) (lon - clon)``, ``y = R lat``,
        ``sample = (x - ULX)/res + 0.5``, ``line = (ULY - y)/res + 0.5`` (1-based, pixel
        centres at integers), truncated after adding 0.5.

        Parameters
        ----------
        latitude, longitude : ndarray
            Planetocentric latitude and east longitude, radians.
        """
        lon_deg = np.degrees(np.asarray(longitude, dtype=np.float64))
        lat = np.asarray(latitude, dtype=np.float64)
        if self.positive_west:
            lon_deg = -lon_deg
        if self.domain_180:
            lon_deg = np.where(
                (lon_deg < -180.0) | (lon_deg > 180.0), (lon_deg + 180.0) % 360.0 - 180.0, lon_deg
            )
        else:
            lon_deg = np.where((lon_deg < 0.0) | (lon_deg > 360.0), lon_deg % 360.0, lon_deg)
        lon = lon_deg * (np.pi / 180.0)
        if self.positive_west:
            lon = -lon
        clon = -self.center_lon if self.positive_west else self.center_lon
        x = self.radius_m * np.cos(self.center_lat) * (lon - clon)
        y = self.radius_m * lat
        world_s = (x - self.upper_left_x_m) / self.resolution_m + 0.5
        world_l = (self.upper_left_y_m - y) / self.resolution_m + 0.5
        with np.errstate(invalid="ignore"):
            s = np.trunc(world_s + 0.5)
            ln = np.trunc(world_l + 0.5)
        _, lines, samples = self.data.shape
        inside = (s >= 1) & (s <= samples) & (ln >= 1) & (ln <= lines)
        return np.where(inside, ln - 1, 0).astype(np.intp), np.where(inside, s - 1, 0).astype(np.intp), inside

    def parameters(
        self, group: ParameterGroup, line: np.ndarray, sample: np.ndarray, degrees: bool = True
    ) -> tuple[HapkeParameters, np.ndarray]:
        """The group's parameters at the given cells, and where they are all valid.

        ``theta`` is converted to radians when the definition's ``Units`` are degrees.

        Raises
        ------
        PhotometricModelError
            A group band outside the map, or a parameter name missing from the group.
        """
        if max(group.map_bands) >= self.data.shape[0]:
            raise PhotometricModelError(
                f"parameter group {group.band_center:g} nm names band {max(group.map_bands) + 1} of a "
                f"{self.data.shape[0]}-band parameter map; check the Bands keyword"
            )
        values: dict[str, np.ndarray] = {}
        valid = np.ones(np.shape(line), dtype=bool)
        for b in group.map_bands:
            key = _PARAMETER_NAMES.get(self.names[b].upper())
            if key is None:
                continue
            v = self.data[b][line, sample]
            valid &= isis_valid(v)
            values[key] = v.astype(np.float64)
        missing = [n.upper() for n in HapkeParameters.names() if n not in values]
        if missing:
            raise PhotometricModelError(
                f"parameter group {group.band_center:g} nm has no band named {', '.join(missing)} "
                "(BandBin/Name of the parameter map)"
            )
        if degrees:
            values["theta"] = np.radians(values["theta"])
        return HapkeParameters(**values), valid


def lrowac_correction(
    iof: np.ndarray,
    incidence: np.ndarray,
    emission: np.ndarray,
    phase: np.ndarray,
    latitude: np.ndarray,
    longitude: np.ndarray,
    definition: ModelDefinition,
    parameter_map: ParameterMap,
    band_centers: Sequence[float],
    band: int = 1,
    *,
    isis_compat: bool = False,
) -> np.ndarray:
    """Photometrically normalised I/F, as ISIS ``lrowacphomap`` with a backplane writes it.

    ``I/F * r(ref angles; p_ref) / r(i, e, g; p)`` with ``r`` :func:`hapke_lroc` and the
    parameters of each pixel's map cell (:meth:`ParameterMap.cell_index`).

    Parameters
    ----------
    iof : ndarray
        Image (I/F or any linear brightness), one band.
    incidence, emission, phase : ndarray
        Angles (radians), same shape (ISIS's backplane bands 3, 2 and 1, in degrees there).
    latitude, longitude : ndarray
        Planetocentric latitude and east longitude, radians (backplane bands 4 and 5).
    definition : ModelDefinition
    parameter_map : ParameterMap
    band_centers : sequence of float
        The image's ``BandBin/Center``; ``band`` (1-based) picks its entry.
    band : int
    isis_compat : bool
        Use ISIS's parameter groups (see :func:`select_parameter_groups`).

    Returns
    -------
    ndarray of float64
        NaN where an input is an ISIS special pixel or NaN, the pixel falls outside the
        parameter map, a parameter is special, or the model is not positive (Sun at or
        below the horizon). ISIS instead writes 0 outside the map and ``inf`` for an unlit
        pixel; elsewhere the values agree.
    """
    pixel_group, ref_group = select_parameter_groups(definition, band_centers, band, isis_compat=isis_compat)
    arrays = [np.asarray(a) for a in (iof, incidence, emission, phase, latitude, longitude)]
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays):
        raise PhotometricModelError(f"image and backplanes differ in shape: {[a.shape for a in arrays]}")
    ok = np.logical_and.reduce([isis_valid(a) for a in arrays])
    out = np.full(shape, np.nan)
    if not ok.any():
        return out
    img, inc, emi, pha, lat, lon = (a[ok].astype(np.float64) for a in arrays)
    line, sample, inside = parameter_map.cell_index(lat, lon)
    p_pix, valid_pix = parameter_map.parameters(pixel_group, line, sample, definition.degrees)
    p_ref, valid_ref = parameter_map.parameters(ref_group, line, sample, definition.degrees)
    i_ref, e_ref, g_ref = definition.reference
    with np.errstate(invalid="ignore", divide="ignore"):
        actual = hapke_lroc(inc, emi, pha, p_pix)
        standard = hapke_lroc(i_ref, e_ref, g_ref, p_ref)
        good = inside & valid_pix & valid_ref & (actual > 0) & np.isfinite(standard)
        out[ok] = np.where(good, img * standard / np.where(good, actual, 1.0), np.nan)
    return out
