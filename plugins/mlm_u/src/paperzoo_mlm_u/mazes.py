"""Mazes on an ``n x n`` lattice: depth-first-search generation, shortest paths, the token format of the
paper (maze-dataset's ``AOTP_UT_rasterized`` without the ``<-->`` connector) and path legality.

Pure Python (no torch): a maze is a spanning tree of the lattice, kept as a set of edges between cells
``(row, col)``. Token ids: ``PAD`` 0, ``MASK`` 1, the markers below, then one id per cell, ``row * n + col``
after the markers. A sequence is

``<ADJLIST_START> a b ; a b ; ... <ADJLIST_END> <ORIGIN_START> o <ORIGIN_END> <TARGET_START> t <TARGET_END>
<PATH_START> p_1 ... p_k <PATH_END>``

(``p_1`` the origin, ``p_k`` the target), padded with ``PAD`` to ``sequence_length(n)``.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

Cell = tuple[int, int]

MARKERS = (
    "[PAD]",
    "[MASK]",
    ";",
    "<ADJLIST_START>",
    "<ADJLIST_END>",
    "<ORIGIN_START>",
    "<ORIGIN_END>",
    "<TARGET_START>",
    "<TARGET_END>",
    "<PATH_START>",
    "<PATH_END>",
)
PAD, MASK, SEP, ADJ_START, ADJ_END, ORIGIN_START, ORIGIN_END, TARGET_START, TARGET_END = range(9)
PATH_START, PATH_END = 9, 10
FIRST_CELL = len(MARKERS)


def vocab_size(n: int) -> int:
    """Markers plus one token per cell of an ``n x n`` grid."""
    return FIRST_CELL + n * n


def prefix_length(n: int) -> int:
    """Tokens up to and including ``<PATH_START>``: the same for every maze of a given size."""
    return 2 + 3 * (n * n - 1) + 6 + 1


def sequence_length(n: int) -> int:
    """Prefix, the longest possible path (every cell) and ``<PATH_END>``."""
    return prefix_length(n) + n * n + 1


@dataclass(frozen=True)
class Maze:
    """A solved maze: grid size, the open edges (a spanning tree), origin and target."""

    n: int
    edges: frozenset
    origin: Cell
    target: Cell

    def connected(self, a: Cell, b: Cell) -> bool:
        """Whether one step from ``a`` to ``b`` is legal (adjacent cells with no wall between)."""
        return frozenset((a, b)) in self.edges


def _neighbours(cell: Cell, n: int) -> list[Cell]:
    r, c = cell
    cand = [(r - 1, c), (r, c + 1), (r + 1, c), (r, c - 1)]
    return [(i, j) for i, j in cand if 0 <= i < n and 0 <= j < n]


def dfs_maze(n: int, rng: random.Random) -> frozenset:
    """Randomised depth-first search (recursive backtracker, with forks): from a random cell, step to a
    random unvisited neighbour, backtrack when there is none. Returns the ``n*n - 1`` edges of the tree."""
    start = (rng.randrange(n), rng.randrange(n))
    visited, stack, edges = {start}, [start], set()
    while stack:
        cell = stack[-1]
        free = [x for x in _neighbours(cell, n) if x not in visited]
        if not free:
            stack.pop()
            continue
        nxt = rng.choice(free)
        visited.add(nxt)
        edges.add(frozenset((cell, nxt)))
        stack.append(nxt)
    return frozenset(edges)


def random_maze(n: int, rng: random.Random) -> Maze:
    """A DFS maze with origin and target two distinct cells drawn uniformly."""
    edges = dfs_maze(n, rng)
    cells = [(i, j) for i in range(n) for j in range(n)]
    origin, target = rng.sample(cells, 2)
    return Maze(n, edges, origin, target)


def shortest_path(edges: frozenset, origin: Cell, target: Cell) -> list[Cell] | None:
    """Breadth-first search over the open edges; ``None`` when the target is unreachable."""
    adj: dict[Cell, list[Cell]] = {}
    for e in edges:
        a, b = tuple(e)
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    parent: dict[Cell, Cell | None] = {origin: None}
    queue = deque([origin])
    while queue:
        cell = queue.popleft()
        if cell == target:
            path = [cell]
            while parent[path[-1]] is not None:
                path.append(parent[path[-1]])
            return path[::-1]
        for nxt in sorted(adj.get(cell, [])):
            if nxt not in parent:
                parent[nxt] = cell
                queue.append(nxt)
    return None


def is_legal_path(maze: Maze, path: list[Cell]) -> bool:
    """A walk that starts at the origin, ends at the target and only crosses open edges."""
    if not path or path[0] != maze.origin or path[-1] != maze.target:
        return False
    return all(maze.connected(a, b) for a, b in zip(path, path[1:]))


def cell_token(cell: Cell, n: int) -> int:
    return FIRST_CELL + cell[0] * n + cell[1]


def encode(maze: Maze, rng: random.Random | None = None, pad: bool = True) -> list[int]:
    """Token ids of a solved maze. The adjacency list is shuffled (edges and the order inside each edge)
    when ``rng`` is given, as maze-dataset does; otherwise sorted."""
    n = maze.n
    pairs = sorted(tuple(sorted(e)) for e in maze.edges)
    if rng is not None:
        rng.shuffle(pairs)
        pairs = [p if rng.random() < 0.5 else p[::-1] for p in pairs]
    ids = [ADJ_START]
    for a, b in pairs:
        ids += [cell_token(a, n), cell_token(b, n), SEP]
    ids += [ADJ_END, ORIGIN_START, cell_token(maze.origin, n), ORIGIN_END]
    ids += [TARGET_START, cell_token(maze.target, n), TARGET_END, PATH_START]
    path = shortest_path(maze.edges, maze.origin, maze.target)
    ids += [cell_token(c, n) for c in path] + [PATH_END]
    if pad:
        ids += [PAD] * (sequence_length(n) - len(ids))
    return ids


def to_words(ids: list[int], n: int) -> list[str]:
    """The words of a token sequence (``(row,col)`` for cells), without padding."""
    return [
        MARKERS[i] if i < FIRST_CELL else f"({(i - FIRST_CELL) // n},{(i - FIRST_CELL) % n})"
        for i in ids
        if i != PAD
    ]


def parse_prefix(ids: list[int]) -> tuple[frozenset, int, int, int]:
    """From a token sequence: the open edges (as pairs of cell ids), origin and target ids, and the
    index of the first token after ``<PATH_START>``. Needs no grid size: cells stay token ids."""
    start = ids.index(PATH_START) + 1
    end = ids.index(ADJ_END)
    body = ids[1:end]
    edges = frozenset(frozenset((body[i], body[i + 1])) for i in range(0, len(body), 3))
    origin = ids[ids.index(ORIGIN_START) + 1]
    target = ids[ids.index(TARGET_START) + 1]
    return edges, origin, target, start


def read_path(ids: list[int]) -> list[int] | None:
    """Cell ids up to the first ``<PATH_END>``; ``None`` when there is none or a non-cell token precedes
    it."""
    if PATH_END not in ids:
        return None
    path = ids[: ids.index(PATH_END)]
    if any(t < FIRST_CELL for t in path):
        return None
    return path


def judge(ids: list[int], predicted: list[int]) -> tuple[bool, bool]:
    """``(legal, exact)`` for a predicted suffix (the tokens after ``<PATH_START>``) of a maze sequence:
    legal when it is a walk from origin to target over open edges ended by ``<PATH_END>``; exact when it
    equals the true shortest path."""
    edges, origin, target, start = parse_prefix(ids)
    path = read_path(list(predicted))
    truth = read_path(list(ids[start:]))
    if path is None:
        return False, False
    legal = bool(path) and path[0] == origin and path[-1] == target
    legal = legal and all(frozenset((a, b)) in edges for a, b in zip(path, path[1:]))
    return legal, path == truth


def prefix_length_of(seq) -> int:
    """The index just after ``<PATH_START>`` in a batch of sequences of one grid size (``[B, T]``)."""
    return int((seq[0] == PATH_START).nonzero()[0, 0]) + 1
