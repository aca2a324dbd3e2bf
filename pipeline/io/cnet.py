"""The control network for ISIS, ASP and Autocnet: ISIS PVL (``Object = ControlNetwork``), CSV, Parquet.

The network is taken as plain column arrays, one row per measure (an observation of a point
in a frame), as :class:`pipeline.registration.ControlNetwork` holds them (:func:`columns_of`):
``point_id`` (int; ground control points are negative), ``frame_id``, ``line``, ``sample``
(farside/CSM image coordinates: the upper-left image corner is (0, 0), the centre of the first
pixel (0.5, 0.5)), ``lon_deg``, ``lat_deg`` (planetocentric, east-positive), residual
magnitudes ``residual_before_px`` / ``residual_after_px``, ``outlier`` and ``control`` (bool).

Formats, chosen by the file's extension (:func:`write_network`):

``.net`` / ``.pvl``
    ISIS's PVL control network, version 5 (what ``cnetbin2pvl`` prints and ``cnetpvl2bin``
    reads): one ``Object = ControlPoint`` per point, ``PointType = Free`` for tie points and
    ``Fixed`` for ground control (``AprioriXYZSource = Basemap`` with ``AprioriX/Y/Z``),
    ``AdjustedX/Y/Z`` in metres (body-fixed, on the reference sphere of radius ``radius_m``:
    the network holds longitude and latitude only), and one ``Group = ControlMeasure`` per
    measure with ``SerialNumber`` (the frame id unless ``serial_numbers`` maps it),
    ``MeasureType = RegisteredSubPixel`` and **ISIS's 1-based pixel convention**: the centre
    of the first pixel is sample 1, line 1, so ``Sample = sample + 0.5``. Outliers rejected by
    the adjustment carry ``JigsawRejected = True``.
``.csv``
    The columns as they are (farside's pixel convention), a header row, full precision.
``.parquet``
    The same table as Apache Parquet (needs ``pyarrow``).

:func:`read_network` reads all three back into the same columns.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import __version__
from pipeline.errors import MosaicError
from pipeline.geometry.body import lonlat_to_xyz_deg, xyz_to_lonlat_deg
from pipeline.geometry.grid import MOON_RADIUS_M
from pipeline.io.odl import Label, LabelSyntaxError, Quantity, parse_label

__all__ = ["COLUMNS", "FORMATS", "columns_of", "network_pvl", "read_network", "write_network"]

COLUMNS = ("point_id", "frame_id", "line", "sample", "lon_deg", "lat_deg",
           "residual_before_px", "residual_after_px", "outlier", "control")
"""The columns of a network, in file order."""

FORMATS = {".net": "pvl", ".pvl": "pvl", ".csv": "csv", ".parquet": "parquet"}
"""File extension -> format."""

ISIS_PIXEL_OFFSET = 0.5
"""ISIS sample/line = farside sample/line + 0.5 (ISIS's first pixel centre is 1.0, farside's 0.5)."""

_DTYPES = {"point_id": int, "frame_id": object, "outlier": bool, "control": bool}


def columns_of(network: Any) -> dict[str, np.ndarray]:
    """The columns of a ``ControlNetwork`` (or any object with those attributes) as arrays."""
    return {name: np.asarray(getattr(network, name)) for name in COLUMNS}


def _checked(columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise MosaicError(f"control network lacks column(s) {missing}")
    out = {c: np.asarray(columns[c], dtype=_DTYPES.get(c, float)).ravel() for c in COLUMNS}
    sizes = {c: v.size for c, v in out.items()}
    if len(set(sizes.values())) > 1:
        raise MosaicError(f"control network columns differ in length: {sizes}")
    return out


def _point_name(pid: int) -> str:
    return f"farside_gcp_{-1 - pid:06d}" if pid < 0 else f"farside_{pid:06d}"


def _point_number(name: str) -> int:
    if name.startswith("farside_gcp_"):
        return -1 - int(name.removeprefix("farside_gcp_"))
    return int(name.removeprefix("farside_"))


def _quote(text: str) -> str:
    return '"' + str(text).replace('"', "'") + '"'


def network_pvl(columns: Mapping[str, Any], *, radius_m: float = MOON_RADIUS_M, target: str = "Moon",
                network_id: str = "farside", description: str = "farside bundle adjustment",
                serial_numbers: Mapping[str, str] | None = None, created: datetime | None = None) -> str:
    """The network as ISIS PVL text (version 5; see the module docstring).

    Parameters
    ----------
    columns : mapping of column name to array
        :data:`COLUMNS`, one row per measure.
    radius_m : float
        Radius of the reference sphere the ground points lie on, metres.
    target, network_id, description : str
        Header keywords.
    serial_numbers : mapping, optional
        Frame id -> ISIS cube serial number (default: the frame id).
    created : datetime, optional
        ``Created`` / ``LastModified`` (default now, UTC).

    Examples
    --------
    >>> text = network_pvl({"point_id": [0, 0], "frame_id": ["a", "b"], "line": [10.5, 20.25],
    ...                     "sample": [3.5, 4.0], "lon_deg": [180.0, 180.0], "lat_deg": [0.0, 0.0],
    ...                     "residual_before_px": [1.0, 1.0], "residual_after_px": [0.1, 0.1],
    ...                     "outlier": [False, False], "control": [False, False]})
    >>> [" ".join(t.split()) for t in text.splitlines() if t.strip().startswith(("Sample", "Line"))][:2]
    ['Sample = 4.0', 'Line = 11.0']
    """
    cols = _checked(columns)
    serial = dict(serial_numbers or {})
    stamp = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    xyz = lonlat_to_xyz_deg(cols["lon_deg"], cols["lat_deg"], 0.0, (radius_m, radius_m))
    out = [
        "Object = ControlNetwork",
        f"  NetworkId    = {_quote(network_id)}",
        f"  TargetName   = {target}",
        f"  UserName     = {_quote('farside ' + __version__)}",
        f"  Created      = {stamp}",
        f"  LastModified = {stamp}",
        f"  Description  = {_quote(description)}",
        f"  TargetRadii  = ({radius_m!r}, {radius_m!r}, {radius_m!r}) <meters>",
        "  Version      = 5",
        "",
    ]
    order = np.argsort(cols["point_id"], kind="stable")
    pids = cols["point_id"][order]
    starts = np.flatnonzero(np.r_[True, pids[1:] != pids[:-1]]) if pids.size else np.zeros(0, int)
    for s, e in zip(starts, [*starts[1:], pids.size]):
        rows = order[s:e]
        first = rows[0]
        fixed = bool(cols["control"][first])
        x, y, z = (float(v) for v in xyz[first])
        out += ["  Object = ControlPoint",
                f"    PointType   = {'Fixed' if fixed else 'Free'}",
                f"    PointId     = {_point_name(int(pids[s]))}",
                f"    ChooserName = {_quote('farside')}",
                f"    DateTime    = {stamp}"]
        if fixed:
            out += ["    AprioriXYZSource = Basemap",
                    f"    AprioriX    = {x!r} <meters>", f"    AprioriY    = {y!r} <meters>",
                    f"    AprioriZ    = {z!r} <meters>"]
        out += [f"    AdjustedX   = {x!r} <meters>", f"    AdjustedY   = {y!r} <meters>",
                f"    AdjustedZ   = {z!r} <meters>", ""]
        for k in rows:
            fid = str(cols["frame_id"][k])
            out += ["    Group = ControlMeasure",
                    f"      SerialNumber = {_quote(serial.get(fid, fid))}",
                    "      MeasureType  = RegisteredSubPixel",
                    f"      Sample       = {float(cols['sample'][k]) + ISIS_PIXEL_OFFSET!r}",
                    f"      Line         = {float(cols['line'][k]) + ISIS_PIXEL_OFFSET!r}"]
            if cols["outlier"][k]:
                out.append("      JigsawRejected = True")
            out += ["    End_Group", ""]
        out.append("  End_Object")
    out += ["End_Object", "End", ""]
    return "\n".join(out)


def _atomic_write(path: Path, writer) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    try:
        writer(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise MosaicError(f"{path}: cannot write the control network ({exc.strerror or exc})") from exc


def _format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise MosaicError(f"{path}: unknown control network format {path.suffix!r}; name the file "
                          f"with one of {', '.join(FORMATS)}")
    return fmt


def write_network(columns: Mapping[str, Any], path: str | Path, *, overwrite: bool = False,
                  **pvl_options: Any) -> Path:
    """Write the control network; the extension chooses the format (:data:`FORMATS`).

    Parameters
    ----------
    columns : mapping of column name to array
        :data:`COLUMNS` (e.g. ``columns_of(result.registration.network)``).
    path : str or Path
        ``.net``/``.pvl`` (ISIS PVL), ``.csv`` or ``.parquet``.
    overwrite : bool
        Replace an existing file.
    **pvl_options
        Passed to :func:`network_pvl` (``radius_m``, ``target``, ``serial_numbers``, ...).

    Raises
    ------
    MosaicError
        Unknown extension, existing file, missing columns, no ``pyarrow`` for Parquet, or
        the file cannot be written.
    """
    path = Path(path)
    fmt = _format_of(path)
    if path.exists() and not overwrite:
        raise MosaicError(f"{path} exists; pass --overwrite to replace it")
    cols = _checked(columns)
    if fmt == "pvl":
        text = network_pvl(cols, **pvl_options)
        _atomic_write(path, lambda p: p.write_text(text))
    elif fmt == "csv":
        def write_csv(p: Path) -> None:
            with p.open("w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(COLUMNS)
                for row in zip(*(cols[c].tolist() for c in COLUMNS)):
                    w.writerow([repr(v) if isinstance(v, float) else int(v) if isinstance(v, bool) else v
                                for v in row])
        _atomic_write(path, write_csv)
    else:
        try:
            import pyarrow as pa  # deferred: optional dependency, only for Parquet
            import pyarrow.parquet as pq  # deferred: as above
        except ImportError as exc:
            raise MosaicError(f"{path}: writing Parquet needs pyarrow (pip install pyarrow), "
                              "or name the file .csv or .net") from exc
        table = pa.table({c: (cols[c].astype(str) if c == "frame_id" else cols[c]) for c in COLUMNS})
        _atomic_write(path, lambda p: pq.write_table(table, p))
    return path


def _value(v: Any) -> Any:
    return v.value if isinstance(v, Quantity) else v


def _read_pvl(path: Path) -> dict[str, np.ndarray]:
    try:
        label = parse_label(path.read_text())
    except (OSError, UnicodeDecodeError, LabelSyntaxError) as exc:
        raise MosaicError(f"{path}: not a readable PVL control network ({exc})") from exc
    net = label.get("CONTROLNETWORK")
    if not isinstance(net, Label):
        raise MosaicError(f"{path}: no 'Object = ControlNetwork'")
    rows: dict[str, list] = {c: [] for c in COLUMNS}
    for point in net.all.get("CONTROLPOINT", []):
        pid = _point_number(str(point["POINTID"]))
        xyz = np.array([float(_value(point[k])) for k in ("ADJUSTEDX", "ADJUSTEDY", "ADJUSTEDZ")])
        lon, lat = xyz_to_lonlat_deg(xyz)
        for m in point.all.get("CONTROLMEASURE", []):
            rows["point_id"].append(pid)
            rows["frame_id"].append(str(m["SERIALNUMBER"]))
            rows["sample"].append(float(m["SAMPLE"]) - ISIS_PIXEL_OFFSET)
            rows["line"].append(float(m["LINE"]) - ISIS_PIXEL_OFFSET)
            rows["lon_deg"].append(float(lon))
            rows["lat_deg"].append(float(lat))
            rows["residual_before_px"].append(math.nan)  # not an ISIS keyword
            rows["residual_after_px"].append(math.nan)
            rows["outlier"].append(str(m.get("JIGSAWREJECTED", "False")).lower() == "true")
            rows["control"].append(str(point["POINTTYPE"]).lower() == "fixed")
    return _checked(rows)


def read_network(path: str | Path) -> dict[str, np.ndarray]:
    """Read a network written by :func:`write_network` back into columns (farside's pixel
    convention). From PVL the residual columns are NaN (ISIS keeps no residual magnitudes)
    and ``frame_id`` holds the serial numbers.

    Raises
    ------
    MosaicError
        Unknown extension or unreadable file.
    """
    path = Path(path)
    fmt = _format_of(path)
    if fmt == "pvl":
        return _read_pvl(path)
    if fmt == "csv":
        try:
            with path.open(newline="") as fh:
                data = list(csv.DictReader(fh))
        except OSError as exc:
            raise MosaicError(f"{path}: cannot read ({exc.strerror})") from exc
        conv = {"point_id": int, "frame_id": str, "outlier": lambda v: bool(int(v)),
                "control": lambda v: bool(int(v))}
        return _checked({c: [conv.get(c, float)(r[c]) for r in data] for c in COLUMNS})
    try:
        import pyarrow.parquet as pq  # deferred: optional dependency, only for Parquet
    except ImportError as exc:
        raise MosaicError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from exc
    table = pq.read_table(path)
    return _checked({c: table.column(c).to_numpy(zero_copy_only=False) for c in COLUMNS})
