"""Exact properties: retokenization, vocabulary extension, the baselines' closed forms, distillation that
changes only the new rows, and the masking strategies and curriculum."""

import pytest
import torch
from paperzoo.errors import ParamError
from paperzoo_tinylm.model import TinyLMEncoder
from paperzoo_tinylm.tokenizer import MASK, PAD, VOCAB_SIZE
from paperzoo_tinylm.transforms import IGNORE, MLMTransform

from paperzoo_contextual_weight_distill.distill import distill_loss, distill_new_embeddings
from paperzoo_contextual_weight_distill.masking import BIOPTIMUS_STAGES, CurriculumMLM, MaskingStage, word_ids
from paperzoo_contextual_weight_distill.trainer import ContextualEmbeddingInit, CurriculumMLMTrainer
from paperzoo_contextual_weight_distill.vocab import DomainVocab, extend_vocab, init_new_rows

TEXT = b"import os\nreturn self.x if self else os.sep\nimport re; return re"
WORDS = ["import", "return", "self", "re"]


def _ids(text: bytes = TEXT) -> torch.Tensor:
    return torch.tensor([list(text)], dtype=torch.long)


def _base(tied: bool, seed: int = 0) -> TinyLMEncoder:
    torch.manual_seed(seed)
    return TinyLMEncoder(d_model=16, n_layers=2, n_heads=2, max_seq_len=64, tie_embeddings=tied)


def test_retokenize_round_trip_and_spans():
    vocab = DomainVocab(WORDS)
    ids = _ids()
    new, occ = vocab.retokenize(ids)
    row = [t for t in new[0].tolist() if t != PAD]
    assert vocab.detokenize(row) == list(TEXT)
    assert len(row) == len(TEXT) - sum(o.length - 1 for o in occ)
    assert new.shape == ids.shape and (new[0, len(row) :] == PAD).all()
    for o in occ:
        assert row[o.new_pos] == VOCAB_SIZE + o.word
        assert bytes(TEXT[o.old_start : o.old_start + o.length]) == WORDS[o.word].encode()
    # "return" is matched whole, never as "re" + "turn"; "re" alone twice ("re;" and the final "re")
    counts = [sum(o.word == w for o in occ) for w in range(len(WORDS))]
    assert counts == [2, 2, 2, 2]


@pytest.mark.parametrize("tied", [True, False])
def test_extend_vocab_keeps_old_model_bitwise(tied):
    base = _base(tied)
    new = extend_vocab(base, 3)
    assert new.tok_embed.weight.shape[0] == VOCAB_SIZE + 3
    assert (new.lm_head.weight is new.tok_embed.weight) == tied
    ids = _ids()
    assert torch.equal(new(ids).logits[..., :VOCAB_SIZE], base(ids).logits)


@pytest.mark.parametrize("tied", [True, False])
def test_mean_and_random_init(tied):
    vocab = DomainVocab(WORDS)
    model = extend_vocab(_base(tied), len(vocab))
    init_new_rows(model, vocab, "mean")
    for w, word in enumerate(WORDS):
        subs = list(word.encode())
        for table in (model.tok_embed.weight, model.lm_head.weight):
            expected = sum(table[s].double() for s in subs) / len(subs)
            assert torch.allclose(table[VOCAB_SIZE + w].double(), expected, atol=1e-7, rtol=0)  # float32 mean
    init_new_rows(model, vocab, "random", std=0.5, generator=torch.Generator().manual_seed(0))
    rows = model.tok_embed.weight[VOCAB_SIZE:]
    assert 0.3 < float(rows.detach().std()) < 0.7


@pytest.mark.parametrize("tied", [True, False])
def test_distillation_changes_only_new_rows(tied):
    vocab = DomainVocab(WORDS)
    model = extend_vocab(_base(tied), len(vocab))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = torch.cat([_ids(), _ids(TEXT[::-1])])
    res = distill_new_embeddings(model, [ids], vocab, steps=30, lr=3e-2, start="random")
    assert model.training  # restored
    assert all(p.requires_grad for p in model.parameters())
    assert res.losses[-1] < 0.5 * res.losses[0]
    for k, v in model.state_dict().items():
        if k in ("tok_embed.weight", "lm_head.weight") and (k == "tok_embed.weight" or tied):
            assert torch.equal(v[:VOCAB_SIZE], before[k][:VOCAB_SIZE]), k
            assert not torch.equal(v[VOCAB_SIZE:], before[k][VOCAB_SIZE:]), k
        elif k == "lm_head.weight":  # untied head: new rows keep their random start, old rows untouched
            assert torch.equal(v[:VOCAB_SIZE], before[k][:VOCAB_SIZE])
        else:
            assert torch.equal(v, before[k]), k


def test_single_byte_word_is_already_distilled():
    # a one-byte word's mean init is its byte's row: student and teacher run the same network on the
    # same embeddings, so the loss is exactly zero and the gradient leaves the row as it is
    vocab = DomainVocab(["x"])
    model = extend_vocab(_base(True), 1)
    ids = _ids(b"a x b xx")
    res = distill_new_embeddings(model, [ids], vocab, steps=3, lr=1e-2, start="mean")
    assert res.losses == [0.0] * 4
    assert torch.equal(model.tok_embed.weight[VOCAB_SIZE], model.tok_embed.weight[ord("x")])


@pytest.mark.parametrize("layers", ["last", "all"])
def test_distill_loss_closed_form(layers):
    vocab = DomainVocab(["return"])
    model = extend_vocab(_base(False), 1)
    init_new_rows(model, vocab, "random", generator=torch.Generator().manual_seed(1))
    model.eval()
    text = b"  return x"
    old = _ids(text)
    new = torch.tensor([[32, 32, VOCAB_SIZE, 32, ord("x")] + [PAD] * 5])
    h_old = model(old, output_hidden_states=True).hidden_states
    h_new = model(new, attention_mask=(new != PAD).long(), output_hidden_states=True).hidden_states
    use = [len(h_old) - 1] if layers == "last" else range(1, len(h_old))
    expected = torch.stack([((h_new[i][0, 2] - h_old[i][0, 2:8].mean(0)) ** 2).mean() for i in use]).mean()
    assert torch.allclose(distill_loss(model, old, vocab, layers), expected, atol=1e-7, rtol=1e-6)


def test_word_ids_and_whole_word_masking():
    vocab = DomainVocab(WORDS)
    ids = vocab.retokenize(_ids())[0]
    words = word_ids(ids)
    assert (words[ids == PAD] == -1).all() and (words[ids == 32] == -1).all()
    full = MaskingStage(strategy="whole_word", rate=1.0, corrupt=False)(ids, torch.Generator().manual_seed(0))
    assert torch.equal(full.loss_mask, words >= 0)
    assert (full.inputs[full.loss_mask] == MASK).all() and torch.equal(
        full.targets[full.loss_mask], ids[words >= 0]
    )
    for seed in range(5):
        out = MaskingStage(strategy="whole_word", rate=0.4)(ids, torch.Generator().manual_seed(seed))
        for w in words.unique().tolist():  # every word is chosen whole or not at all
            if w >= 0:
                sel = out.loss_mask[words == w]
                assert sel.all() or not sel.any()
        assert (out.targets[~out.loss_mask] == IGNORE).all()


@pytest.mark.parametrize("strategy", ["token", "whole_word", "span"])
def test_rate_zero_is_identity(strategy):
    ids = _ids()
    out = MaskingStage(strategy=strategy, rate=0.0)(ids, torch.Generator().manual_seed(0))
    assert torch.equal(out.inputs, ids) and not out.loss_mask.any()


def test_span_masking_covers_whole_words_at_the_rate():
    ids = torch.tensor([list((b"alpha beta gamma delta epsilon zeta eta theta iota kappa " * 3)[:160])])
    words = word_ids(ids)
    shares = []
    for seed in range(20):
        out = MaskingStage(strategy="span", rate=0.3)(ids, torch.Generator().manual_seed(seed))
        for w in words.unique().tolist():
            if w >= 0:
                sel = out.loss_mask[words == w]
                assert sel.all() or not sel.any()
        shares.append(float(out.loss_mask.sum()) / float((words >= 0).sum()))
    assert 0.28 <= sum(shares) / len(shares) <= 0.45  # the budget is met, overshooting by under one span


def test_token_stage_is_bert_masking_bitwise():
    ids = torch.randint(0, 256, (4, 32), generator=torch.Generator().manual_seed(0))
    ref = MLMTransform(0.15)(ids, torch.Generator().manual_seed(3))
    out = MaskingStage(strategy="token", rate=0.15)(ids, torch.Generator().manual_seed(3))
    assert torch.equal(out.inputs, ref.inputs) and torch.equal(out.targets, ref.targets)


def test_new_tokens_are_maskable_and_reserved_ids_never():
    ids = torch.tensor([[VOCAB_SIZE, 257, VOCAB_SIZE + 1, 97, 258, PAD]])
    for strategy in ("token", "whole_word"):
        out = MaskingStage(strategy=strategy, rate=1.0)(ids, torch.Generator().manual_seed(0))
        assert out.loss_mask.tolist() == [[True, False, True, True, False, False]]


def test_curriculum_stage_boundaries():
    cur = CurriculumMLM()
    assert cur.stages == BIOPTIMUS_STAGES
    assert [cur.stage_at(p) for p in (0.0, 0.2499, 0.25, 0.5, 0.74, 0.75, 1.0)] == [0, 0, 1, 2, 2, 3, 3]
    with pytest.raises(ValueError):
        CurriculumMLM((MaskingStage(0.5), MaskingStage(0.5)))
    with pytest.raises(ValueError):
        CurriculumMLM((MaskingStage(0.5),))


def test_trainers_refuse_bad_params():
    with pytest.raises(ParamError):
        ContextualEmbeddingInit(words=[])
    with pytest.raises(ParamError):
        ContextualEmbeddingInit(words=["a", "a"])
    with pytest.raises(ParamError):
        ContextualEmbeddingInit(words=["a"], init="zeros")
    with pytest.raises(ParamError):
        CurriculumMLMTrainer(stages=[{"until": 1.0, "strategy": "sentence"}])


def test_head_rows_do_not_depend_on_the_embedding_method():
    vocab = DomainVocab(WORDS)
    heads = []
    for method in ("mean", "random"):
        model = extend_vocab(_base(False), len(vocab))
        init_new_rows(model, vocab, method, generator=torch.Generator().manual_seed(4), head="random")
        heads.append(model.lm_head.weight[VOCAB_SIZE:].detach().clone())
    assert torch.equal(heads[0], heads[1])


def test_uncorrupted_token_stage_masks_every_chosen_token():
    ids = torch.randint(0, 256, (4, 32), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = PAD
    out = MaskingStage(strategy="token", rate=0.5, corrupt=False)(ids, torch.Generator().manual_seed(3))
    assert out.loss_mask.any() and not out.loss_mask[:, 0].any()
    assert (out.inputs[out.loss_mask] == MASK).all() and torch.equal(
        out.inputs[~out.loss_mask], ids[~out.loss_mask]
    )
    assert torch.equal(out.targets[out.loss_mask], ids[out.loss_mask])


def _embedding_init_summary(base_steps: int) -> dict:
    from paperzoo.data import DataBundle
    from paperzoo.trainer import Run
    from torch.utils.data import TensorDataset

    rows = _ids(TEXT[:32] * 2).repeat(16, 1)
    data = DataBundle(TensorDataset(rows, rows), TensorDataset(rows[:4], rows[:4]), "language_modeling")
    vocab = DomainVocab(WORDS)
    torch.manual_seed(0)
    model = TinyLMEncoder(vocab_size=vocab.vocab_size, d_model=16, n_layers=1, n_heads=2, max_seq_len=64)
    trainer = ContextualEmbeddingInit(
        words=WORDS, base_steps=base_steps, max_steps=2, batch_size=8, eval_batches=1, device="cpu",
        progress=False,
    )  # fmt: skip
    return trainer.fit(Run(model=model, data=data, seed=0))


def test_embedding_init_reports_the_base_mlm_loss():
    assert "base_mlm_loss" not in _embedding_init_summary(0)
    first, trained = _embedding_init_summary(1)["base_mlm_loss"], _embedding_init_summary(40)["base_mlm_loss"]
    assert 0.0 < trained < first  # the last pre-training step's loss, lower after 40 steps than after 1
