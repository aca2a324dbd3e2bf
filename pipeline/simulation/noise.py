"""Seam-free solid noise on the sphere, in plain numpy.

Noise is evaluated at body-fixed *unit vectors* (3-D points on the unit sphere), so a
field built from it has no seam at longitude +-180 and no singularity at the poles. The
basic primitive is 3-D *value noise*: pseudo-random values hashed from integer lattice
coordinates, interpolated with a quintic fade (C2-continuous). Each octave uses its own
random rotation and offset so the lattice axes never line up between octaves.

Everything is deterministic from integer seeds and independent of array chunking,
thread count and platform (integer hashing in ``uint32``; coordinates in ``float64``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.geometry.body import lonlat_to_xyz

_CHUNK = 65536  # points per block: keeps the temporaries in cache (4x faster than one pass)

_HX = np.uint32(0x8DA6B343)
_HY = np.uint32(0xD8163841)
_HZ = np.uint32(0xCB1AB31F)
_MIX1 = np.uint32(0x2C1B3C6D)
_MIX2 = np.uint32(0x297A2D39)
_INV24 = np.float32(1.0 / (1 << 24))


def _hash_to_unit(h: np.ndarray) -> np.ndarray:
    """Avalanche a uint32 hash and map it to float32 in [-1, 1)."""
    h = h ^ (h >> np.uint32(15))
    h = h * _MIX1
    h = h ^ (h >> np.uint32(12))
    h = h * _MIX2
    h = h ^ (h >> np.uint32(15))
    return (h >> np.uint32(8)).astype(np.float32) * (2 * _INV24) - np.float32(1.0)


def _fade(t: np.ndarray) -> np.ndarray:
    return t * t * t * (t * (t * np.float32(6) - np.float32(15)) + np.float32(10))


def value_noise3(q: np.ndarray, seed: int) -> np.ndarray:
    """3-D value noise at lattice coordinates.

    Parameters
    ----------
    q : ndarray of shape (3, N), float32
        Points in lattice units (one unit = one lattice cell); keep ``|q| < 2**20`` so the
        float32 fraction resolves better than 1/8 of a cell.
    seed : int
        Selects an independent noise field.

    Returns
    -------
    ndarray of shape (N,), float32
        Values in [-1, 1], C2-continuous in ``q``, zero mean.
    """
    q = np.asarray(q, dtype=np.float32)
    fl = np.floor(q)
    f = q - fl
    i = fl.astype(np.int32).view(np.uint32)  # two's complement wrap: fine for a hash
    u, v, w = _fade(f[0]), _fade(f[1]), _fade(f[2])
    hx0 = i[0] * _HX
    hx1 = hx0 + _HX
    hy0 = i[1] * _HY
    hy1 = hy0 + _HY
    hz0 = i[2] * _HZ + np.uint32(seed & 0xFFFFFFFF)
    hz1 = hz0 + _HZ
    a00, a10, a01, a11 = hx0 ^ hy0, hx1 ^ hy0, hx0 ^ hy1, hx1 ^ hy1
    c000 = _hash_to_unit(a00 ^ hz0)
    c100 = _hash_to_unit(a10 ^ hz0)
    c010 = _hash_to_unit(a01 ^ hz0)
    c110 = _hash_to_unit(a11 ^ hz0)
    c001 = _hash_to_unit(a00 ^ hz1)
    c101 = _hash_to_unit(a10 ^ hz1)
    c011 = _hash_to_unit(a01 ^ hz1)
    c111 = _hash_to_unit(a11 ^ hz1)
    x00 = c000 + u * (c100 - c000)
    x10 = c010 + u * (c110 - c010)
    x01 = c001 + u * (c101 - c001)
    x11 = c011 + u * (c111 - c011)
    y0 = x00 + v * (x10 - x00)
    y1 = x01 + v * (x11 - x01)
    return y0 + w * (y1 - y0)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3x3 rotation matrix (from a random unit quaternion)."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


@dataclass(frozen=True)
class Octave:
    """One octave of a noise sum: lattice cell size on the sphere and amplitude."""

    cell_m: float
    """Lattice cell size in metres on the body surface (features are about this size)."""
    amplitude: float
    """Weight of the octave (its values span [-amplitude, amplitude])."""


class SphereNoise:
    """A sum of randomly rotated value-noise octaves evaluated on a sphere.

    Parameters
    ----------
    octaves : sequence of Octave
        Cell sizes (m) and amplitudes.
    radius_m : float
        Radius of the sphere the cell sizes refer to (m).
    seed : int
        Seed of the rotations, offsets and lattice values.

    Examples
    --------
    >>> n = SphereNoise([Octave(50e3, 1.0), Octave(20e3, 0.5)], 1737400.0, seed=1)
    >>> xyz = np.array([[1.0, 0.0, 0.0]])
    >>> n(xyz).shape
    (1,)
    """

    def __init__(self, octaves: Sequence[Octave], radius_m: float, seed: int):
        self.octaves = tuple(octaves)
        rng = np.random.default_rng([int(seed), 0x5EED])
        self._mats = []
        self._offsets = []
        self._seeds = []
        for octave in self.octaves:
            freq = radius_m / octave.cell_m  # lattice cells per unit of the unit sphere
            self._mats.append(random_rotation(rng) * freq)
            self._offsets.append(rng.uniform(-1000.0, 1000.0, size=(3, 1)))
            self._seeds.append(int(rng.integers(0, 2**32 - 1)))

    def __call__(self, unit_xyz: np.ndarray) -> np.ndarray:
        """Evaluate at unit vectors.

        Parameters
        ----------
        unit_xyz : ndarray of shape (N, 3)
            Body-fixed unit vectors (float64).

        Returns
        -------
        ndarray of shape (N,), float32
        """
        p = np.asarray(unit_xyz, dtype=np.float64)
        n = p.shape[0]
        out = np.zeros(n, dtype=np.float32)
        for start in range(0, n, _CHUNK):
            block = np.ascontiguousarray(p[start : start + _CHUNK].T)
            acc = out[start : start + _CHUNK]
            x, y, z = block
            for octave, mat, off, s in zip(self.octaves, self._mats, self._offsets, self._seeds):
                # element-wise (not BLAS) so results never depend on the BLAS kernel
                q = np.empty((3, x.shape[0]), dtype=np.float32)
                for k in range(3):
                    q[k] = mat[k, 0] * x + mat[k, 1] * y + mat[k, 2] * z + off[k, 0]
                acc += np.float32(octave.amplitude) * value_noise3(q, s)
        return out


def lonlat_to_unit(lon_rad: np.ndarray, lat_rad: np.ndarray) -> np.ndarray:
    """Unit vectors of planetocentric longitude/latitude (radians), shape ``(..., 3)``."""
    return lonlat_to_xyz(lon_rad, lat_rad, radii=(1.0, 1.0))


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """Hermite step from 0 at ``e0`` to 1 at ``e1`` (clamped), float32."""
    t = np.clip((np.asarray(x, dtype=np.float32) - np.float32(e0)) / np.float32(e1 - e0), 0, 1)
    return t * t * (np.float32(3) - np.float32(2) * t)
