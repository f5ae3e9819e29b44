"""The :class:`SphereGraph` container: a sampling plus a symmetric sparse adjacency."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from ._laplacian import laplacian as _laplacian
from ._sampling import (
    CubedSphereSampling,
    EquiangularSampling,
    GaussLegendreSampling,
    HealpixSampling,
    IcosahedralSampling,
    PointSampling,
    Sampling,
)

__all__ = ["SphereGraph"]

_SAMPLING_TYPES: dict[str, type[Sampling]] = {
    cls.__name__: cls
    for cls in (
        Sampling,
        PointSampling,
        HealpixSampling,
        IcosahedralSampling,
        EquiangularSampling,
        GaussLegendreSampling,
        CubedSphereSampling,
    )
}
_FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class SphereGraph:
    """A graph on the vertices of a sampling of the sphere.

    Attributes
    ----------
    sampling : Sampling
        The vertices (``V`` of them) and how they were made.
    adjacency : scipy.sparse.csr_matrix, shape (V, V), float64
        Symmetric non-negative weights, no self loops (no stored diagonal).
    kind : str
        How the graph was built, e.g. ``"knn"``, ``"radius"``, ``"mesh"``.
    params : dict
        Build parameters (``k``, ``sigma``, ``symmetrize``, ...), JSON-serialisable.
    """

    sampling: Sampling
    adjacency: sp.csr_matrix = field(repr=False)
    kind: str = "custom"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.sampling, Sampling):
            raise TypeError(f"sampling must be a Sampling; got {type(self.sampling).__name__}.")
        adjacency = self.adjacency
        if not sp.issparse(adjacency):
            raise TypeError(
                "adjacency must be a scipy.sparse matrix; wrap it with scipy.sparse.csr_matrix."
            )
        if not isinstance(adjacency, sp.csr_matrix) or adjacency.dtype != np.float64:
            adjacency = sp.csr_matrix(adjacency, dtype=np.float64)
        n = self.sampling.n_vertices
        if adjacency.shape != (n, n):
            raise ValueError(
                f"adjacency has shape {adjacency.shape} but the sampling has {n} vertices."
            )
        if not np.all(np.isfinite(adjacency.data)):
            raise ValueError("adjacency holds NaN or infinite weights; pass finite weights.")
        if adjacency.nnz and adjacency.data.min() < 0:
            raise ValueError(
                f"adjacency holds {int(np.count_nonzero(adjacency.data < 0))} negative weight(s); "
                "SphereGraph weights must be non-negative."
            )
        if adjacency.diagonal().any():
            raise ValueError(
                "adjacency has self loops (non-zero diagonal); remove them with "
                "W = W - scipy.sparse.diags(W.diagonal())."
            )
        diff = abs(adjacency - adjacency.T)
        if diff.nnz and diff.max() > 1e-12 * max(1.0, float(abs(adjacency).max())):
            raise ValueError("adjacency is not symmetric; symmetrise it first, e.g. (W + W.T) / 2.")
        object.__setattr__(self, "adjacency", adjacency)
        object.__setattr__(self, "params", dict(self.params))

    @classmethod
    def _trusted(
        cls, sampling: Sampling, adjacency: sp.csr_matrix, kind: str, params: dict[str, Any]
    ) -> SphereGraph:
        """Build without re-checking the invariants (for this package's graph builders,
        whose adjacency is symmetric, finite, non-negative, loop-free CSR float64 by
        construction; avoids a transpose of the largest graphs)."""
        graph = object.__new__(cls)
        object.__setattr__(graph, "sampling", sampling)
        object.__setattr__(graph, "adjacency", adjacency)
        object.__setattr__(graph, "kind", kind)
        object.__setattr__(graph, "params", dict(params))
        return graph

    @property
    def coords(self) -> np.ndarray:
        """Unit vectors of the vertices, shape (V, 3), float64."""
        return self.sampling.coords

    @property
    def n_vertices(self) -> int:
        """Number of vertices ``V``."""
        return self.sampling.n_vertices

    @property
    def n_edges(self) -> int:
        """Number of undirected edges (stored non-zeros / 2)."""
        return int(self.adjacency.nnz // 2)

    def __len__(self) -> int:
        return self.n_vertices

    def degree(self) -> np.ndarray:
        """Weighted degree ``W 1`` of every vertex, shape (V,)."""
        return np.asarray(self.adjacency.sum(axis=1)).ravel()

    def laplacian(self, kind: str = "combinatorial") -> sp.csr_matrix:
        """Graph Laplacian, see :func:`sphere_graphs.laplacian`.

        Parameters
        ----------
        kind : {"combinatorial", "normalized"}

        Returns
        -------
        scipy.sparse.csr_matrix, shape (V, V), float64
        """
        return _laplacian(self.adjacency, kind, check_symmetric=False)

    # ------------------------------------------------------------------ I/O
    def save(self, path: str | os.PathLike) -> None:
        """Write the graph to a single ``.npz`` file (uncompressed).

        Stored: the adjacency CSR arrays, the coordinates, the sampling type and its
        metadata (HEALPix ``nside``/``nest``/``indices``, icosahedral ``level``/``faces``,
        grid sizes), the graph ``kind`` and ``params``.

        Parameters
        ----------
        path : str or os.PathLike
            File name; ``.npz`` is appended when missing (as :meth:`load` expects).
        """
        path = _npz_path(path)
        s = self.sampling
        meta: dict[str, Any] = {}
        arrays: dict[str, np.ndarray] = {}
        for f in dataclasses.fields(s):
            name = f.name
            if name == "coords":
                continue
            value = getattr(s, name)
            if isinstance(value, np.ndarray):
                arrays[f"sampling_{name}"] = value
            elif value is None:
                meta[name] = None
            else:
                meta[name] = value.item() if isinstance(value, np.generic) else value
        header = {
            "format": _FORMAT_VERSION,
            "sampling_type": type(s).__name__,
            "sampling_meta": meta,
            "kind": self.kind,
            "params": self.params,
        }
        a = self.adjacency
        np.savez(
            path,
            header=np.array(json.dumps(header, default=_json_default)),
            indptr=a.indptr,
            indices=a.indices,
            data=a.data,
            shape=np.array(a.shape, dtype=np.int64),
            coords=s.coords,
            # dict[str, Any]: mypy cannot tell that no key is numpy's allow_pickle
            **cast("dict[str, Any]", arrays),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> SphereGraph:
        """Read a graph written by :meth:`save`; the right Sampling subclass is rebuilt.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        SphereGraph
        """
        path = _npz_path(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no SphereGraph file {str(path)!r}.")
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError(f"{path} is not a SphereGraph file (written by SphereGraph.save).")
        with loaded as f:
            missing = [
                key
                for key in ("header", "indptr", "indices", "data", "shape", "coords")
                if key not in getattr(f, "files", [])
            ]
            if missing:
                raise ValueError(
                    f"{path} is not a SphereGraph file (written by SphereGraph.save): it lacks "
                    f"{', '.join(missing)}."
                )
            header = json.loads(str(f["header"]))
            if header.get("format") != _FORMAT_VERSION:
                raise ValueError(
                    f"{path}: unsupported SphereGraph file format {header.get('format')!r}."
                )
            stype = _SAMPLING_TYPES.get(header["sampling_type"])
            if stype is None:
                raise ValueError(f"{path}: unknown sampling type {header['sampling_type']!r}.")
            kwargs: dict[str, Any] = dict(header["sampling_meta"])
            for key in f.files:
                if key.startswith("sampling_"):
                    kwargs[key[len("sampling_") :]] = f[key]
            sampling = stype(coords=f["coords"], **kwargs)
            shape = tuple(int(n) for n in f["shape"])
            adjacency = sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=shape)
        return cls(sampling, adjacency, header["kind"], header["params"])

    def to_pygsp(self) -> Any:  # pygsp.graphs.Graph; pygsp is untyped and optional
        """The graph as a ``pygsp.graphs.Graph`` (needs the optional ``pygsp`` package).

        Returns
        -------
        pygsp.graphs.Graph
            With ``coords`` set to the unit vectors.
        """
        try:
            from pygsp import graphs  # type: ignore[import-not-found]
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SphereGraph.to_pygsp needs the optional package pygsp; install it with "
                "`pip install pygsp` or use .adjacency / .laplacian() directly."
            ) from exc
        return graphs.Graph(self.adjacency, coords=self.coords)


def _npz_path(path: str | os.PathLike) -> str:
    """``path`` with the ``.npz`` suffix that numpy adds on save."""
    path = os.fspath(path)
    return path if path.endswith(".npz") else path + ".npz"


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in SphereGraph params")
