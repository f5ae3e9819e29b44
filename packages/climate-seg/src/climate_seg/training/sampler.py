"""A seeded, resumable, shard-aware sampler: epoch ``e`` always sees the same order."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["ResumableSampler"]


class ResumableSampler(Sampler[int]):
    """Shuffle with ``seed + epoch``, shard over ranks, skip what a resumed epoch already saw.

    Parameters
    ----------
    n : int
        Dataset length.
    seed : int
        Base seed.
    shuffle : bool
        Permute (training) or keep the order (evaluation).
    rank, world_size : int
        This process's shard; every rank gets ``ceil(n / world_size)`` indices
        (padded by wrapping around).
    """

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1) -> None:
        self.n, self.seed, self.shuffle = int(n), int(seed), bool(shuffle)
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the permutation of ``epoch`` (0-based) and skip its first ``skip`` samples."""
        self.epoch, self.skip = int(epoch), int(skip)

    def _indices(self) -> list[int]:
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=gen).tolist()
        else:
            order = list(range(self.n))
        per_rank = -(-self.n // self.world_size)
        total = per_rank * self.world_size
        order = (order * (total // max(self.n, 1) + 1))[:total] if self.n else []
        return order[self.rank : total : self.world_size]

    def __iter__(self) -> Iterator[int]:
        yield from self._indices()[self.skip :]

    def __len__(self) -> int:
        return max(-(-self.n // self.world_size) - self.skip, 0)
