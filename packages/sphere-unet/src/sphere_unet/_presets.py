"""Named architectures: the DeepSphere AR/TC U-Net and its temporal variants."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sphere_graphs as sg

from ._checks import check_int
from ._layers import resolve_order

if TYPE_CHECKING:
    from ._temporal import ConvLSTMUNet, FrameStackUNet
    from ._unet import SphericalUNet

__all__ = [
    "ARTC_DECODER",
    "ARTC_ENCODER",
    "artc_sampling",
    "deepsphere_artc",
    "deepsphere_artc_temporal",
]

#: Encoder widths per level, finest (icosahedral level 5) first; the last entry is the
#: level-0 bottleneck (a plain Chebyshev conv, no batch norm / ReLU).
ARTC_ENCODER = ((32, 64), (128,), (256,), (512,), (512,), (512,))
#: Decoder widths, levels 1 -> 5 (coarse to fine). Levels 1-4 concatenate the encoder
#: output of the same level; level 5 has no skip and ends with Cheb(32 -> n_classes).
ARTC_DECODER = (512, 256, 128, 64, 32)
ARTC_DEPTH = 5


def artc_sampling(
    sampling: str | sg.Sampling = "icosahedral", resolution: int | None = None
) -> sg.Sampling:
    """The finest sampling of the AR/TC preset.

    Parameters
    ----------
    sampling : {"icosahedral", "healpix", "equiangular"} or sphere_graphs.Sampling
        A name, or a ready sampling (returned unchanged).
    resolution : int, optional
        Icosahedral level (default 5, 10242 vertices), HEALPix nside (default 32,
        12288 pixels, NESTED) or equiangular ``nlat`` (default 64, with
        ``nlon = 2 * nlat``: 64 x 128 = 8192 vertices, k-NN graphs with ``k = 7``
        there as its 2 x 4 bottleneck has 8 vertices). The depth of 5 poolings needs
        level >= 5, nside >= 32, nlat >= 64 (multiple of 32) respectively.

    Returns
    -------
    sphere_graphs.Sampling
    """
    if isinstance(sampling, sg.Sampling):
        if resolution is not None:
            raise ValueError(
                "resolution applies to a sampling name; drop it when passing a sampling object."
            )
        return sampling
    if resolution is not None:
        resolution = check_int("resolution", resolution, 1)
    if sampling == "icosahedral":
        level = 5 if resolution is None else int(resolution)
        if level < ARTC_DEPTH:
            raise ValueError(
                f"the AR/TC preset pools 5 times; icosahedral level must be >= 5, got {level}."
            )
        return sg.icosahedral(level)
    if sampling == "healpix":
        nside = 32 if resolution is None else int(resolution)
        if nside < 2**ARTC_DEPTH or nside & (nside - 1):
            raise ValueError(
                f"the AR/TC preset pools 5 times; nside must be a power of 2 >= 32, got {nside}."
            )
        return sg.healpix(nside, nest=True)
    if sampling == "equiangular":
        nlat = 64 if resolution is None else int(resolution)
        if nlat < 2**ARTC_DEPTH or nlat % 2**ARTC_DEPTH:
            raise ValueError(
                f"the AR/TC preset pools 5 times by 2x2; nlat must be a multiple of 32 (>= 32), got {nlat}."
            )
        return sg.equiangular(nlat, 2 * nlat)
    raise ValueError(
        f"sampling must be 'icosahedral', 'healpix', 'equiangular' or a sphere_graphs sampling; got {sampling!r}."
    )


def _artc_kwargs(K: int, kwargs: dict, sampling: sg.Sampling) -> dict:
    """Model options of the preset; ``k`` is 7 where the bottleneck has only 8 vertices.

    k-NN graphs need ``k < V`` on every level: the 2 x 4 bottleneck of the 64 x 128
    equiangular grid takes at most 7 neighbours, so the preset uses ``k = 7`` on every
    level of that grid (unless ``k`` is given) instead of 8.
    """
    out: dict[str, Any] = dict(
        encoder_channels=ARTC_ENCODER,
        decoder_channels=ARTC_DECODER,
        K=K,
        bottleneck_norm=False,
        skip_finest=False,
    )
    coarsest = sampling.n_vertices // 4**ARTC_DEPTH
    if (
        isinstance(sampling, sg.EquiangularSampling)
        and coarsest <= 8
        and kwargs.get("graph", "knn") != "mesh"
    ):
        out["k"] = max(coarsest - 1, 1)
    out.update(kwargs)
    return out


def deepsphere_artc(
    sampling: str | sg.Sampling = "icosahedral",
    K: int | None = None,
    in_channels: int = 16,
    n_classes: int = 3,
    *,
    resolution: int | None = None,
    kernel_size: int | None = None,
    **kwargs: Any,
) -> SphericalUNet:
    """The DeepSphere U-Net for atmospheric-river / tropical-cyclone segmentation.

    Encoder: ChebBN 16->32, ChebBN 32->64 (level 5); pool, ChebBN 64->128 (l4);
    pool, 128->256 (l3); pool, 256->512 (l2); pool, 512->512 (l1); pool, Cheb 512->512
    (l0, no BN / ReLU). Decoder: unpool, ChebBN 512->512, concat skip, ChebBN
    1024->512 (l1); unpool, ChebBN 512->256, concat, ChebBN 768->256 (l2); ... down to
    ChebBN 192->64 (l4); unpool, ChebBN 64->32, Cheb 32->n_classes (l5). With
    ``K = 3``, 16 inputs and 3 classes this has 5,763,491 parameters (5.76 M).

    Parameters
    ----------
    sampling : {"icosahedral", "healpix", "equiangular"} or sphere_graphs.Sampling
        See :func:`artc_sampling` (icosahedral level 5: V = 10242; HEALPix nside 32:
        V = 12288; equiangular 64 x 128: V = 8192). A sampling object must allow 5
        poolings.
    K : int
        Chebyshev order (default 3); ``kernel_size`` is an alias.
    in_channels, n_classes : int
    resolution : int, optional
        Level / nside / nlat override (see :func:`artc_sampling`).
    **kwargs
        Forwarded to :class:`SphericalUNet` (``graph``, ``k``, ``laplacian``,
        ``pool``, ``dropout``...).

    Returns
    -------
    SphericalUNet
        Maps ``(B, V, in_channels)`` to logits ``(B, V, n_classes)``.
    """
    from ._unet import SphericalUNet

    s = artc_sampling(sampling, resolution)
    K = resolve_order(K, kernel_size)
    return SphericalUNet(s, in_channels, n_classes, ARTC_DEPTH, **_artc_kwargs(K, kwargs, s))


def deepsphere_artc_temporal(
    sampling: str | sg.Sampling = "icosahedral",
    n_frames: int = 3,
    mode: str = "lstm",
    K: int | None = None,
    in_channels: int = 16,
    n_classes: int = 3,
    *,
    resolution: int | None = None,
    kernel_size: int | None = None,
    **kwargs: Any,
) -> FrameStackUNet | ConvLSTMUNet:
    """Temporal AR/TC U-Net for input ``(B, T, V, in_channels)``.

    Parameters
    ----------
    mode : {"stack", "lstm"}
        ``"stack"``: frames stacked along channels (:class:`FrameStackUNet`);
        ``"lstm"``: graph ConvLSTM over the bottleneck (:class:`ConvLSTMUNet`).
    n_frames : int
        ``T`` (only used by ``"stack"``; ``"lstm"`` accepts any ``T``).
    K : int
        Chebyshev order (default 3); ``kernel_size`` is an alias.

    Returns
    -------
    FrameStackUNet or ConvLSTMUNet
    """
    from ._temporal import ConvLSTMUNet, FrameStackUNet

    n_frames = check_int("n_frames", n_frames, 1)
    s = artc_sampling(sampling, resolution)
    kw = _artc_kwargs(resolve_order(K, kernel_size), kwargs, s)
    if mode == "stack":
        return FrameStackUNet(s, in_channels, n_classes, ARTC_DEPTH, n_frames=n_frames, **kw)
    if mode == "lstm":
        return ConvLSTMUNet(s, in_channels, n_classes, ARTC_DEPTH, **kw)
    raise ValueError(f"mode must be 'stack' or 'lstm'; got {mode!r}.")
