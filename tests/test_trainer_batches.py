"""The supervised trainer's per-step bookkeeping, against what it replaces."""

import pytest
import torch
from paperzoo.trainer import Run, Supervised, _host_sum
from torch.utils.data import DistributedSampler, TensorDataset


class _Shard(Supervised):
    """The trainer as process ``rank`` of ``world`` (without starting a process group)."""

    def __init__(self, world: int, rank: int, **params):
        super().__init__(progress=False, device="cpu", **params)
        self._world, self._rank = world, rank

    @property
    def world_size(self) -> int:
        return self._world

    @property
    def rank(self) -> int:
        return self._rank


@pytest.mark.parametrize("n", [1, 5, 7, 64, 103])
@pytest.mark.parametrize("world", [1, 2, 3, 8, 16])
def test_epoch_batches_are_the_distributed_sampler_shard(n, world):
    """Every rank, seed and epoch: the indices and micro-batch split a shuffling DistributedSampler
    gives (including its padding, also when the padding exceeds the dataset)."""
    dataset = TensorDataset(torch.zeros(n, 1))
    run = Run(model=torch.nn.Identity(), data=None)  # type: ignore[arg-type]
    run.data = type("Data", (), {"train": dataset})()
    for rank in range(world):
        trainer = _Shard(world, rank, batch_size=4 * world, grad_accum=2)
        for seed, epoch in [(0, 0), (0, 3), (11, 1)]:
            run.seed = seed
            sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
            sampler.set_epoch(epoch)
            expected = torch.tensor(list(sampler), dtype=torch.int64).split(2)
            got = trainer.epoch_batches(run, epoch)
            assert [b.tolist() for b in got] == [b.tolist() for b in expected]
            assert all(b.dtype == torch.int64 for b in got)


def test_host_sum_adds_like_python_floats():
    """One read of all micro-batch losses gives the same bits as adding ``float(loss)`` in turn,
    also across dtypes and for a single loss of ``-0.0``."""
    gen = torch.Generator().manual_seed(0)
    for k in range(1, 9):
        losses = [torch.randn((), generator=gen) * 10.0 ** (i % 7 - 3) for i in range(k)]
        losses[0] = losses[0].to(torch.bfloat16)
        expected = 0.0
        for loss in losses:
            expected += float(loss)
        assert _host_sum(losses) == expected
    assert str(_host_sum([torch.tensor(-0.0)])) == str(0.0 + float(torch.tensor(-0.0)))
