"""A synthetic goal-reaching task for a discrete-action policy: a state, an instruction, an action chunk.

Rows are bytes ``<bos> s x y g u v : a_1 ... a_K <eos>``: the agent stands at cell ``(x, y)`` of a
``size x size`` grid (the *state*, positions 2 and 3), the instruction names the goal cell ``(u, v)``
(the *language* condition, positions 5 and 6), and the action chunk holds ``K`` moves, each ``r``, ``l``
(x + 1, x - 1), ``u``, ``d`` (y + 1, y - 1) or ``s`` (stay), clipped at the border. An episode succeeds
when the chunk ends on the goal.

Demonstrations mix two modes, like a fine-tuning set recorded partly in an undesirable way: with
probability ``1 - noise`` the expert chunk (the x moves, then the y moves, then stays), otherwise ``K``
uniformly random moves that ignore state and goal. A policy fitted to them samples the expert mode with
probability about ``1 - noise``; the random mode is what the condition-blind reference predicts as well.
"""

from __future__ import annotations

import random

import torch
from paperzoo.checks import check_float, check_int
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo_tinylm.tokenizer import BOS, EOS, VOCAB_SIZE
from torch.utils.data import TensorDataset

MOVES = "rluds"
STEP = {"r": (1, 0), "l": (-1, 0), "u": (0, 1), "d": (0, -1), "s": (0, 0)}
STATE_POSITIONS = (2, 3)
TEXT_POSITIONS = (5, 6)
PROMPT_LEN = 8
IGNORE = -100


def expert(state: tuple[int, int], goal: tuple[int, int], horizon: int) -> str:
    """The expert chunk: ``|dx|`` x moves, ``|dy|`` y moves, then stays, ``horizon`` moves in all."""
    dx, dy = goal[0] - state[0], goal[1] - state[1]
    moves = ("r" if dx > 0 else "l") * abs(dx) + ("u" if dy > 0 else "d") * abs(dy)
    if len(moves) > horizon:
        raise ValueError(f"goal {goal} is {len(moves)} moves from {state}; the horizon is {horizon}")
    return moves + "s" * (horizon - len(moves))


def rollout(state: tuple[int, int], moves: str, size: int) -> tuple[int, int]:
    """The cell reached from ``state`` by ``moves`` (unknown bytes stay), clipped to the grid."""
    x, y = state
    for m in moves:
        dx, dy = STEP.get(m, (0, 0))
        x, y = min(max(x + dx, 0), size - 1), min(max(y + dy, 0), size - 1)
    return x, y


def prompt_ids(state: tuple[int, int], goal: tuple[int, int]) -> list[int]:
    """``<bos> s x y g u v :`` as ids (``PROMPT_LEN`` of them)."""
    return [BOS, *f"s{state[0]}{state[1]}g{goal[0]}{goal[1]}:".encode()]


def parse_prompt(ids: torch.Tensor) -> tuple[tuple[int, int], tuple[int, int]]:
    """State and goal read back from a prompt's ids."""
    b = bytes(int(t) for t in ids[1:PROMPT_LEN])
    return (b[1] - 48, b[2] - 48), (b[4] - 48, b[5] - 48)


def success(sequence: torch.Tensor, size: int) -> bool:
    """Whether the actions after the prompt end on the goal (non-move ids, e.g. ``<eos>``, stay)."""
    state, goal = parse_prompt(sequence)
    moves = "".join(chr(int(t)) if int(t) < 128 else "." for t in sequence[PROMPT_LEN:])
    return rollout(state, moves, size) == goal


def episodes(n: int, size: int, rng: random.Random) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """``n`` random (state, goal) pairs with distinct cells."""
    out = []
    while len(out) < n:
        s = (rng.randrange(size), rng.randrange(size))
        g = (rng.randrange(size), rng.randrange(size))
        if s != g:
            out.append((s, g))
    return out


def demonstrations(
    n: int, size: int = 4, horizon: int = 6, noise: float = 0.4, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` demonstration rows ``[n, PROMPT_LEN + horizon + 1]`` and their targets (the action chunk and
    ``<eos>``; ``IGNORE`` on the prompt), aligned for next-token training: targets are the inputs shifted
    left by one."""
    rng = random.Random(seed)
    rows = []
    for state, goal in episodes(n, size, rng):
        moves = "".join(rng.choice(MOVES) for _ in range(horizon)) if rng.random() < noise else None
        rows.append(prompt_ids(state, goal) + list((moves or expert(state, goal, horizon)).encode()) + [EOS])
    ids = torch.tensor(rows)
    inputs, targets = ids[:, :-1], ids[:, 1:].clone()
    targets[:, : PROMPT_LEN - 1] = IGNORE
    return inputs, targets


class GoalReachingSplit(TensorDataset):
    """A split of the task: ``(inputs, targets)`` rows that know their grid's ``grid_size`` (what a
    rollout clips to), so an evaluator needs no separate setting for it."""

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, grid_size: int) -> None:
        super().__init__(inputs, targets)
        self.grid_size = grid_size


def goal_reaching(
    n_samples: int = 4096,
    size: int = 4,
    horizon: int = 6,
    noise: float = 0.4,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> DataBundle:
    """The registered dataset ``mg_select_goal_reaching``: noisy demonstrations for training, expert
    demonstrations (``noise`` 0) for validation, each drawn from its own seed."""
    if not isinstance(size, int) or isinstance(size, bool) or not 2 <= size <= 10:
        raise ParamError("size", f"{size!r}; accepted: an integer from 2 to 10 (one digit per coordinate)")
    check_int("n_samples", n_samples, 2)
    check_int("horizon", horizon, 2 * (size - 1))
    check_float("noise", noise, 0.0, 1.0)
    check_float("val_fraction", val_fraction, 0.0, 1.0, open_low=True)
    check_int("seed", seed, 0)
    n_val = max(1, int(n_samples * val_fraction))
    train = demonstrations(n_samples - n_val, size, horizon, noise, seed)
    val = demonstrations(n_val, size, horizon, 0.0, seed + 1_000_003)
    return DataBundle(
        train=GoalReachingSplit(*train, grid_size=size),
        val=GoalReachingSplit(*val, grid_size=size),
        task="language_modeling",
        vocab_size=VOCAB_SIZE,
        name="mg_select_goal_reaching",
    )
