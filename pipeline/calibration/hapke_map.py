"""LROC WAC Hapke photometry as ISIS ``lrowacphomap`` applies it: model definition, parameter map.

ISIS takes two inputs besides the image and its angles:

- a PVL *model definition* (``PhotometricModel`` object: ``Units``, reference angles
  ``Incref``/``Emiref``/``Pharef``, ``Hfunc``, the algorithm ``Name = HapkeLROC`` and one
  ``Parameters`` group per WAC band: ``BandBinCenter`` and the 1-based ``Bands`` of the
  parameter map holding that band's parameters), read by :func:`read_model_definition`;
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
:func:`select_parameter_groups`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.calibration.hapke import HapkeParameters, hapke_lroc
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


# ---------------------------------------------------------------- the PVL model definition


@dataclass(frozen=True)
class ParameterGroup:
    """One ``Parameters`` group: a WAC band and where its parameters sit in the map.

    Parameters
    ----------
    band_center : float
        ``BandBinCenter`` (nm), matched against the image's ``BandBin/Center``.
    map_bands : tuple of int
        Zero-based bands of the parameter map (the PVL's ``Bands`` minus 1).
    """

    band_center: float
    map_bands: tuple[int, ...]


@dataclass(frozen=True)
class ModelDefinition:
    """A ``PhotometricModel`` definition (ISIS ``HapkeLROC``).

    Parameters
    ----------
    reference : (float, float, float)
        Reference incidence, emission and phase, **radians** (``Incref``, ``Emiref``,
        ``Pharef`` converted from the PVL's ``Units``).
    degrees : bool
        ``Units = Degrees``: the parameter map's ``theta`` is in degrees.
    groups : tuple of ParameterGroup
        In file order (the order matters in :func:`select_parameter_groups`).
    hfunc : str
        ``Hfunc`` (only ``HG`` exists).
    algorithm : str
        The ``Algorithm`` group's ``Name``.
    """

    reference: tuple[float, float, float]
    degrees: bool
    groups: tuple[ParameterGroup, ...]
    hfunc: str = "HG"
    algorithm: str = "HapkeLROC"


_TOKEN = re.compile(r'"[^"]*"|\'[^\']*\'|<[^>]*>|[()=,]|[^\s()=,"\'<>]+')


def _parse_pvl(text: str, source: str) -> dict:
    """A small PVL reader: nested ``{"keywords": {KEY: value}, "children": [(NAME, KIND, block)]}``.

    Enough for model definitions: ``Object``/``Group`` blocks closed by ``End_Object``,
    ``EndObject``, ``End_Group`` or ``EndGroup``; ``key = value`` with parenthesised lists
    (over several lines), quoted strings, ``<unit>`` suffixes (dropped), ``/* */`` and ``#``
    comments. Keys are upper-cased (ISIS matches them case-insensitively).
    """
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    text = re.sub(r"#[^\n]*", " ", text)
    tokens = [t for t in _TOKEN.findall(text) if not t.startswith("<")]
    root: dict = {"keywords": {}, "children": []}
    stack = [root]
    pos = 0

    def value_at(k: int):
        if tokens[k] != "(":
            return tokens[k].strip("\"'"), k + 1
        out, k = [], k + 1
        while k < len(tokens) and tokens[k] != ")":
            if tokens[k] != ",":
                out.append(tokens[k].strip("\"'"))
            k += 1
        return out, k + 1

    while pos < len(tokens):
        word = tokens[pos].upper()
        if word in ("END", "END_OBJECT", "ENDOBJECT", "END_GROUP", "ENDGROUP"):
            if word == "END":
                break
            if len(stack) == 1:
                raise PhotometricModelError(f"{source}: {tokens[pos]} closes nothing; check the PVL blocks")
            stack.pop()
            pos += 1
            if pos + 1 < len(tokens) and tokens[pos] == "=":  # "End_Group = Name"
                pos += 2
            continue
        if pos + 2 > len(tokens) or tokens[pos + 1] != "=":
            raise PhotometricModelError(f"{source}: expected 'keyword = value' near {tokens[pos]!r}")
        value, nxt = value_at(pos + 2)
        if word in ("OBJECT", "GROUP"):
            block = {"keywords": {}, "children": []}
            stack[-1]["children"].append((str(value).upper(), word, block))
            stack.append(block)
        else:
            stack[-1]["keywords"][word] = value
        pos = nxt
    if len(stack) != 1:
        raise PhotometricModelError(f"{source}: a PVL Object or Group is not closed; add its End_ line")
    return root


def read_model_definition(text: str, source: str = "<model definition>") -> ModelDefinition:
    """Parse an ISIS ``PhotometricModel`` PVL (e.g. ``hapke_full_reformatted.pvl``).

    Parameters
    ----------
    text : str
        The PVL text (the caller reads the file).
    source : str
        Name used in error messages (the file path).

    Returns
    -------
    ModelDefinition

    Raises
    ------
    PhotometricModelError
        No ``PhotometricModel`` object, an algorithm other than ``HapkeLROC``, an ``Hfunc``
        other than ``HG``, a missing reference angle or no ``Parameters`` group.

    Examples
    --------
    >>> d = read_model_definition('''Object = PhotometricModel
    ...   Units = Degrees
    ...   Incref = 60.0
    ...   Emiref = 0.0
    ...   Pharef = 60.0
    ...   Group = Algorithm
    ...     Name = HapkeLROC
    ...   EndGroup
    ...   Group = Parameters
    ...     BandBinCenter = 643
    ...     Bands = (46, 47, 48, 49, 50, 51, 52, 53, 54)
    ...   EndGroup
    ... EndObject''')
    >>> [round(float(np.degrees(a)), 6) for a in d.reference], d.groups[0].map_bands[:2]
    ([60.0, 0.0, 60.0], (45, 46))
    """
    tree = _parse_pvl(text, source)
    models = [b for name, kind, b in tree["children"] if name == "PHOTOMETRICMODEL" and kind == "OBJECT"]
    if not models:
        raise PhotometricModelError(
            f"{source}: no 'Object = PhotometricModel'; is this an ISIS photometry PVL?"
        )
    model = models[0]
    kw = model["keywords"]
    algorithm = next((b["keywords"].get("NAME") for n, _, b in model["children"] if n == "ALGORITHM"), None)
    algorithm = algorithm or kw.get("NAME")
    if str(algorithm).upper() != "HAPKELROC":
        raise PhotometricModelError(
            f"{source}: algorithm {algorithm!r} is not supported; set 'Name = HapkeLROC' in its Algorithm group"
        )
    hfunc = str(kw.get("HFUNC", "HG")).upper()
    if hfunc != "HG":
        raise PhotometricModelError(f"{source}: Hfunc {hfunc!r} is not supported (ISIS knows only HG)")
    degrees = str(kw.get("UNITS", "Radians")).upper() == "DEGREES"
    try:
        ref = tuple(float(kw[k]) for k in ("INCREF", "EMIREF", "PHAREF"))
    except KeyError as err:
        raise PhotometricModelError(
            f"{source}: the reference angle {err.args[0].title()} is missing"
        ) from None
    reference = tuple(float(np.radians(a)) if degrees else a for a in ref)
    groups = []
    for name, _, block in model["children"]:
        if name != "PARAMETERS":
            continue
        bands = block["keywords"].get("BANDS")
        center = block["keywords"].get("BANDBINCENTER")
        if bands is None or center is None:
            raise PhotometricModelError(f"{source}: a Parameters group lacks BandBinCenter or Bands")
        bands = bands if isinstance(bands, list) else [bands]
        groups.append(ParameterGroup(float(center), tuple(int(b) - 1 for b in bands)))
    if not groups:
        raise PhotometricModelError(f"{source}: no Parameters group; add one per band (BandBinCenter, Bands)")
    return ModelDefinition(reference, degrees, tuple(groups), hfunc, str(algorithm))


def select_parameter_groups(
    definition: ModelDefinition, band_centers: Sequence[float], band: int = 1, *, isis_compat: bool = False
) -> tuple[ParameterGroup, ParameterGroup]:
    """The parameter groups for the pixel model and for the reference value of one image band.

    Parameters
    ----------
    definition : ModelDefinition
    band_centers : sequence of float
        The image cube's ``BandBin/Center`` (nm). With ``isis_compat`` give them as ISIS
        sees the opened cube: a cube opened with a band selection (``from=cube.cub+1``)
        has only the selected bands' centres in its label.
    band : int
        1-based band of the image (in ``band_centers``).
    isis_compat : bool
        False (default): both are the group whose ``BandBinCenter`` equals the band's
        centre. True: what ISIS ``HapkeLROC`` really does, for reproducing its output: a
        group whose centre matches no image band keeps band 1, the *last* group of the band
        gives the pixel model, and the reference value is the *first* group's (its
        ``photometry`` caches the result by angles only, so every group's reference value
        after the first is the first one's). On the ISIS functional test (WAC VIS band 1 at
        415 nm) that is the 689 nm parameters for the pixel and the 321 nm reference: the
        output is 2.0 times the band-matched normalisation on average.

    Returns
    -------
    pixel_group, reference_group : ParameterGroup

    Raises
    ------
    PhotometricModelError
        No group for the band (its centre is not in the model definition).

    Examples
    --------
    >>> d = ModelDefinition((1.0, 0.0, 1.0), True, (ParameterGroup(321.0, (0,)),
    ...     ParameterGroup(415.0, (1,)), ParameterGroup(689.0, (2,))))
    >>> [g.band_center for g in select_parameter_groups(d, [415.0])]
    [415.0, 415.0]
    >>> [g.band_center for g in select_parameter_groups(d, [415.0], isis_compat=True)]
    [689.0, 321.0]
    """
    centers = [float(c) for c in band_centers]
    if not 1 <= band <= len(centers):
        raise PhotometricModelError(f"band {band} is not in the image's {len(centers)} BandBin centres")
    if isis_compat:
        assigned = []
        for group in definition.groups:
            matches = [j + 1 for j, c in enumerate(centers) if c == group.band_center]
            assigned.append(matches[-1] if matches else 1)
        chosen = [g for g, b in zip(definition.groups, assigned, strict=True) if b == band]
    else:
        chosen = [g for g in definition.groups if g.band_center == centers[band - 1]]
        chosen = chosen[-1:]
    if not chosen:
        raise PhotometricModelError(
            f"no Parameters group with BandBinCenter = {centers[band - 1]:g} in the model definition; "
            "add one for this band"
        )
    return chosen[-1], chosen[0]


# ---------------------------------------------------------------- the parameter map


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
