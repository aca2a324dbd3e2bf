"""The ISIS ``PhotometricModel`` definition (PVL) of LROC's HapkeLROC, and its band groups.

``hapke_full_reformatted.pvl``-style text: ``Units``, the reference angles
``Incref``/``Emiref``/``Pharef``, ``Hfunc``, ``Algorithm/Name = HapkeLROC`` and one
``Parameters`` group per WAC band (``BandBinCenter``, the 1-based ``Bands`` of the
parameter map). :func:`read_model_definition` parses it (the caller reads the file);
:func:`select_parameter_groups` says which groups serve an image band, the way a clean
implementation would or the way ISIS really does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.errors import PhotometricModelError


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
