"""``semantic_permutation_augment``: the supervised loop on unit-permuted sequences (SPT)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised
from paperzoo_tinylm.tokenizer import PAD
from paperzoo_tinylm.transforms import IGNORE

from paperzoo_semantic_permutation_training.permute import LEVELS, Lexicon, draw_modes, permute_units


def permute_batch(
    x: torch.Tensor,
    y: torch.Tensor,
    modes: Sequence[str],
    level: str = "phrases",
    lexicon: Lexicon | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Permute the units of a language-modelling batch (inputs ``seq[:-1]``, targets ``seq[1:]`` with
    ``IGNORE`` where no loss counts). The sequence is rebuilt from both, its units moved with their
    target flags, and split again; a row in mode ``keep`` comes back unchanged. The last token is known
    only when it is a target: when it is not, it is treated as padding (it is in no input either)."""
    last = torch.where(y[:, -1:] == IGNORE, torch.full_like(y[:, -1:], PAD), y[:, -1:])
    seq = torch.cat([x, last], dim=1)
    keep = torch.cat([torch.zeros_like(y[:, :1], dtype=torch.bool), y != IGNORE], dim=1)
    index = permute_units(seq.cpu(), modes, level, lexicon, generator).to(x.device)
    seq, keep = seq.gather(1, index), keep.gather(1, index)
    return seq[:, :-1], torch.where(keep[:, 1:], seq[:, 1:], torch.full_like(y, IGNORE))


def _probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ParamError(name, f"{value!r}; accepted: a number in [0, 1]")
    return float(value)


class SemanticPermutationAugment(Supervised):
    """Semantic-aware Permutation Training: each training sequence is, independently, kept as it is,
    has the order of its semantic units reversed (probability ``p_reverse``), or has its units randomly
    shuffled (probability ``p_shuffle``), then trained on with the data's default loss (next-token
    cross-entropy). Units never split: entities and phrases move whole, so the causal model also learns
    to predict earlier units from later ones. ``p_reverse = p_shuffle = 0`` is the plain loop bit for bit.

    :param p_reverse: probability of the reversed order (paper: original, reversed and permuted orders
        in equal shares, so 1/3).
    :param p_shuffle: probability of a random order of the units (1/3).
    :param units: ``auto`` (the data's phrase lexicon when it has one, else ``words``), ``phrases``
        (greedy longest match against ``phrases`` or the data's lexicon), ``words`` or ``tokens``.
    :param phrases: a phrase lexicon (entities, relation phrases) for ``units: phrases``; default: the
        data's ``semantic_units``.
    Other params: those of the supervised loop. Draws come from a CPU generator seeded with the run's
    seed (saved with checkpoints).
    """

    def __init__(
        self,
        p_reverse: float = 1 / 3,
        p_shuffle: float = 1 / 3,
        units: str = "auto",
        phrases: list[str] | None = None,
        **loop: Any,
    ) -> None:
        self.p_reverse = _probability("p_reverse", p_reverse)
        self.p_shuffle = _probability("p_shuffle", p_shuffle)
        if self.p_reverse + self.p_shuffle > 1:
            raise ParamError("p_shuffle", f"{p_shuffle!r} with p_reverse {p_reverse!r}; accepted: a sum <= 1")
        if units not in ("auto", *LEVELS):
            raise ParamError("units", f"{units!r}; accepted: one of {('auto', *LEVELS)}")
        if phrases is not None and (
            not isinstance(phrases, list) or not all(isinstance(p, str) and p.strip() for p in phrases)
        ):
            raise ParamError("phrases", f"{phrases!r}; accepted: a list of non-empty strings")
        super().__init__(**loop)
        self.units, self.phrases = units, phrases
        self.level, self.lexicon = "words", None
        self.generator: torch.Generator | None = None

    def setup(self, run: Run) -> None:
        if run.data.task != "language_modeling":
            raise ValueError(
                f"the semantic_permutation_augment trainer trains language models; the data's task is "
                f"{run.data.task!r}"
            )
        given = self.phrases if self.phrases is not None else getattr(run.data, "semantic_units", None)
        if self.units == "phrases" and given is None:
            raise ValueError("units: phrases needs a phrase lexicon (the phrases param or the data's)")
        self.level = ("phrases" if given else "words") if self.units == "auto" else self.units
        self.lexicon = Lexicon.of(given) if self.level == "phrases" else None
        self.generator = None
        super().setup(run)  # restores the generator when resuming
        if self.generator is None:
            self.generator = torch.Generator().manual_seed(run.seed)

    def permuted(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One micro-batch after drawing each row's order."""
        if self.p_reverse == 0 and self.p_shuffle == 0:
            return x, y
        modes = draw_modes(x.shape[0], self.p_reverse, self.p_shuffle, self.generator)
        return permute_batch(x, y, modes, self.level, self.lexicon, self.generator)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        x, y = batch
        return super().compute_loss(model, self.permuted(x, y), task)

    def extra_state(self) -> dict[str, Any]:
        return {"order_generator": self.generator.get_state()} if self.generator is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "order_generator" in state:
            self.generator = torch.Generator()
            self.generator.set_state(state["order_generator"])

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {**super().summarize(run, metrics), "p_reverse": self.p_reverse, "p_shuffle": self.p_shuffle}
