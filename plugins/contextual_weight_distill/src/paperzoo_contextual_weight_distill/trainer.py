"""The plugin's trainers: ``contextual_embedding_init`` (vocabulary extension and the distilled init of
the new rows) and ``curriculum_mlm`` (continued masked-LM with a curriculum over masking rate and
strategy). Both train a ``tinylm_encoder`` whose ``vocab_size`` is the base vocabulary (363) plus the
number of ``words``, on a byte-level dataset (the inputs of ``run.data``)."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.data import fetch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised, pick_device

from paperzoo_contextual_weight_distill.distill import distill_new_embeddings
from paperzoo_contextual_weight_distill.masking import BIOPTIMUS_STAGES, CurriculumMLM, MaskingStage
from paperzoo_contextual_weight_distill.mlm import mlm_loss, validation_mlm_loss
from paperzoo_contextual_weight_distill.vocab import DomainVocab, init_new_rows


def _words(words: Any, required: bool) -> DomainVocab | None:
    if words is None and not required:
        return None
    if not isinstance(words, (list, tuple)) or not words or not all(isinstance(w, str) and w for w in words):
        raise ParamError("words", f"{words!r}; accepted: a non-empty list of distinct non-empty strings")
    try:
        return DomainVocab(list(words))
    except ValueError as e:
        raise ParamError("words", f"{e}") from None


def _check_vocab(model: torch.nn.Module, vocab: DomainVocab | None, trainer: str) -> None:
    rows = getattr(getattr(model, "tok_embed", None), "weight", None)
    if rows is None or getattr(model, "causal", True):
        raise ValueError(f"{trainer} trains a tinylm_encoder, got {type(model).__name__}")
    need = vocab.vocab_size if vocab is not None else 0
    if vocab is not None and rows.shape[0] != need:
        raise ValueError(
            f"{trainer}: model.vocab_size is {rows.shape[0]}; accepted: {need} "
            f"(the base {vocab.base_vocab_size} ids plus one per word)"
        )


def _inputs(split: Any, limit: int | None = None) -> torch.Tensor:
    n = len(split) if limit is None else min(limit, len(split))
    return fetch(split, torch.arange(n))[0]


class ContextualEmbeddingInit(Supervised):
    """Extend the vocabulary by ``words`` and initialise their rows (BIOptimus's contextual distillation).

    ``max_steps`` distillation steps of Adam at ``lr`` on the new embedding rows only (the rest of the
    model bitwise frozen), on the training texts that contain a word, batches of ``batch_size``.

    :param words: the new domain tokens (each one id after the base vocabulary, in order).
    :param init: ``distill`` (the method), or the baselines ``mean`` (of sub-tokens) and ``random``.
    :param start: the rows distillation starts from: ``mean`` or ``random``.
    :param layers: the hidden states matched: ``last`` (the final one) or ``all`` (every block's output).
    :param lr: the distillation learning rate (the configured optimizer is not used).
    :param base_steps: masked-LM steps (AdamW at ``base_lr``, token masking 0.15) on the old tokenization
        before the extension, standing in for a pre-trained model (0: the model is taken as it is).
    :param eval_batches: validation batches for ``val_mlm_loss`` (new tokenization, token masking 0.15).
    """

    def __init__(
        self,
        words: list[str] | None = None,
        init: str = "distill",
        start: str = "mean",
        layers: str = "last",
        lr: float = 1e-2,
        base_steps: int = 0,
        base_lr: float = 3e-3,
        eval_batches: int = 4,
        **loop: Any,
    ) -> None:
        self.vocab = _words(words, required=True)
        for name, value, accepted in (
            ("init", init, ("distill", "mean", "random")),
            ("start", start, ("mean", "random")),
            ("layers", layers, ("last", "all")),
        ):
            if value not in accepted:
                raise ParamError(name, f"{value!r}; accepted: {', '.join(map(repr, accepted))}")
        for name, value in (("lr", lr), ("base_lr", base_lr)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ParamError(name, f"{value!r}; accepted: a number > 0")
        for name, value in (("base_steps", base_steps), ("eval_batches", eval_batches)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ParamError(name, f"{value!r}; accepted: an integer >= 0")
        super().__init__(**loop)
        self.init, self.start, self.layers, self.lr = init, start, layers, float(lr)
        self.base_steps, self.base_lr, self.eval_batches = base_steps, float(base_lr), eval_batches
        self.distill_losses: list[float] = []

    def fit(self, run: Run) -> dict[str, Any]:
        _check_vocab(run.model, self.vocab, "contextual_embedding_init")
        self.setup(run)
        model, vocab = run.model, self.vocab
        g = torch.Generator(device=self.device).manual_seed(run.seed)
        train = _inputs(run.data.train).to(self.device)
        if self.base_steps:
            self._pretrain_base(model, train, g)
        has_word = torch.tensor([bool(vocab.retokenize_row(r)[1]) for r in train.tolist()])
        texts = train[has_word.to(train.device)]
        self.words_found = int(has_word.sum())
        if self.init == "distill" and len(texts):
            order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(run.seed))
            batches = list(texts[order.to(texts.device)].split(self.batch_size))
            steps = self.total_steps(run)
            self.distill_losses = distill_new_embeddings(
                model, batches, vocab, steps, self.lr, self.layers, self.start, g
            ).losses
            self.state.step = steps
        else:
            init_new_rows(model, vocab, self.start if self.init == "distill" else self.init, generator=g)
        self.train_seconds = 0.0
        self.save_checkpoint(run)
        return self.finish(run)

    def _pretrain_base(self, model: torch.nn.Module, train: torch.Tensor, g: torch.Generator) -> None:
        opt = torch.optim.AdamW(model.parameters(), lr=self.base_lr, weight_decay=0.01)
        stage = MaskingStage(strategy="token", rate=0.15)
        model.train()
        for _ in range(self.base_steps):
            idx = torch.randint(len(train), (self.batch_size,), generator=g, device=train.device)
            loss = mlm_loss(model, stage(train[idx], g), vocab_limit=self.vocab.base_vocab_size)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        self.base_loss = float(loss.detach())

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        out = {**super().summarize(run, metrics), "init": self.init, "texts_with_words": self.words_found}
        if self.base_steps:
            out["base_mlm_loss"] = self.base_loss
        if self.distill_losses:
            out["distill_loss_start"] = self.distill_losses[0]
            out["distill_loss_end"] = self.distill_losses[-1]
        if self.eval_batches:
            val = self.vocab.retokenize(_inputs(run.data.val, self.eval_batches * self.batch_size))[0]
            out["val_mlm_loss"] = validation_mlm_loss(run.model, val.to(self.device), run.seed + 1)
        return out


class CurriculumMLMTrainer(Supervised):
    """Continued masked-LM pre-training with a curriculum over masking rate and strategy.

    :param stages: phases as mappings of :class:`~paperzoo_contextual_weight_distill.masking.MaskingStage`
        fields (``until``, ``strategy``: token / whole_word / span, ``rate``, ``corrupt``, ...); default
        BIOptimus's four (tokens 0.15; whole words 0.15; whole words 0.2; whole words 0.2 uncorrupted).
    :param words: domain words of an extended vocabulary (the texts are retokenized with them), or none.
    :param eval_batches: validation batches for ``val_mlm_loss`` (token masking 0.15, fixed seed).
    Other params: those of the supervised loop (the stage follows ``step / total_steps``).
    """

    def __init__(
        self,
        stages: list[dict[str, Any]] | None = None,
        words: list[str] | None = None,
        eval_batches: int = 4,
        **loop: Any,
    ) -> None:
        self.vocab = _words(words, required=False)
        try:
            built = BIOPTIMUS_STAGES if stages is None else tuple(MaskingStage(**dict(s)) for s in stages)
            self.curriculum = CurriculumMLM(built)
        except (TypeError, ValueError) as e:
            raise ParamError(
                "stages", f"{e}; accepted: a list of {{until, strategy, rate, corrupt}}"
            ) from None
        if isinstance(eval_batches, bool) or not isinstance(eval_batches, int) or eval_batches < 0:
            raise ParamError("eval_batches", f"{eval_batches!r}; accepted: an integer >= 0")
        super().__init__(**loop)
        self.eval_batches = eval_batches
        self.rng: torch.Generator | None = None

    def setup(self, run: Run) -> None:
        _check_vocab(run.model, self.vocab, "curriculum_mlm")
        self.rng = torch.Generator(device=pick_device(self.device_name)).manual_seed(run.seed)
        super().setup(run)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        ids = batch[0]
        if self.vocab is not None:
            ids = self.vocab.retokenize(ids)[0]
        progress = self.state.step / max(self.total_steps(self.run), 1)
        return mlm_loss(model, self.curriculum(ids, progress, self.rng))

    def extra_state(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state()} if self.rng is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "rng" in state and self.rng is not None:
            self.rng.set_state(state["rng"])

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        out = super().summarize(run, metrics)
        out["stage"] = self.curriculum.stage_at(self.state.step / max(self.total_steps(run), 1))
        if self.eval_batches:
            val = _inputs(run.data.val, self.eval_batches * self.batch_size)
            if self.vocab is not None:
                val = self.vocab.retokenize(val)[0]
            out["val_mlm_loss"] = validation_mlm_loss(run.model, val.to(self.device), run.seed + 1)
        return out
