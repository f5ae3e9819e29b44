"""A seeded, resumable ``DistributedSampler``: epoch ``e`` always sees the same order."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data.distributed import DistributedSampler

__all__ = ["ResumableSampler"]


class ResumableSampler(DistributedSampler):
    """Shuffle with ``seed`` and ``epoch``, shard over ranks, skip what a resumed epoch already saw.

    Parameters
    ----------
    n : int
        Dataset length.
    seed : int
        Base seed.
    shuffle : bool
        Permute (training) or keep the order (evaluation).
    rank, world_size : int
        This process's shard: indices ``rank, rank + world_size, ...`` of the epoch's order.
    pad : bool
        True (training): like ``DistributedSampler``, every rank gets ``ceil(n / world_size)``
        indices, the order being wrapped around, so that all ranks run the same number of
        DDP steps (a few samples are seen twice per epoch). False (evaluation): no padding,
        every sample is seen exactly once over all ranks (ranks may differ by one sample).
    """

    def __init__(
        self,
        n: int,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        pad: bool = True,
    ) -> None:
        super().__init__(
            range(int(n)),  # type: ignore[arg-type]  # any sized sequence serves; torch types it Dataset
            num_replicas=int(world_size),
            rank=int(rank),
            shuffle=bool(shuffle),
            seed=int(seed),
            drop_last=False,
        )
        self.n, self.world_size, self.pad = int(n), int(world_size), bool(pad)
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the permutation of ``epoch`` (0-based) and skip its first ``skip`` samples of this rank."""
        self.epoch, self.skip = int(epoch), int(skip)

    def _indices(self) -> list[int]:
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=gen).tolist()
        else:
            order = list(range(self.n))
        if self.pad and self.n:
            total = -(-self.n // self.world_size) * self.world_size
            order = (order * (total // self.n + 1))[:total]
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        yield from self._indices()[self.skip :]

    def __len__(self) -> int:
        per_rank = (
            -(-self.n // self.world_size)
            if self.pad
            else len(range(self.rank, self.n, self.world_size))
        )
        return max(per_rank - self.skip, 0)
