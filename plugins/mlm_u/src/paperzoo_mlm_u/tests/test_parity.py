"""Parity with the official code (golden tensors of its masking and loss, tests/data) and with
maze-dataset (the same mazes give the same shortest paths, tokens and legality verdicts)."""

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from maze_dataset import LatticeMaze, SolvedMaze
from maze_dataset.generation import LatticeMazeGenerators
from maze_dataset.tokenization import MazeTokenizer, TokenizationMode
from safetensors.torch import load_file

from paperzoo_mlm_u import mazes
from paperzoo_mlm_u.mlmu import masked_cross_entropy, uniform_rate_mask

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def golden():
    meta = json.loads((DATA / "official_masking.json").read_text())
    assert meta["commit"].startswith("b1ec3cd")
    return load_file(DATA / "official_masking.safetensors")


def test_masks_match_official_draws(golden, record_property):
    need = golden["need"].bool()
    mismatches = 0
    for i, seed in enumerate([1234, 5, 77]):
        torch.manual_seed(seed)
        ours = uniform_rate_mask(need)
        mismatches += int((ours != golden[f"absorbing_pred_{i}"].bool()).sum())
        assert torch.equal(ours, golden[f"absorbing_pred_{i}"].bool())
        assert torch.equal(ours, ~golden[f"absorbing_visible_{i}"].bool())
    torch.manual_seed(99)
    assert torch.equal(uniform_rate_mask(need, rate=0.7), golden["rate03_pred"].bool())
    record_property("mask_mismatches_vs_official", mismatches)


def test_loss_matches_official(golden, record_property):
    ours = masked_cross_entropy(golden["logits"], golden["ids"], golden["absorbing_pred_0"].bool())
    err = abs(float(ours) - float(golden["loss"][0]))
    record_property("loss_abs_diff_float64", err)
    assert err < 1e-12


def _to_ours(m, origin, target) -> mazes.Maze:
    n = m.grid_shape[0]
    edges = set()
    for i in range(n):
        for j in range(n):
            if i + 1 < n and m.connection_list[0, i, j]:
                edges.add(frozenset(((i, j), (i + 1, j))))
            if j + 1 < n and m.connection_list[1, i, j]:
                edges.add(frozenset(((i, j), (i, j + 1))))
    return mazes.Maze(n, frozenset(edges), tuple(origin), tuple(target))


def _to_theirs(maze: mazes.Maze) -> LatticeMaze:
    conn = np.zeros((2, maze.n, maze.n), dtype=bool)
    for e in maze.edges:
        (a, b) = sorted(e)
        conn[0 if b[0] == a[0] + 1 else 1, a[0], a[1]] = True
    return LatticeMaze(connection_list=conn)


def _their_mazes(n: int, count: int, seed: int):
    np.random.seed(seed)
    rng = random.Random(seed)
    cells = [(i, j) for i in range(n) for j in range(n)]
    for _ in range(count):
        m = LatticeMazeGenerators.gen_dfs(np.array([n, n]))
        origin, target = rng.sample(cells, 2)
        yield m, _to_ours(m, origin, target)


@pytest.mark.parametrize("n", [3, 5])
def test_shortest_paths_and_tokens_match_maze_dataset(n):
    tok = MazeTokenizer(tokenization_mode=TokenizationMode.AOTP_UT_rasterized, max_grid_size=100)
    for m, ours in _their_mazes(n, 40, seed=n):
        theirs = [
            tuple(c) for c in m.find_shortest_path(np.array(ours.origin), np.array(ours.target)).tolist()
        ]
        assert mazes.shortest_path(ours.edges, ours.origin, ours.target) == theirs
        words = [w for w in SolvedMaze.from_lattice_maze(m, np.array(theirs)).as_tokens(tok) if w != "<-->"]
        mine = mazes.to_words(mazes.encode(ours, random.Random(0)), n)
        cut = mine.index("<ADJLIST_END>")
        assert mine[cut:] == words[words.index("<ADJLIST_END>") :]
        adj = lambda w: {frozenset(w[k : k + 2]) for k in range(1, w.index("<ADJLIST_END>"), 3)}  # noqa: E731
        assert adj(mine) == adj(words)


def test_our_dfs_mazes_solve_the_same_in_maze_dataset():
    rng = random.Random(0)
    for _ in range(40):
        maze = mazes.random_maze(5, rng)
        theirs = _to_theirs(maze).find_shortest_path(np.array(maze.origin), np.array(maze.target))
        assert mazes.shortest_path(maze.edges, maze.origin, maze.target) == [
            tuple(c) for c in theirs.tolist()
        ]


def test_legality_verdicts_match_maze_dataset(record_property):
    rng = random.Random(1)
    agree = total = 0
    for m, ours in _their_mazes(5, 30, seed=11):
        path = mazes.shortest_path(ours.edges, ours.origin, ours.target)
        candidates = [path, path[:-1], path[1:], path + path[-2:-1] + path[-1:], path[::-1]]
        for _ in range(6):  # random walks on the lattice, legal or not
            walk = [ours.origin]
            for _ in range(rng.randrange(1, 8)):
                r, c = walk[-1]
                walk.append(
                    rng.choice(
                        [
                            (r + dr, c + dc)
                            for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0))
                            if 0 <= r + dr < 5 and 0 <= c + dc < 5
                        ]
                    )
                )
            candidates += [walk, walk + [ours.target]]
        for cand in candidates:
            theirs = (
                bool(m.is_valid_path(np.array(cand))) and cand[0] == ours.origin and cand[-1] == ours.target
            )
            total += 1
            agree += mazes.is_legal_path(ours, cand) == theirs
            seq = mazes.encode(ours)
            pred = [mazes.cell_token(c, 5) for c in cand] + [mazes.PATH_END]
            assert mazes.judge(seq, pred)[0] == theirs
    record_property("legality_agreement", f"{agree}/{total}")
    assert agree == total
