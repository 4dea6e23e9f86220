"""``mg_select``: MG-Select best-of-N on the goal-reaching task's episodes, against single sampling and
random selection among the same candidates."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.checks import check_choice, check_float, check_int
from paperzoo.errors import ParamError
from paperzoo_tinylm.tokenizer import MASK

from paperzoo_mg_select.checks import check_positions
from paperzoo_mg_select.goal_reaching import PROMPT_LEN, STATE_POSITIONS, TEXT_POSITIONS, success
from paperzoo_mg_select.mg_select import MASKINGS, masked_positions, mg_select


class MGSelect:
    """For each of ``n_prompts`` episodes (the split's first rows' prompts): sample ``n`` action chunks,
    score them by the condition-masking KL confidence and keep the most confident; roll it out.

    Reports ``success`` (MG-Select's choice), ``success_single`` (the first sample alone: plain
    sampling), ``success_random`` (the mean over the ``n`` samples: the expected success of a uniformly
    random choice among them), ``success_oracle`` (some sample succeeds) and ``confidence`` (the chosen
    candidates' mean score).

    :param n: candidates per episode.
    :param masking: the reference's masked conditions: ``both``, ``state`` or ``text``.
    :param aggregate: ``sum`` (the paper's) or ``mean`` of the per-token KL over the action tokens.
    :param temperature: sampling temperature.
    :param n_prompts: episodes (the first rows of the split).
    :param size: the grid size the rows were made with (for the rollout); ``None``: the split's own
        ``grid_size`` (the ``mg_select_goal_reaching`` dataset's splits carry it).
    :param prompt_len: tokens of each row's prompt (the rest is the action chunk and ``<eos>``).
    :param state_positions: prompt positions of the state tokens.
    :param text_positions: prompt positions of the instruction tokens.
    :param mask_id: the id written over masked conditions.
    :param split: ``val`` or ``train``.
    :param seed: seed of the sampling.
    """

    keys = ("success", "success_single", "success_random", "success_oracle", "confidence")

    def __init__(
        self,
        n: int = 8,
        masking: str = "both",
        aggregate: str = "sum",
        temperature: float = 1.0,
        n_prompts: int = 64,
        size: int | None = None,
        prompt_len: int = PROMPT_LEN,
        state_positions: list[int] | tuple[int, ...] = STATE_POSITIONS,
        text_positions: list[int] | tuple[int, ...] = TEXT_POSITIONS,
        mask_id: int = MASK,
        split: str = "val",
        seed: int = 0,
    ) -> None:
        check_int("n", n, 1)
        self.masking = check_choice("masking", masking, MASKINGS)
        self.aggregate = check_choice("aggregate", aggregate, ("sum", "mean"))
        check_float("temperature", temperature, 0.0, open_low=True)
        check_int("n_prompts", n_prompts, 1)
        if size is not None:
            check_int("size", size, 2)
        check_int("prompt_len", prompt_len, 1)
        state = check_positions("state_positions", state_positions)
        text = check_positions("text_positions", text_positions)
        if any(p >= prompt_len for p in state + text):
            raise ParamError("state_positions", f"{list(state + text)}; accepted: positions < {prompt_len}")
        check_int("mask_id", mask_id, 0)
        self.split = check_choice("split", split, ("train", "val"))
        check_int("seed", seed, 0)
        self.n, self.temperature, self.n_prompts, self.size = n, float(temperature), n_prompts, size
        self.prompt_len, self.mask_id, self.seed = prompt_len, mask_id, seed
        self.positions = masked_positions(masking, state, text)

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: Any) -> dict[str, float]:
        was_training = model.training
        model.eval()
        dataset = data.val if self.split == "val" else data.train
        device = next(model.parameters()).device
        gen = torch.Generator(device).manual_seed(self.seed)
        totals = dict.fromkeys(self.keys, 0.0)
        count = min(self.n_prompts, len(dataset))
        size = self.size if self.size is not None else getattr(dataset, "grid_size", None)
        if size is None:
            raise ValueError("mg_select: the split has no grid_size; set the evaluator's size")
        for i in range(count):
            row = dataset[i][0].to(device)
            horizon = len(row) - self.prompt_len
            res = mg_select(
                model,
                row[: self.prompt_len],
                self.n,
                horizon,
                self.positions,
                mask_id=self.mask_id,
                aggregate=self.aggregate,
                temperature=self.temperature,
                generator=gen,
            )
            ok = torch.tensor([float(success(s.cpu(), size)) for s in res.sequences])
            totals["success"] += float(ok[res.best])
            totals["success_single"] += float(ok[0])
            totals["success_random"] += float(ok.mean())
            totals["success_oracle"] += float(ok.max())
            totals["confidence"] += res.best_score
        model.train(was_training)
        return {k: v / count for k, v in totals.items()}
