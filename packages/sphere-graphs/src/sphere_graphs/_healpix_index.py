"""HEALPix index arithmetic (private): ring / nest / face-xy conversions, vectorised.

Implemented from the geometry of Gorski et al. (2005), "HEALPix: a framework for
high-resolution discretization and fast analysis of data distributed on the sphere",
ApJ 622:759. Notation used below:

* ``nside`` (``n``): resolution; ``12 n**2`` pixels, ``4 n - 1`` iso-latitude rings.
* Ring scheme: pixel ``p`` lies on ring ``i`` (1-based, north to south) at position
  ``j`` (1-based, eastwards from longitude 0).
* Face scheme: 12 base faces (0-3 north, 4-7 equatorial, 8-11 south), each an
  ``n x n`` grid of pixels indexed by ``(x, y)``; ``x`` grows towards the north-east
  and ``y`` towards the north-west. The NESTED index is ``face * n**2`` plus the bit
  interleave of ``x`` (even bits) and ``y`` (odd bits).

All index arrays are int64. Long arrays are processed in chunks so that temporary
memory stays at a few tens of MB even for ``nside = 8192`` full-sky arrays.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__: list[str] = []  # private helpers, used by _healpix

MAX_NSIDE = 1 << 29
_CHUNK = 1 << 21
# Ring (in units of nside) of the southern corner of each face, and longitude of the
# face centre in units of pi / 4 (Gorski et al. 2005, Fig. 4 layout).
_FACE_RING = np.array([2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4], dtype=np.int64)
_FACE_LON = np.array([1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7], dtype=np.int64)


# --------------------------------------------------------------------------- checks
def _check_nside(nside: object, nest: bool = False) -> int:
    if isinstance(nside, bool) or not isinstance(nside, numbers.Integral):
        raise TypeError(f"nside must be an integer; got {nside!r} ({type(nside).__name__}).")
    nside = int(nside)
    if nside < 1 or nside > MAX_NSIDE:
        raise ValueError(f"nside must be in [1, 2**29]; got {nside}.")
    if nest and nside & (nside - 1):
        raise ValueError(
            f"NESTED HEALPix needs nside to be a power of two; got nside={nside}. "
            "Use a power of two (1, 2, 4, 8, ...) or pass nest=False for RING order."
        )
    return nside


def nside2npix(nside: int) -> int:
    """Number of pixels ``12 * nside**2`` of a full HEALPix sphere."""
    return 12 * _check_nside(nside) ** 2


def _check_pix(nside: int, ipix: ArrayLike, name: str = "ipix") -> NDArray[np.int64]:
    arr = np.asarray(ipix)
    if arr.dtype.kind not in "iu":
        if arr.size and arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        elif arr.size:
            raise TypeError(f"{name} must hold integer pixel indices; got dtype {arr.dtype}.")
    arr = arr.astype(np.int64, copy=False)
    npix = 12 * nside * nside
    if arr.size and (arr.min() < 0 or arr.max() >= npix):
        raise ValueError(
            f"{name} must lie in [0, 12 * nside**2) = [0, {npix}) for nside={nside}; "
            f"got values in [{arr.min()}, {arr.max()}]."
        )
    return arr


def _chunked(
    func: Callable[..., Sequence[NDArray[Any]]],
    n_out: int,
    *arrays: NDArray[Any],
    chunk: int = _CHUNK,
) -> tuple[NDArray[Any], ...]:
    """Apply ``func`` to flat chunks of broadcast ``arrays``; outputs keep the shape."""
    arrays = np.broadcast_arrays(*arrays)
    shape = arrays[0].shape
    flat = [a.reshape(-1) for a in arrays]
    size = flat[0].size
    if size <= chunk:
        outs = func(*flat)
        return tuple(np.asarray(o).reshape(shape + np.shape(o)[1:]) for o in outs)
    first = func(*(a[:chunk] for a in flat))
    result = [np.empty((size, *np.shape(o)[1:]), dtype=np.asarray(o).dtype) for o in first]
    for r, o in zip(result, first, strict=True):
        r[:chunk] = o
    for start in range(chunk, size, chunk):
        outs = func(*(a[start : start + chunk] for a in flat))
        for r, o in zip(result, outs, strict=True):
            r[start : start + chunk] = o
    assert n_out == len(result)
    return tuple(r.reshape(shape + r.shape[1:]) for r in result)


# ------------------------------------------------------------- ring <-> (ring, pos)
def _isqrt_floor(v: NDArray[np.int64]) -> NDArray[np.int64]:
    r = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    r -= r * r > v
    r += (r + 1) * (r + 1) <= v
    return r


def _cap_ring(q: NDArray[np.int64]) -> NDArray[np.int64]:
    """Ring number ``i >= 1`` such that ``2 i (i - 1) <= q < 2 i (i + 1)``."""
    # i = floor((1 + sqrt(1 + 2 q)) / 2) = floor((1 + isqrt(1 + 2 q)) / 2)
    return (1 + _isqrt_floor(1 + 2 * q)) // 2


def _ring_to_ij(n: int, p: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    npix, ncap = 12 * n * n, 2 * n * (n - 1)
    i = np.empty_like(p)
    j = np.empty_like(p)
    north, south = p < ncap, p >= npix - ncap
    equ = ~(north | south)
    if north.any():
        pn = p[north]
        ir = _cap_ring(pn)
        i[north], j[north] = ir, pn - 2 * ir * (ir - 1) + 1
    if equ.any():
        q = p[equ] - ncap
        i[equ], j[equ] = q // (4 * n) + n, q % (4 * n) + 1
    if south.any():
        ps = p[south]
        ir = _cap_ring(npix - 1 - ps)
        i[south], j[south] = 4 * n - ir, ps - (npix - 2 * ir * (ir + 1)) + 1
    return i, j


def _ij_to_ring(n: int, i: NDArray[np.int64], j: NDArray[np.int64]) -> NDArray[np.int64]:
    npix, ncap = 12 * n * n, 2 * n * (n - 1)
    ir = 4 * n - i
    return np.where(
        i < n,
        2 * i * (i - 1) + j - 1,
        np.where(i > 3 * n, npix - 2 * ir * (ir + 1) + j - 1, ncap + (i - n) * 4 * n + j - 1),
    )


# ------------------------------------------------------------ (ring, pos) <-> xyf
def _ij_to_xyf(
    n: int, i: NDArray[np.int64], j: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    north, south = i < n, i > 3 * n
    # Equatorial belt: twice the longitude in units of pi / (4 n) is h; the face is read
    # off the two diagonal coordinates h - i and h + i.
    kshift = (i - n) & 1
    h = 2 * j - 1 - kshift
    ka = (h - i - 1 + 3 * n) // (2 * n)
    kb = (h + i - 1 + n) // (2 * n)
    diff = kb - ka
    face = np.where(diff == 0, (ka - 1) % 4, np.where(diff == 1, 4 + ka % 4, 8 + ka % 4))
    # Polar caps: ring i (or 4n - i) holds 4 nr pixels, nr per face.
    nr = np.where(north, i, np.where(south, 4 * n - i, n))
    nr_safe = np.maximum(nr, 1)
    face = np.where(north, (j - 1) // nr_safe, np.where(south, 8 + (j - 1) // nr_safe, face))
    cap = north | south
    h = np.where(cap, 2 * j - 1, h)
    d = h - _FACE_LON[face] * nr
    d = np.where(cap, d, (d + 4 * n) % (8 * n) - 4 * n)
    s = _FACE_RING[face] * n - i - 1
    return (s + d) // 2, (s - d) // 2, face


def _xyf_to_ij(
    n: int, x: NDArray[np.int64], y: NDArray[np.int64], f: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    i = _FACE_RING[f] * n - x - y - 1
    nr = np.where(i < n, i, np.where(i > 3 * n, 4 * n - i, n))
    kshift = np.where((i < n) | (i > 3 * n), 0, (i - n) & 1)
    j = (_FACE_LON[f] * nr + x - y + 1 + kshift) // 2
    j = np.where(j > 4 * n, j - 4 * n, np.where(j < 1, j + 4 * n, j))
    return i, j


# ------------------------------------------------------------------ nest <-> xyf
_MASKS = (
    (16, 0x0000FFFF0000FFFF),
    (8, 0x00FF00FF00FF00FF),
    (4, 0x0F0F0F0F0F0F0F0F),
    (2, 0x3333333333333333),
    (1, 0x5555555555555555),
)


def _spread_bits(v: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Move bit ``k`` of ``v`` (< 2**32) to bit ``2 k`` (magic-number bit tricks)."""
    for shift, mask in _MASKS:
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


# Lookup tables on 16-bit pieces: spreading and gathering bits by table is several
# times faster than the bit tricks on long arrays.
_SPREAD16 = _spread_bits(np.arange(1 << 16, dtype=np.uint64)).astype(np.int64)
_COMPACT16 = np.zeros(1 << 16, dtype=np.int64)
_COMPACT16[_SPREAD16[:256]] = np.arange(256)
_COMPACT16 = _COMPACT16[np.arange(1 << 16) & 0x5555]


def _spread(v: NDArray[np.int64], nbits: int = 32) -> NDArray[np.int64]:
    """Move bit ``k`` of ``v`` (``0 <= v < 2**nbits``, ``nbits <= 32``) to bit ``2 k``."""
    out = _SPREAD16[v & 0xFFFF]
    if nbits > 16:
        out |= _SPREAD16[(v >> 16) & 0xFFFF] << 32
    return out


def _compact(v: NDArray[np.int64], nbits: int = 64) -> NDArray[np.int64]:
    """Gather the even bits of ``v`` (``0 <= v < 2**nbits``): inverse of :func:`_spread`."""
    out = _COMPACT16[v & 0xFFFF]
    for k in range(1, (nbits + 15) // 16):
        out |= _COMPACT16[(v >> (16 * k)) & 0xFFFF] << (8 * k)
    return out


def _nest_to_xyf(
    n: int, p: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    nn = n * n
    f, r = p // nn, p % nn
    nbits = 2 * n.bit_length()
    return _compact(r, nbits), _compact(r >> 1, nbits), f


def _xyf_to_nest(
    n: int, x: NDArray[np.int64], y: NDArray[np.int64], f: NDArray[np.int64]
) -> NDArray[np.int64]:
    nbits = n.bit_length()
    return f * (n * n) + (_spread(x, nbits) | (_spread(y, nbits) << 1))


def _pix_to_xyf(
    n: int, p: NDArray[np.int64], nest: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    return _nest_to_xyf(n, p) if nest else _ij_to_xyf(n, *_ring_to_ij(n, p))


def _xyf_to_pix(
    n: int, x: NDArray[np.int64], y: NDArray[np.int64], f: NDArray[np.int64], nest: bool
) -> NDArray[np.int64]:
    return _xyf_to_nest(n, x, y, f) if nest else _ij_to_ring(n, *_xyf_to_ij(n, x, y, f))
