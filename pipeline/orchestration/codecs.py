"""Safe codecs for cached stage products: a value <-> a JSON tree plus named numpy arrays.

The work directory never holds pickles: a product is a zip archive (``.npz`` layout, members
stored uncompressed) of one ``tree.json`` and ``.npy`` arrays read with
``allow_pickle=False``. Loading one can build only the types registered here, from plain
data, so a planted or damaged product can at worst fail to decode; it cannot run code.

The tree is JSON in which every value that is not a JSON number, string, boolean, null or
list is an object ``{"$": TAG, ...}``; :data:`CODECS` maps each tag to its
:class:`Codec` (a type and an ``encode`` / ``decode`` pair). Tags: ``float`` (NaN and
infinities), ``scalar`` (numpy scalars, dtype kept), ``array`` (a reference to an ``.npy``
member; object arrays of ``str`` are stored as unicode arrays and given back as object
arrays), ``tuple``, ``dict`` (string keys), ``items`` (other keys), ``set``, ``frozenset``,
``bytes``, ``path``, ``datetime``, ``slice``, ``camera`` (through its ISD,
``to_isd`` / ``from_isd``, which round-trips bit for bit thanks to the ISD's ``farside``
block), and one tag per registered dataclass or enum (the class name: ``Frame``,
``FrameMeta``, ``RegistrationResult`` ...). Python floats are written with ``repr`` and
read back exactly; arrays keep their dtype, shape and bytes.

A type that is not registered cannot be stored (:class:`~pipeline.errors.ProductError`
naming it): register new product types with :func:`register_dataclass` or
:func:`register`.

Examples
--------
>>> import numpy as np
>>> tree, arrays = encode({"gain": np.arange(3.0), "ids": ("a", "b"), "ok": float("nan")})
>>> tree["$"], sorted(arrays)
('dict', ['a0'])
>>> back = decode(tree, arrays)
>>> back["ids"], back["gain"].tolist(), back["ok"] != back["ok"]
(('a', 'b'), [0.0, 1.0, 2.0], True)
>>> value = decode(*encode([1, 2.5, None, "x"]))
>>> value
[1, 2.5, None, 'x']
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import io
import json
import math
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from pipeline.calibration import DetectorMasters, Masters, MasterSet
from pipeline.calibration.hapke import HapkeParameters
from pipeline.calibration.photometric_fit import PhotometricFit
from pipeline.calibration.photometric_laws import Law
from pipeline.errors import ProductError
from pipeline.frame import Frame, FrameFailure, FrameMeta, FrameType
from pipeline.geometry.cameras import CameraBase
from pipeline.geometry.relief import ReliefModel
from pipeline.mosaicking.equalize import Equalization, OverlapStats
from pipeline.registration import ControlNetwork, FrameStatus, RegistrationResult, RegistrationStats
from pipeline.registration.bundle import CameraMotion, Convergence, FrameCorrection, GroundControl
from pipeline.registration.pairs import PairMatches

__all__ = [
    "CODECS",
    "Codec",
    "decode",
    "dumps",
    "encode",
    "loads",
    "register",
    "register_dataclass",
    "register_enum",
]

TREE_MEMBER = "tree.json"
_ARRAY_MEMBER = re.compile(r"a[0-9]{1,9}\.npy")

Encode = Callable[[Any], Any]
Decode = Callable[[Any], Any]


@dataclass(frozen=True)
class Codec:
    """How one type is written into a product tree and read back.

    Attributes
    ----------
    tag : str
        The ``"$"`` value that marks it in the tree.
    types : tuple of type
        Types it encodes (subclasses too, unless a more specific codec exists).
    encode : callable ``(value, enc) -> payload``
        ``payload`` is JSON made of what ``enc`` (the encoder of nested values) returns.
    decode : callable ``(payload, dec) -> value``
        Inverse of ``encode``; ``dec`` decodes nested values.
    """

    tag: str
    types: tuple[type, ...]
    encode: Callable[[Any, Encode], Any]
    decode: Callable[[Any, Decode], Any]


CODECS: dict[str, Codec] = {}
"""Tag -> codec: every type a cached product may contain (besides JSON's own)."""
_BY_TYPE: dict[type, Codec] = {}


def register(codec: Codec) -> Codec:
    """Add ``codec`` to :data:`CODECS` (its tag and types must be new)."""
    if codec.tag in CODECS or codec.tag in _BUILTIN_TAGS:
        raise ValueError(f"codec tag {codec.tag!r} is already registered")
    CODECS[codec.tag] = codec
    for t in codec.types:
        _BY_TYPE[t] = codec
    return codec


def register_dataclass(cls: type, tag: str | None = None) -> type:
    """Register a dataclass: its ``init`` fields are encoded by name and passed back to ``cls``."""
    names = [f.name for f in dataclasses.fields(cls) if f.init]

    def enc(value: Any, e: Encode) -> dict[str, Any]:
        return {name: e(getattr(value, name)) for name in names}

    def dec(payload: Any, d: Decode) -> Any:
        if not isinstance(payload, dict) or set(payload) - set(names):
            raise ProductError(f"{cls.__name__}: unexpected fields {sorted(payload)}")
        return cls(**{k: d(v) for k, v in payload.items()})

    register(Codec(tag or cls.__name__, (cls,), enc, dec))
    return cls


def register_enum(cls: type[enum.Enum]) -> type:
    """Register an enum: stored by value."""
    register(Codec(cls.__name__, (cls,), lambda v, e: e(v.value), lambda p, d: cls(d(p))))
    return cls


# ----------------------------------------------------------------------------------------
# the walker
# ----------------------------------------------------------------------------------------
def _float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"$": "float", "v": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def encode(value: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """``value`` as a JSON-ready tree and the arrays it references (``{"a0": ndarray, ...}``).

    Raises
    ------
    ProductError
        ``value`` holds a type without a codec (the message names it).
    """
    arrays: dict[str, np.ndarray] = {}

    def enc(v: Any) -> Any:
        t = type(v)
        if v is None or t in (bool, int, str):
            return v
        if t is float:
            return _float(v)
        if isinstance(v, np.generic):
            if v.dtype.hasobject or v.dtype.kind in "mMV":
                raise ProductError(f"cannot store a numpy {v.dtype} scalar in the work directory")
            return {"$": "scalar", "dtype": v.dtype.str, "v": enc(v.item())}
        if t is np.ndarray:
            return _store_array(v, arrays)
        if t is list:
            return [enc(x) for x in v]
        if t is tuple:
            return {"$": "tuple", "v": [enc(x) for x in v]}
        if t is dict:
            if all(type(k) is str for k in v):
                return {"$": "dict", "v": {k: enc(x) for k, x in v.items()}}
            return {"$": "items", "v": [[enc(k), enc(x)] for k, x in v.items()]}
        codec = _codec_for(t)
        if codec is None:
            raise ProductError(
                f"cannot store a {t.__module__}.{t.__qualname__} in the work directory: no codec; "
                "register one in pipeline/orchestration/codecs.py"
            )
        return {"$": codec.tag, "v": codec.encode(v, enc)}

    return enc(value), arrays


def _codec_for(t: type) -> Codec | None:
    for base in t.__mro__:
        codec = _BY_TYPE.get(base)
        if codec is not None:
            return codec
    return None


def _store_array(arr: np.ndarray, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    name = f"a{len(arrays)}"
    node: dict[str, Any] = {"$": "array", "ref": name}
    if arr.dtype.hasobject:
        flat = arr.ravel().tolist()
        if not all(type(x) is str for x in flat):
            kinds = sorted({type(x).__name__ for x in flat})
            raise ProductError(f"cannot store an object array of {kinds} in the work directory (only str)")
        arr = np.array(flat, dtype=str).reshape(arr.shape) if flat else np.zeros(arr.shape, dtype="U1")
        node["object"] = "str"
    arrays[name] = arr
    return node


def decode(tree: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """Inverse of :func:`encode`.

    Raises
    ------
    ProductError
        Unknown tag, missing array or a malformed node.
    """

    def dec(node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [dec(x) for x in node]
        if not isinstance(node, dict) or "$" not in node:
            raise ProductError(f"malformed product tree node {str(node)[:80]!r}")
        tag = node["$"]
        builtin = _BUILTIN_DECODERS.get(tag)
        if builtin is not None:
            return builtin(node, dec, arrays)
        codec = CODECS.get(tag)
        if codec is None:
            raise ProductError(f"unknown type tag {str(tag)[:40]!r} in a cached product")
        return codec.decode(node.get("v"), dec)

    try:
        return dec(tree)
    except ProductError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise ProductError(f"malformed product ({type(exc).__name__}: {exc})") from None


def _dec_array(node: dict, dec: Decode, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    arr = arrays[node["ref"]]
    if node.get("object") == "str":
        return arr.astype(object)
    return arr


def _dec_float(node: dict, dec: Decode, arrays) -> float:
    if node["v"] not in ("nan", "inf", "-inf"):
        raise ProductError(f"bad float {node['v']!r}")
    return float(node["v"])


def _dec_scalar(node: dict, dec: Decode, arrays) -> np.generic:
    dtype = np.dtype(node["dtype"])
    if dtype.hasobject or dtype.kind in "mMV":
        raise ProductError(f"bad scalar dtype {node['dtype']!r}")
    return dtype.type(dec(node["v"]))


def _dec_dict(node: dict, dec: Decode, arrays) -> dict:
    if not isinstance(node["v"], dict):
        raise ProductError("bad dict node")
    return {k: dec(v) for k, v in node["v"].items()}


_BUILTIN_DECODERS: dict[str, Callable[[dict, Decode, Mapping[str, np.ndarray]], Any]] = {
    "float": _dec_float,
    "scalar": _dec_scalar,
    "array": _dec_array,
    "tuple": lambda n, d, a: tuple(d(x) for x in n["v"]),
    "dict": _dec_dict,
    "items": lambda n, d, a: {_hashable(d(k)): d(v) for k, v in n["v"]},
}
_BUILTIN_TAGS = set(_BUILTIN_DECODERS)


def _hashable(key: Any) -> Any:
    hash(key)  # TypeError (a malformed product) for lists and dicts
    return key


# ----------------------------------------------------------------------------------------
# codecs of plain Python types
# ----------------------------------------------------------------------------------------
def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _set_members(v, e) -> list:
    """A set's encoded members in a canonical order: a set iterates in an order that depends on
    the process's string hashing (PYTHONHASHSEED), and equal values must give equal bytes."""
    return sorted((e(x) for x in v), key=lambda m: json.dumps(m, sort_keys=True, allow_nan=True))


register(Codec("set", (set,), _set_members, lambda p, d: {_hashable(d(x)) for x in p}))
register(Codec("frozenset", (frozenset,), _set_members, lambda p, d: frozenset(_hashable(d(x)) for x in p)))
register(Codec("bytes", (bytes,), lambda v, e: _b64(v), lambda p, d: _unb64(p)))
register(Codec("path", (PurePath,), lambda v, e: str(v), lambda p, d: Path(p)))
register(Codec("datetime", (datetime,), lambda v, e: v.isoformat(), lambda p, d: datetime.fromisoformat(p)))
register(Codec("slice", (slice,), lambda v, e: [e(v.start), e(v.stop), e(v.step)],
               lambda p, d: slice(*(d(x) for x in p))))


# ----------------------------------------------------------------------------------------
# cameras: through their ISD
# ----------------------------------------------------------------------------------------
def _camera_kinds() -> dict[str, type]:
    """Every camera class (a subclass of CameraBase) imported so far, by class name."""
    out: dict[str, type] = {}
    stack = [CameraBase]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            out.setdefault(sub.__name__, sub)
            stack.append(sub)
    return out


def _encode_camera(camera: Any, e: Encode) -> dict[str, Any]:
    isd = camera.to_isd()
    out = {"kind": type(camera).__name__, "isd": json.dumps(isd, allow_nan=True)}
    source = getattr(camera, "source_isd", None)
    if source is not None:
        out["source_isd"] = source
    return out


def _decode_camera(payload: Any, d: Decode) -> Any:
    kind = _camera_kinds().get(payload["kind"])
    if kind is None:
        raise ProductError(f"unknown camera kind {str(payload['kind'])[:40]!r}")
    camera = kind.from_isd(json.loads(payload["isd"]))
    source = payload.get("source_isd")
    if source is not None and dataclasses.is_dataclass(camera):
        camera = dataclasses.replace(camera, source_isd=str(source))
    return camera


register(Codec("camera", (CameraBase,), _encode_camera, _decode_camera))


# ----------------------------------------------------------------------------------------
# the products of the stages
# ----------------------------------------------------------------------------------------
register_enum(FrameType)
for _cls in (FrameMeta, Frame, FrameFailure, Masters, DetectorMasters, MasterSet, PairMatches, GroundControl,
             FrameCorrection, FrameStatus, RegistrationStats, Convergence, CameraMotion, ControlNetwork,
             RegistrationResult, OverlapStats, Equalization, HapkeParameters, Law, PhotometricFit, ReliefModel):
    register_dataclass(_cls)


# ----------------------------------------------------------------------------------------
# the file: a stored zip of tree.json + a<n>.npy
# ----------------------------------------------------------------------------------------
def dumps(value: Any) -> bytes:
    """``value`` as the bytes of a product file (deterministic for equal values).

    Examples
    --------
    >>> loads(dumps({"x": np.float32(1.5)}))
    {'x': np.float32(1.5)}
    """
    tree, arrays = encode(value)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_member(TREE_MEMBER), json.dumps(tree, allow_nan=False, separators=(",", ":")))
        for name, arr in arrays.items():
            with zf.open(_member(f"{name}.npy"), "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(arr), allow_pickle=False)
    return buf.getvalue()


def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed time: equal values, equal bytes
    info.compress_type = zipfile.ZIP_STORED
    return info


def loads(data: bytes) -> Any:
    """The value of a product file's bytes (see :func:`dumps`); never unpickles.

    Raises
    ------
    ProductError
        Not a product file: not a zip, unexpected or compressed members, an array whose
        header disagrees with its size, an object array, a malformed tree.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ProductError(f"not a product archive ({exc})") from None
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if names.count(TREE_MEMBER) != 1 or len(set(names)) != len(names):
            raise ProductError("not a product archive (no single tree.json)")
        arrays: dict[str, np.ndarray] = {}
        try:
            for info in infos:
                if info.compress_type != zipfile.ZIP_STORED:
                    raise ProductError(f"compressed member {info.filename!r}")
                if info.filename == TREE_MEMBER:
                    continue
                if not _ARRAY_MEMBER.fullmatch(info.filename):
                    raise ProductError(f"unexpected member {info.filename[:60]!r}")
                arrays[info.filename[:-4]] = _read_array(zf, info)
            tree = json.loads(zf.read(TREE_MEMBER).decode("utf-8"))
        except (zipfile.BadZipFile, OSError, UnicodeDecodeError, ValueError, EOFError) as exc:
            raise ProductError(f"damaged product archive ({type(exc).__name__}: {exc})") from None
    return decode(tree, arrays)


def _read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One ``.npy`` member, its header checked against its size before anything is allocated."""
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ProductError(f"{info.filename}: unsupported .npy version {version}")
        if dtype.hasobject:
            raise ProductError(f"{info.filename}: object arrays are never loaded")
        header = fh.tell()
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if info.file_size - header != expected:
        raise ProductError(f"{info.filename}: header says {expected} bytes, member has {info.file_size - header}")
    with zf.open(info) as fh:
        return np.lib.format.read_array(fh, allow_pickle=False)
