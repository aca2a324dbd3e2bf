"""The sparse reduced camera system and its linear solvers.

Eliminating the ground points (one small ``npp x npp`` block each) from the normal
equations leaves the reduced camera system ``S dc = g`` with

    ``S = U - sum_t W_t V_t^-1 W_t^T``

where ``U`` is block-diagonal (one ``npf x npf`` block per frame) and track ``t`` couples
only the frames that observe it. ``S`` is therefore **block-sparse**: block ``(f, g)`` is
non-zero only when frames ``f`` and ``g`` share a tie point, so for a survey of strips it
has a few dozen blocks per frame row however many frames there are. :class:`ReducedPattern`
computes, once per adjustment round, which observation pairs feed which block; each
Levenberg-Marquardt step then fills the blocks with vectorised numpy (in chunks of
observation pairs) and solves with one of :data:`LINEAR_SOLVERS`:

- ``cholmod``: sparse Cholesky (CHOLMOD, via scikit-sparse when it is installed), the
  symbolic analysis (fill-reducing ordering) done once per round;
- ``splu``: scipy's SuperLU with a symmetric minimum-degree ordering and no pivoting
  (SPD), always available;
- ``pcg``: conjugate gradients preconditioned by the inverse diagonal blocks (Ceres'
  ITERATIVE_SCHUR with a block-Jacobi preconditioner), matrix never factorised.

The system is scaled by its diagonal (Jacobi) before solving: rotations (rad) and
positions (m) differ by orders of magnitude.

Measured on the scaling benchmark's networks (``bench/adjust_scaling.py``, 3 unknowns per
frame, one factorisation + solve, CPU seconds on the 2-core development machine):
10,000 images (30,003 unknowns, 1.3 M non-zeros): cholmod 0.63, splu 0.67, pcg 3.9-7.2
(to the 1e-12 relative residual the weak modes need); 60,000 images (179,895 unknowns,
8.0 M non-zeros): cholmod 5.8 (7.4 with the analysis), splu 12.5. Hence ``auto``: cholmod
when scikit-sparse is installed, else splu; pcg only where memory forbids a factorisation.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import sparse
from scipy.sparse import linalg as splinalg

from pipeline.errors import RegistrationError
from pipeline.registration.bundle.blocks import sum_by

log = logging.getLogger(__name__)

__all__ = ["LINEAR_SOLVERS", "ReducedPattern", "available_linear_solvers", "resolve_linear_solver"]

_PAIR_CHUNK = 500_000  # observation pairs per vectorised chunk (memory: chunk * npf^2 * 8 bytes)


def _have_cholmod() -> bool:
    try:
        import sksparse.cholmod  # noqa: F401  # deferred: optional dependency (the [sparse] extra), probe only
    except ImportError:
        return False
    return True


class ReducedPattern:
    """Block structure of the reduced camera system for fixed observations.

    Parameters
    ----------
    obs_frame, obs_track : ndarray of int (n_obs,)
    nf, npf : int
        Frames and unknowns per frame.
    """

    def __init__(self, obs_frame: np.ndarray, obs_track: np.ndarray, nf: int, npf: int):
        self.nf, self.npf = nf, npf
        order = np.lexsort((obs_frame, obs_track))
        t_sorted = obs_track[order]
        starts = np.flatnonzero(np.r_[True, t_sorted[1:] != t_sorted[:-1]]) if len(order) else np.zeros(0, int)
        lengths = np.diff(np.r_[starts, len(order)])
        pos = np.arange(len(order)) - np.repeat(starts, lengths)  # position within its track
        partners = np.repeat(lengths, lengths) - 1 - pos  # later observations of the same track
        a = np.repeat(np.arange(len(order)), partners)
        first = np.repeat(np.cumsum(partners) - partners, partners)
        b = a + 1 + (np.arange(len(a)) - first)
        a, b = order[a], order[b]
        fa, fb = obs_frame[a], obs_frame[b]
        swap = fa > fb
        a, b = np.where(swap, b, a), np.where(swap, a, b)
        fa, fb = np.minimum(fa, fb), np.maximum(fa, fb)
        keys, slot = np.unique(fa.astype(np.int64) * nf + fb, return_inverse=True)
        self.pair_a, self.pair_b, self.slot = a, b, slot.ravel()
        self.slot_frames = np.stack([keys // nf, keys % nf], axis=1) if len(keys) else np.zeros((0, 2), int)
        self._build_csc()

    @property
    def n_pairs(self) -> int:
        """Number of observation pairs (two observations of a point in different frames)."""
        return len(self.pair_a)

    def _build_csc(self) -> None:
        npf, nf = self.npf, self.nf
        ii, jj = np.meshgrid(np.arange(npf), np.arange(npf), indexing="ij")
        d = np.arange(nf)
        rows = [(d[:, None, None] * npf + ii).ravel()]
        cols = [(d[:, None, None] * npf + jj).ravel()]
        lo, hi = self.slot_frames[:, 0], self.slot_frames[:, 1]
        rows += [(lo[:, None, None] * npf + ii).ravel(), (hi[:, None, None] * npf + jj).ravel()]
        cols += [(hi[:, None, None] * npf + jj).ravel(), (lo[:, None, None] * npf + ii).ravel()]
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        n = nf * npf
        mat = sparse.csc_matrix((np.arange(len(rows), dtype=float) + 1, (rows, cols)), shape=(n, n))
        mat.sort_indices()
        self._perm = mat.data.astype(np.int64) - 1  # CSC position -> entry of the value list
        self._csc = mat
        self._csc_rows = mat.indices
        self._csc_cols = np.repeat(np.arange(n), np.diff(mat.indptr))

    def assemble(self, diag: np.ndarray, y: np.ndarray, w: np.ndarray) -> sparse.csc_matrix:
        """``S`` with diagonal blocks ``diag (nf, npf, npf)`` (``U`` minus the tracks' own terms)
        and off-diagonal blocks ``-sum Y_a W_b^T`` over the observation pairs."""
        npf = self.npf
        off = np.zeros((len(self.slot_frames), npf, npf))
        for s in range(0, self.n_pairs, _PAIR_CHUNK):
            a, b = self.pair_a[s:s + _PAIR_CHUNK], self.pair_b[s:s + _PAIR_CHUNK]
            blk = np.matmul(y[a], np.transpose(w[b], (0, 2, 1)))
            off -= sum_by(self.slot[s:s + _PAIR_CHUNK], blk, len(self.slot_frames))
        values = np.concatenate([diag.ravel(), off.ravel(), off.ravel()])  # lower entries mirror the upper
        mat = self._csc.copy()
        mat.data = values[self._perm]
        return mat

    def scaled(self, mat: sparse.csc_matrix) -> tuple[sparse.csc_matrix, np.ndarray]:
        """``D S D`` with ``D = diag(S)^-1/2`` and the scale vector ``D``."""
        dsc = 1.0 / np.sqrt(np.maximum(mat.diagonal(), 1e-300))
        out = mat.copy()
        out.data = mat.data * dsc[self._csc_rows] * dsc[self._csc_cols]
        return out, dsc


# ----------------------------------------------------------------------------------------
# linear solvers: same signature, (pattern, scaled S, rhs, state) -> solution, or None if not SPD
# ----------------------------------------------------------------------------------------
def _solve_cholmod(pattern: ReducedPattern, s_scaled, rhs, state: dict):
    from sksparse.cholmod import CholmodNotPositiveDefiniteError, analyze  # deferred: optional [sparse] extra

    factor = state.get("cholmod")
    if factor is None:
        factor = state["cholmod"] = analyze(s_scaled, mode="supernodal")
    try:
        factor.cholesky_inplace(s_scaled)
    except CholmodNotPositiveDefiniteError:
        return None
    return factor(rhs)


def _solve_splu(pattern: ReducedPattern, s_scaled, rhs, state: dict):
    try:
        lu = splinalg.splu(s_scaled, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                           options={"SymmetricMode": True})
    except RuntimeError:  # exactly singular
        return None
    return lu.solve(rhs)


def _solve_pcg(pattern: ReducedPattern, s_scaled, rhs, state: dict):
    npf, nf = pattern.npf, pattern.nf
    idx = (np.arange(nf)[:, None] * npf + np.arange(npf))
    # block-Jacobi: the diagonal blocks of the scaled matrix, inverted once per solve
    r = np.repeat(idx, npf, axis=1).ravel()
    c = np.tile(idx, (1, npf)).ravel()
    blocks = np.asarray(s_scaled[r, c]).reshape(nf, npf, npf)
    inv = np.linalg.inv(blocks)
    precond = splinalg.LinearOperator(
        s_scaled.shape, matvec=lambda v: np.einsum("fij,fj->fi", inv, v.reshape(nf, npf)).ravel()
    )
    x, info = splinalg.cg(s_scaled, rhs, rtol=1e-12, atol=0.0, maxiter=10 * len(rhs), M=precond)
    if info < 0:
        return None
    return x


LINEAR_SOLVERS = {"cholmod": _solve_cholmod, "splu": _solve_splu, "pcg": _solve_pcg}
"""Linear solvers of the reduced camera system, by name (``registration.linear_solver``)."""


def available_linear_solvers() -> list[str]:
    """Names of :data:`LINEAR_SOLVERS` usable here (``cholmod`` needs scikit-sparse)."""
    return [k for k in LINEAR_SOLVERS if k != "cholmod" or _have_cholmod()]


def resolve_linear_solver(name: str) -> str:
    """``auto`` -> ``cholmod`` when scikit-sparse is installed, else ``splu``.

    Raises
    ------
    RegistrationError
        ``cholmod`` requested but scikit-sparse is not installed, or an unknown name.
    """
    if name == "auto":
        return "cholmod" if _have_cholmod() else "splu"
    if name not in LINEAR_SOLVERS:
        raise RegistrationError(f"unknown linear solver {name!r}; choose from auto, {', '.join(LINEAR_SOLVERS)}")
    if name == "cholmod" and not _have_cholmod():
        raise RegistrationError(
            "registration.linear_solver: cholmod needs scikit-sparse (apt-get install libsuitesparse-dev; "
            "pip install 'scikit-sparse<0.5'), or set linear_solver: splu"
        )
    return name
