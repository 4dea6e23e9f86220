"""Exact properties of the datasets: sizes, shapes, value ranges, disjoint and seeded splits."""

import paperzoo
import pytest
import torch

SIZES = {
    "digits": (1797, (1, 8, 8), 10),
    "iris": (150, (4,), 3),
    "wine": (178, (13,), 3),
    "breast_cancer": (569, (30,), 2),
    "mnist_subset": (5000, (1, 28, 28), 10),
}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_sizes_shapes_and_disjoint_splits(name):
    n, shape, classes = SIZES[name]
    data = paperzoo.create(name)
    x_tr, y_tr = data.train.tensors
    x_va, y_va = data.val.tensors
    assert len(x_tr) + len(x_va) == n
    assert len(x_va) == round(0.2 * n)
    assert tuple(x_tr.shape[1:]) == shape == data.input_shape
    assert data.num_classes == classes and set(y_tr.tolist()) == set(range(classes))
    rows_tr = {tuple(r.tolist()) for r in x_tr.flatten(1)}
    assert sum(tuple(r.tolist()) in rows_tr for r in x_va.flatten(1)) < 0.05 * len(x_va)


def test_images_are_scaled_to_unit_interval():
    for name in ("digits", "mnist_subset"):
        x = paperzoo.create(name).train.tensors[0]
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0


def test_mnist_bundles_are_independent_copies():
    """The decoded file is read once per process: changing one bundle must not change the next."""
    first = paperzoo.create("mnist_subset")
    first.train.tensors[0].add_(1.0)
    first.val.tensors[1].fill_(0)
    again = paperzoo.create("mnist_subset")
    assert float(again.train.tensors[0].max()) == 1.0
    assert set(again.val.tensors[1].tolist()) == set(range(10))


def test_tabular_standardised_with_training_statistics():
    x = paperzoo.create("wine").train.tensors[0]
    assert torch.allclose(x.mean(0), torch.zeros(13), atol=1e-5)
    assert torch.allclose(x.std(0), torch.ones(13), atol=1e-5)


def test_split_depends_on_seed_only():
    a, b, c = (
        paperzoo.create("iris", seed=0),
        paperzoo.create("iris", seed=0),
        paperzoo.create("iris", seed=1),
    )
    assert torch.equal(a.val.tensors[0], b.val.tensors[0])
    assert not torch.equal(a.val.tensors[0], c.val.tensors[0])


def test_mnist1d_generated_locally():
    data = paperzoo.create("mnist1d", num_samples=500)
    assert data.train.tensors[0].shape == (400, 40) and data.val.tensors[0].shape == (100, 40)
    assert set(data.train.tensors[1].tolist()) <= set(range(10))
