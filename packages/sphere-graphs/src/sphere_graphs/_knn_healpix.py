"""Exact k-nearest neighbours of full-sphere HEALPix pixels without a k-d tree.

Every HEALPix base face is an ``nside x nside`` grid of pixels ``(x, y)``; in NESTED
order pixel ``f * nside**2 + interleave(x, y)`` (bits of ``x`` on even positions,
of ``y`` on odd ones). Nearest neighbours of a pixel lie in a small window of that
grid, so for pixels at least ``r`` cells away from the face border the candidates
are the ``(2r + 1)**2 - 1`` pixels of the ``(2r+1) x (2r+1)`` window, read as
shifted slices of per-face coordinate images (no gathers, no tree). ``r`` grows with
``k`` (table ``_WINDOW``) and is validated against a k-d tree in the tests. Pixels
whose selected neighbours touch the window's outer ring (the window might be too
small for them) and pixels near a face border fall back to a ``cKDTree`` built on a
band of pixels along the face borders (or on all pixels if needed).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

if TYPE_CHECKING:
    from ._sampling import HealpixSampling

#: Tied directed edges beyond the first k: ``(src, dst, d2)``.
_Extras = tuple[np.ndarray, np.ndarray, np.ndarray]
#: ``(nbr, d2, mutual, recheck, extras)`` of :func:`healpix_knn`.
_KnnResult = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, _Extras]

__all__ = ["healpix_knn", "window_radius"]

# Window half-width per k (validated against cKDTree for nside 4..256 in the tests).
_WINDOW = {8: 2, 20: 3, 40: 4, 60: 5}
_BLOCK_ELEMENTS = 1 << 15  # pixels per block: keeps the temporaries in cache


def window_radius(k: int) -> int:
    """Half-width ``r`` of the pixel window searched for ``k`` neighbours."""
    for kk in sorted(_WINDOW):
        if k <= kk:
            return _WINDOW[kk]
    return math.ceil(1.5 * math.sqrt(k / math.pi)) + 1


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """Move bit ``b`` of every (< 2**31) value to position ``2b``."""
    v = v.astype(np.int64) & 0x7FFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    v = (v | (v << 1)) & 0x5555555555555555
    return v


def _nest_grid(nside: int) -> np.ndarray:
    """In-face NESTED index of every grid cell ``(x, y)``, shape (nside, nside)."""
    s = _spread_bits(np.arange(nside))
    return s[:, None] | (s[None, :] << 1)


_UNSET = np.empty((0, 0))  # placeholder of a not yet computed distance view


def _drop_rows(e: _Extras, queries: np.ndarray) -> _Extras:
    """The tied edges of ``e`` whose source is not in ``queries``."""
    keep = ~np.isin(e[0], queries)
    return e[0][keep], e[1][keep], e[2][keep]


def _offsets(r: int) -> np.ndarray:
    d = np.arange(-r, r + 1)
    dx, dy = np.meshgrid(d, d, indexing="ij")
    off = np.stack([dx.ravel(), dy.ravel()], axis=1)
    off = off[np.any(off != 0, axis=1)]
    # Near offsets first (flat-grid distance), so that the first k are the usual answer.
    order = np.lexsort((off[:, 1], off[:, 0], np.abs(off).max(axis=1), (off**2).sum(axis=1)))
    return off[order]


def _symmetric_guess(off: np.ndarray, k: int) -> bool:
    """True when the first ``k`` offsets are closed under negation."""
    guess = {tuple(o) for o in off[:k].tolist()}
    return all((-a, -b) in guess for a, b in guess)


def _sq_dist(
    a: tuple[np.ndarray, np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray, np.ndarray],
    out: np.ndarray,
    tmp: np.ndarray,
) -> None:
    """``out = |a - b|**2`` of two vector images given as (X, Y, Z) planes (``tmp``: scratch)."""
    np.subtract(a[0], b[0], out=out)
    np.square(out, out=out)
    for i in (1, 2):
        np.subtract(a[i], b[i], out=tmp)
        np.square(tmp, out=tmp)
        out += tmp


def _ring_min(
    X: np.ndarray,
    Y: np.ndarray,
    Z: np.ndarray,
    X0: np.ndarray,
    Y0: np.ndarray,
    Z0: np.ndarray,
    x0: int,
    y0: int,
    block: int,
    s: int,
    tmp: np.ndarray,
) -> np.ndarray:
    """Smallest squared distance from each block pixel to the pixels of Chebyshev ring ``s``."""
    out = np.full((block, block), np.inf)
    d = np.empty((block, block))
    for dx in range(-s, s + 1):
        for dy in range(-s, s + 1):
            if max(abs(dx), abs(dy)) != s:
                continue
            sl = (slice(x0 + dx, x0 + dx + block), slice(y0 + dy, y0 + dy + block))
            _sq_dist((X0, Y0, Z0), (X[sl], Y[sl], Z[sl]), d, tmp)
            np.minimum(out, d, out=out)
    return out


def _face(
    coords: np.ndarray,
    grid: np.ndarray,
    face: int,
    nside: int,
    k: int,
    r: int,
    off: np.ndarray,
    out_nbr: np.ndarray,
    out_d2: np.ndarray,
    out_mutual: np.ndarray,
    block: int,
    tie: float | None,
    extras: list[_Extras],
) -> tuple[np.ndarray, bool]:
    """k-NN of the pixels of one face from the window; returns NESTED ids of suspects.

    When ``tie`` is set (factor ``>= 1`` on squared distances), window pixels not
    selected but within ``tie`` times the k-th squared distance are appended to
    ``extras`` as ``(src, dst, d2)`` arrays (NESTED ids); pixels whose tied set
    reaches the window's rim become suspects.

    Also fills ``out_mutual[i, c]`` (is ``i`` a neighbour of its ``c``-th neighbour?)
    from the per-pixel sets of selected window offsets. Results of pixels within
    ``r`` of the face border (and ``out_mutual`` within ``2 r``) are meaningless
    here (the padding is far away); the caller recomputes them.
    """
    n2 = nside * nside
    base = face * n2
    pix = base + grid
    pad = 2 * r  # room for the extended blocks below and for the ring r + 1
    w = nside + 2 * pad
    P = np.full((w, w), -1, dtype=np.int64)
    P[pad : pad + nside, pad : pad + nside] = pix
    imgs = []
    for c in range(3):
        img = np.full((w, w), 4.0)  # far from every unit vector
        img[pad : pad + nside, pad : pad + nside] = coords[pix.reshape(-1), c].reshape(nside, nside)
        imgs.append(img)
    X, Y, Z = imgs
    n_off = off.shape[0]
    on_rim = np.abs(off).max(axis=1) == r
    zgrid = _nest_grid(block).reshape(-1)
    zinv = np.empty_like(zgrid)
    zinv[zgrid] = np.arange(zgrid.size)
    m = block * block
    suspects = []
    # d(p, p + o) = d(p + o, p): compute the half of the offsets with o > 0 on a block
    # extended by r, and read d(p, p - o) as a shifted view of the same numbers.
    offl = off.tolist()
    half = [i for i, (dx, dy) in enumerate(offl) if dx > 0 or (dx == 0 and dy > 0)]
    ext = block + 2 * r
    E = np.empty((len(half), ext, ext))
    etmp = np.empty((ext, ext))
    tmp = np.empty((block, block))
    # Every entry is set below (each offset is in ``half`` or is the negation of one).
    views: list[np.ndarray] = [_UNSET] * n_off
    index_of = {tuple(o): i for i, o in enumerate(offl)}
    neg_of = [index_of[(-dx, -dy)] for dx, dy in offl]
    mx = np.empty((block, block))
    mn = np.empty((block, block))
    selimg = np.empty((nside, nside, k), dtype=np.int8)  # selected offset ids, grid layout
    regular = np.arange(k, dtype=np.int8)
    for bx in range(0, nside, block):
        for by in range(0, nside, block):
            x0, y0 = bx + pad, by + pad
            c0 = (slice(x0, x0 + block), slice(y0, y0 + block))
            X0, Y0, Z0 = X[c0], Y[c0], Z[c0]
            ce = (slice(x0 - r, x0 + block + r), slice(y0 - r, y0 + block + r))
            Xe, Ye, Ze = X[ce], Y[ce], Z[ce]
            for h, o in enumerate(half):
                dx, dy = offl[o]
                sl = (
                    slice(x0 - r + dx, x0 + block + r + dx),
                    slice(y0 - r + dy, y0 + block + r + dy),
                )
                d = E[h]
                _sq_dist((Xe, Ye, Ze), (X[sl], Y[sl], Z[sl]), d, etmp)
                views[o] = d[r : r + block, r : r + block]
                views[neg_of[o]] = d[r - dx : r - dx + block, r - dy : r - dy + block]
            np.copyto(mx, views[0])
            for o in range(1, k):
                np.maximum(mx, views[o], out=mx)
            np.copyto(mn, views[k])
            for o in range(k + 1, n_off):
                np.minimum(mn, views[o], out=mn)
            # Guess: the k nearest offsets in flat-grid order; exact when no other is closer.
            ok = (mx <= mn).reshape(-1)
            nb = np.empty((m, k), dtype=np.int32)
            nb3 = nb.reshape(block, block, k)
            d2 = np.empty((m, k))
            d23 = d2.reshape(block, block, k)
            for c in range(k):
                dx, dy = off[c]
                nb3[:, :, c] = P[x0 + dx : x0 + dx + block, y0 + dy : y0 + dy + block]
                d23[:, :, c] = views[c]
            bad = np.flatnonzero(~ok)
            sel_block = np.empty((m, k), dtype=np.int8)
            sel_block[:] = regular
            if bad.size:
                bxs, bys = bad // block, bad % block
                sub = np.empty((bad.size, n_off))
                for o in range(n_off):
                    sub[:, o] = views[o][bxs, bys]
                sel = np.argpartition(sub, k - 1, axis=1)[:, :k]
                sel_block[bad] = sel
                d2[bad] = np.take_along_axis(sub, sel, axis=1)
                xs = bad // block + x0
                ys = bad % block + y0
                nb[bad] = P[xs[:, None] + off[sel, 0], ys[:, None] + off[sel, 1]]
                rim = on_rim[sel].any(axis=1)
                if rim.any():
                    # Certify pixels whose neighbours reach the window's rim: their k-th
                    # distance must not exceed the nearest pixel just outside the window.
                    outside = _ring_min(X, Y, Z, X0, Y0, Z0, x0, y0, block, r + 1, tmp).reshape(-1)
                    cand = bad[rim]
                    rim[rim] = d2[cand].max(axis=1) > outside[cand]
                    # Border pixels are recomputed by the caller anyway.
                    gx, gy = bad // block + bx, bad % block + by
                    rim &= (gx >= r) & (gx < nside - r) & (gy >= r) & (gy < nside - r)
            if tie is not None:
                thr = d2.max(axis=1) * tie
                tied = (mn.reshape(-1) <= thr) & ok
                if bad.size:
                    sub_kp1 = np.partition(sub, k, axis=1)[:, k]
                    tied[bad] = sub_kp1 <= thr[bad]
                tpix = np.flatnonzero(tied)
                if tpix.size:
                    txs, tys = tpix // block, tpix % block
                    tsub = np.empty((tpix.size, n_off))
                    for o in range(n_off):
                        tsub[:, o] = views[o][txs, tys]
                    within = tsub <= thr[tpix, None]
                    np.put_along_axis(within, sel_block[tpix].astype(np.int64), False, axis=1)
                    reach = (within & on_rim[None, :]).any(axis=1)
                    if reach.any():
                        # Tied up to the rim: certified when nothing outside is as close.
                        outside = _ring_min(X, Y, Z, X0, Y0, Z0, x0, y0, block, r + 1, tmp)
                        reach[reach] = thr[tpix[reach]] >= outside.reshape(-1)[tpix[reach]]
                    gx, gy = txs + bx, tys + by
                    interior = (gx >= r) & (gx < nside - r) & (gy >= r) & (gy < nside - r)
                    start_t = base + int(
                        _spread_bits(np.array([bx]))[0] | (_spread_bits(np.array([by]))[0] << 1)
                    )
                    if np.any(reach & interior):
                        suspects.append(start_t + zgrid[tpix[reach & interior]])
                    rows_t, cols_t = np.nonzero(within & ~reach[:, None] & interior[:, None])
                    if rows_t.size:
                        src = start_t + zgrid[tpix[rows_t]]
                        dst = P[
                            txs[rows_t] + x0 + off[cols_t, 0], tys[rows_t] + y0 + off[cols_t, 1]
                        ]
                        extras.append((src, dst, tsub[rows_t, cols_t]))
            selimg[bx : bx + block, by : by + block] = sel_block.reshape(block, block, k)
            start = base + int(
                _spread_bits(np.array([bx]))[0] | (_spread_bits(np.array([by]))[0] << 1)
            )
            out_nbr[start : start + m] = nb[zinv]
            out_d2[start : start + m] = d2[zinv]
            if bad.size and rim.any():
                local = (bad[rim] // block) * block + bad[rim] % block
                suspects.append(start + zgrid[local])
    if off.shape[0] > 62:  # offset sets do not fit a 64-bit mask: caller rechecks all
        return np.concatenate(suspects) if suspects else np.zeros(0, np.int64), False
    # Mutuality: pixel i = (x, y) selected offset o and pixel i + o selected -o.
    mtype = np.int32 if off.shape[0] <= 31 else np.int64
    selmask = np.zeros((nside + 2 * r, nside + 2 * r), dtype=mtype)
    inner = selmask[r : r + nside, r : r + nside]
    for c in range(k):
        inner |= np.left_shift(1, selimg[:, :, c].astype(mtype))
    neg = {tuple(o): i for i, o in enumerate(off.tolist())}
    both = np.zeros((nside, nside), dtype=mtype)
    t = np.empty((nside, nside), dtype=mtype)
    for o, (dx, dy) in enumerate(off.tolist()):
        np.right_shift(
            selmask[r + dx : r + dx + nside, r + dy : r + dy + nside], neg[(-dx, -dy)], out=t
        )
        t &= np.right_shift(inner, o)
        t &= 1
        t <<= o
        both |= t
    del selmask, t
    mutual = np.empty((nside, nside, k), dtype=bool)
    for c in range(k):
        np.not_equal(
            np.right_shift(both, selimg[:, :, c].astype(mtype)) & 1, 0, out=mutual[:, :, c]
        )
    out_mutual[pix.reshape(-1)] = mutual.reshape(n2, k)
    return np.concatenate(suspects) if suspects else np.zeros(0, np.int64), True


def healpix_knn(sampling: HealpixSampling, k: int, tie: float | None = None) -> _KnnResult | None:
    """Exact k-NN of a full-sphere HEALPix sampling.

    Parameters
    ----------
    sampling : HealpixSampling
        Full sphere (``indices is None``), NESTED or RING.
    k : int
    tie : float, optional
        Tie factor ``>= 1`` on squared distances: also return every pixel within
        ``tie`` times the k-th squared distance (see ``_knn.tied_candidates``).

    Returns
    -------
    (nbr, d2, mutual, recheck, extras) or None
        ``nbr`` int32 (V, k): neighbour ids (not sorted by distance); ``d2`` float64
        (V, k): squared chord distances; ``mutual`` bool (V, k): ``i`` is among the
        neighbours of ``nbr[i, c]``, valid except in the rows ``recheck`` (int64
        array, or None for all rows), which the caller must recompute; ``extras``:
        ``(src, dst, d2)`` arrays of the tied pixels beyond the first ``k`` (empty
        when ``tie`` is None). None when the fast path does not apply (tiny
        ``nside``), so the caller uses a k-d tree.
    """
    nside = int(sampling.nside)
    r = window_radius(k)
    if nside < 4 * r + 2 or (2 * r + 1) ** 2 - 1 < k:
        return None
    if nside & (nside - 1):  # RING with nside not a power of two: no NESTED face layout
        return None
    coords = sampling.coords
    n = coords.shape[0]
    if not sampling.nest:
        from ._healpix import nest2ring

        ring_of_nest = np.asarray(nest2ring(nside, np.arange(n, dtype=np.int64)), dtype=np.int64)
        coords = coords[ring_of_nest]
    itype = np.int32
    nbr = np.empty((n, k), dtype=itype)
    d2 = np.empty((n, k), dtype=np.float64)
    grid = _nest_grid(nside)
    off = _offsets(r)
    mutual = np.empty((n, k), dtype=bool)
    block = min(nside, 128)
    face_extras: list[list[_Extras]] = [[] for _ in range(12)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(
                _face,
                coords,
                grid,
                f,
                nside,
                k,
                r,
                off,
                nbr,
                d2,
                mutual,
                block,
                tie,
                face_extras[f],
            )
            for f in range(12)
        ]
        results = [fut.result() for fut in futures]
    suspects = np.concatenate([res[0] for res in results])
    mutual_valid = all(res[1] for res in results)
    # Border pixels (and suspects) by k-d tree on a band along the face borders.
    xs = np.arange(nside)
    near = (xs < r) | (xs >= nside - r)
    band_w = 2 * r + 2
    in_band = (xs < band_w) | (xs >= nside - band_w)
    border_cells = grid[near[:, None] | near[None, :]]
    band_cells = grid[in_band[:, None] | in_band[None, :]]
    faces = np.arange(12, dtype=np.int64)[:, None] * (nside * nside)
    border = (faces + border_cells[None, :]).reshape(-1)
    if suspects.size:
        candidates = np.arange(n)
        queries = np.union1d(border, suspects)
    else:
        candidates = (faces + band_cells[None, :]).reshape(-1)
        queries = border
    from ._knn import tree_knn

    try:
        q_nbr, q_d2, q_extra = tree_knn(
            cKDTree(coords[candidates]), coords, queries, k, tie, candidates
        )
    except ValueError:
        return None  # duplicate points: let the generic path report them
    nbr[queries] = q_nbr
    d2[queries] = q_d2
    pieces = [e for fe in face_extras for e in fe]
    # Suspects are recomputed by the tree: drop their window extras.
    if suspects.size and pieces:
        pieces = [_drop_rows(e, queries) for e in pieces]
    pieces.append(q_extra)
    src, dst, dd2 = (np.concatenate([e[i] for e in pieces]) for i in range(3))
    extras: _Extras = (src, dst, dd2)
    # Rows whose mutuality flags involve tree results: recheck them generically.
    if suspects.size or not mutual_valid:
        recheck = None
    else:
        near2 = (xs < 2 * r) | (xs >= nside - 2 * r)
        recheck = (faces + grid[near2[:, None] | near2[None, :]][None, :]).reshape(-1)
    if not sampling.nest:
        nest_of_ring = np.empty(n, dtype=np.int64)
        nest_of_ring[ring_of_nest] = np.arange(n)
        nbr = ring_of_nest[nbr].astype(itype)[nest_of_ring]
        d2 = d2[nest_of_ring]
        mutual = mutual[nest_of_ring]
        recheck = None if recheck is None else ring_of_nest[recheck]
        extras = (ring_of_nest[extras[0]], ring_of_nest[extras[1]], extras[2])
    return nbr, d2, mutual, recheck, extras
