"""Exact properties: mazes are spanning trees with unique paths, the dataset's targets are the path, the
masking rate is uniform and touches only the path, masked tokens are hidden, the loss is the mean
cross-entropy over masked tokens, and the evaluator scores oracle and wrong answers as it should."""

import random

import pytest
import torch
from paperzoo.errors import ParamError
from paperzoo_tinylm.model import TinyLMEncoder

from paperzoo_mlm_u import mazes
from paperzoo_mlm_u.data import IGNORE, mlm_u_mazes
from paperzoo_mlm_u.evaluator import MazeNavigation
from paperzoo_mlm_u.mlmu import full_sequences, masked_inputs, mlm_u_loss, uniform_rate_mask
from paperzoo_mlm_u.tests.helpers import Oracle


@pytest.mark.parametrize("n", [2, 4, 7])
def test_dfs_maze_is_a_spanning_tree_of_the_lattice(n):
    rng = random.Random(n)
    for _ in range(20):
        maze = mazes.random_maze(n, rng)
        assert len(maze.edges) == n * n - 1
        for e in maze.edges:
            (a, b) = tuple(e)
            assert abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1
        cells = [(i, j) for i in range(n) for j in range(n)]
        assert all(mazes.shortest_path(maze.edges, cells[0], c) is not None for c in cells)  # connected
        path = mazes.shortest_path(maze.edges, maze.origin, maze.target)
        assert len(set(path)) == len(path) and mazes.is_legal_path(maze, path)


def test_sequence_layout_and_judge():
    maze = mazes.random_maze(5, random.Random(3))
    ids = mazes.encode(maze, random.Random(4))
    assert len(ids) == mazes.sequence_length(5) == 107
    start = mazes.prefix_length(5)
    assert ids[start - 1] == mazes.PATH_START and ids.index(mazes.PATH_END) > start
    assert mazes.judge(ids, ids[start:]) == (True, True)
    path = mazes.read_path(ids[start:])
    assert mazes.judge(ids, path[:-1] + [mazes.PATH_END]) == (False, False)  # stops short of the target
    detour = path[:1] + [path[1], path[0]] + path[1:] + [mazes.PATH_END]  # legal walk, not the shortest
    assert mazes.judge(ids, detour) == (True, False)
    (r, c) = maze.origin
    walls = [
        x
        for x in [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
        if 0 <= min(x) and max(x) < 5 and not maze.connected(maze.origin, x)
    ]
    assert walls  # this maze has a wall next to its origin
    through_wall = [path[0], mazes.cell_token(walls[0], 5)] + path[1:] + [mazes.PATH_END]
    assert mazes.judge(ids, through_wall) == (False, False)
    assert mazes.judge(ids, path) == (False, False)  # no <PATH_END>


def test_dataset_targets_are_the_path_and_splits_are_disjoint():
    data = mlm_u_mazes(grid_n=4, n_mazes=60, seed=5)
    again = mlm_u_mazes(grid_n=4, n_mazes=60, seed=5)
    assert torch.equal(data.train.tensors[0], again.train.tensors[0])
    x, y = data.train.tensors
    seq, answer = full_sequences(x, y)
    start = mazes.prefix_length(4)
    for row, ans in zip(seq.tolist(), answer.tolist()):
        end = row.index(mazes.PATH_END)
        assert [i for i, a in enumerate(ans) if a] == list(range(start, end + 1))
    assert (y[:, : start - 1] == IGNORE).all()
    train = {tuple(r) for r in data.train.tensors[0].tolist()}
    assert not train & {tuple(r) for r in data.val.tensors[0].tolist()}
    with pytest.raises(ParamError):
        mlm_u_mazes(grid_n=2, n_mazes=60)  # a 2x2 lattice has 4 trees x 12 (origin, target) = 48 solved mazes


def test_masking_rate_is_uniform_and_only_on_the_path():
    g = torch.Generator().manual_seed(0)
    answer = torch.ones(4000, 400, dtype=torch.bool)
    answer[:, :5] = False
    masked = uniform_rate_mask(answer, g)
    assert not masked[:, :5].any()
    share = masked[:, 5:].float().mean(1).sort().values
    grid = (torch.arange(4000) + 0.5) / 4000
    ks = (share - grid).abs().max().item()
    assert ks < 0.04  # Kolmogorov-Smirnov distance to U(0,1); binomial noise at 395 tokens ~ 0.025
    fixed = uniform_rate_mask(answer, g, rate=0.25)[:, 5:].float().mean().item()
    assert abs(fixed - 0.25) < 0.005


def test_masked_tokens_are_hidden_from_other_positions():
    torch.manual_seed(0)
    model = TinyLMEncoder(vocab_size=40, d_model=16, n_layers=2, n_heads=2, max_seq_len=32).eval()
    seq = torch.randint(11, 40, (3, 20))
    masked = torch.zeros(3, 20, dtype=torch.bool)
    masked[:, 12:17] = True
    ids, att = masked_inputs(seq, masked)
    assert (ids[masked] == mazes.MASK).all() and (att[masked] == 0).all()
    other = ids.clone()
    other[masked] = 5  # whatever stands at a hidden position only reaches that position
    a = model(ids, attention_mask=att).logits
    b = model(other, attention_mask=att).logits
    torch.testing.assert_close(a[~masked], b[~masked], rtol=0, atol=1e-6)
    assert not torch.allclose(a[masked], b[masked])


def test_loss_is_mean_cross_entropy_over_masked_tokens():
    torch.manual_seed(1)
    model = TinyLMEncoder(vocab_size=40, d_model=16, n_layers=1, n_heads=2, max_seq_len=32).double()
    seq = torch.randint(11, 40, (4, 24))
    answer = torch.zeros_like(seq, dtype=torch.bool)
    answer[:, 10:] = True
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    loss = mlm_u_loss(model, seq, answer, g1)
    masked = uniform_rate_mask(answer, g2)
    ids, att = masked_inputs(seq, masked)
    logp = model(ids, attention_mask=att).logits.log_softmax(-1)
    manual = -logp.gather(-1, seq[..., None])[..., 0][masked].mean()
    torch.testing.assert_close(loss, manual, rtol=0, atol=1e-12)
    none = mlm_u_loss(model, seq, torch.zeros_like(answer), g1)
    assert none.item() == 0.0


@pytest.mark.parametrize("decoding", ["masked", "causal"])
def test_evaluator_scores_oracles(decoding):
    data = mlm_u_mazes(grid_n=3, n_mazes=30, val_fraction=0.5, seed=2)
    seq, _ = full_sequences(*data.val.tensors)
    causal = decoding == "causal"
    right = MazeNavigation(n_mazes=15, batch_size=4)(Oracle(seq, seq, causal), data)
    assert right == {"maze_exact_path": 1.0, "maze_legal_path": 1.0, "maze_token_accuracy": 1.0}
    start = mazes.prefix_length(3)
    detour = seq.clone()  # origin, a step back to the origin is impossible: repeat the origin (illegal)
    detour[:, start + 1 :] = seq[:, start:-1]
    wrong = MazeNavigation(n_mazes=15, batch_size=4)(Oracle(seq, detour, causal), data)
    assert wrong["maze_exact_path"] == 0.0 and wrong["maze_legal_path"] == 0.0
    assert 0 < wrong["maze_token_accuracy"] < 1


def test_evaluator_rejects_bad_params():
    with pytest.raises(ParamError):
        MazeNavigation(decoding="beam")
    with pytest.raises(ParamError):
        MazeNavigation(n_mazes=0)
