"""Exact properties of PRIOR's weights, its weighted loss and the trainer."""

import pytest
import torch
import torch.nn.functional as F
from paperzoo.errors import ParamError
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_prior_token_weighting.captions import Captioner, CaptionTask, WithImages
from paperzoo_prior_token_weighting.trainer import PriorWeightedNTP
from paperzoo_prior_token_weighting.weighting import prior_scores, prior_weights, weighted_ntp_loss


def _probs(shape, seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_weights_have_mean_one_over_each_captions_targets():
    p = _probs((4, 9))
    mask = _probs((4, 9), 1) > 0.3
    for alpha in (0.5, 1.0, 2.0):
        w = prior_weights(p, mask, alpha)
        for row in range(4):
            assert abs(w[row][mask[row]].mean().item() - 1.0) < 1e-12
        assert (w[~mask] == 0).all()
    assert torch.allclose(
        prior_weights(p).mean(dim=-1), torch.ones(4, dtype=torch.float64), rtol=0, atol=1e-12
    )
    # rows are independent: a caption's weights do not depend on the other captions of the batch
    assert torch.equal(prior_weights(p, mask)[1], prior_weights(p[1:2], mask[1:2])[0])


def test_weights_decrease_with_the_reference_probability():
    p = torch.linspace(0, 1, 101, dtype=torch.float64)
    w = prior_weights(p, alpha=1.5, clip_min=0.01)
    assert (w[1:] <= w[:-1]).all()
    assert w[0] > w[50] > w[-1] > 0  # strictly between the ends, and the clip keeps the last positive
    # the clip floor: p -> 1 gives the floor's share, not zero
    assert torch.isclose(w[-1] / w[0], torch.tensor(0.01, dtype=torch.float64))


def test_score_closed_form():
    p = torch.tensor([0.0, 0.19, 0.75, 0.999, 1.0], dtype=torch.float64)
    s = prior_scores(p, alpha=2.0, clip_min=0.01)
    expected = torch.tensor([1.0, 0.6561, 0.0625, 0.01, 0.01], dtype=torch.float64)
    assert torch.allclose(s, expected, rtol=0, atol=1e-12)


def test_constant_weighting_is_plain_ntp_bitwise():
    torch.manual_seed(0)
    model = TinyLMDecoder(vocab_size=40, d_model=16, n_layers=1, n_heads=2, max_seq_len=16)
    ids = torch.randint(40, (3, 12))
    # alpha = 0: every score is 1, every weight exactly 1, so lm_loss is the plain loss bit for bit
    w = prior_weights(_probs((3, 12)).float(), alpha=0.0)
    assert (w == 1).all()
    assert torch.equal(lm_loss(model, ids, weights=w), lm_loss(model, ids))
    # the trainer's loss on (inputs, targets) with unit weights is the mean cross-entropy bit for bit
    logits, y = model(ids[:, :-1]).logits, ids[:, 1:].clone()
    y[0, :4] = -100
    plain = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), ignore_index=-100)
    ones = torch.ones_like(y, dtype=torch.float32)
    assert torch.allclose(weighted_ntp_loss(logits, y, ones), plain, rtol=1e-7, atol=0)


def test_weight_scale_does_not_change_the_loss():
    torch.manual_seed(1)
    logits, y = torch.randn(2, 7, 11, dtype=torch.float64), torch.randint(11, (2, 7))
    w = _probs((2, 7), 3)
    a, b = weighted_ntp_loss(logits, y, w), weighted_ntp_loss(logits, y, 5.0 * w)
    assert abs(a.item() - b.item()) < 1e-6  # cross-entropy runs in float32


def test_captioner_images_only_change_the_image_positions_input():
    task = CaptionTask(n_values=3, n_words=5, length=5, n_features=4)
    data = task.sample(6, seed=0)
    torch.manual_seed(0)
    model = Captioner(task.vocab_size, task.n_features, task.n_img, d_model=16, n_layers=1, n_heads=2)
    with_img = model(data["ids"], images=data["images"]).logits
    other = model(data["ids"], images=data["images"].flip(0)).logits
    assert not torch.allclose(with_img, other)  # the decoder reads the image
    assert torch.equal(WithImages(model, data["images"])(data["ids"]).logits, with_img)
    # slots hold attribute tokens and only they are flagged; every caption has a <bos> and an <eos>
    rel = data["image_related"]
    assert (rel.sum(1) == 2).all() and (data["ids"][rel] < 3 + 2 * task.n_values).all()
    assert (data["ids"][rel] >= 3).all()


def test_trainer_rejects_bad_params():
    for kwargs, param in (
        ({"alpha": -1}, "alpha"),
        ({"clip_min": 0}, "clip_min"),
        ({"clip_min": 2}, "clip_min"),
        ({"reference_steps": -1}, "reference_steps"),
        ({"reference_model": 3}, "reference_model"),
    ):
        with pytest.raises(ParamError) as err:
            PriorWeightedNTP(**kwargs)
        assert err.value.param == param


def test_trainer_loss_on_image_batches_is_lm_loss_with_prior_weights():
    task = CaptionTask(n_values=3, n_words=5, length=5, n_features=4)
    data = task.sample(5, seed=1)
    torch.manual_seed(0)
    model = Captioner(task.vocab_size, task.n_features, task.n_img, d_model=16, n_layers=1, n_heads=2)
    with torch.no_grad():
        model.decoder.lm_head.weight.mul_(30.0)  # peaked predictions: per-token losses differ widely
    trainer = PriorWeightedNTP(alpha=2.0, clip_min=0.05)
    trainer.reference = TinyLMDecoder(vocab_size=task.vocab_size, d_model=16, n_layers=1, n_heads=2).eval()
    with torch.no_grad():
        trainer.reference.lm_head.weight.mul_(30.0)  # reference probabilities spread over (0, 1)
    ids, caption = data["ids"], data["caption"]
    x, y = ids[:, :-1], torch.where(caption, ids, -100)[:, 1:]
    ours = trainer.compute_loss(model, (data["images"], x, y), "language_modeling")
    with torch.no_grad():
        logits = trainer.reference(ids).logits[:, :-1]
        p = torch.softmax(logits, -1).gather(-1, ids[:, 1:, None])[..., 0]
    w = prior_weights(p, caption[:, 1:], 2.0, 0.05)
    theirs = lm_loss(WithImages(model, data["images"]), ids, weights=w)
    assert abs(ours.item() - theirs.item()) < 1e-5
    uniform = lm_loss(WithImages(model, data["images"]), ids, weights=caption[:, 1:].float())
    assert abs(ours.item() - uniform.item()) > 1e-2  # the weights matter


class _Reads(torch.utils.data.Dataset):
    """A dataset of ``(inputs, targets)`` rows that records which rows were read."""

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.inputs, self.targets, self.read = inputs, targets, set()

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.read.add(i)
        return self.inputs[i], self.targets[i]


def test_resume_restores_the_reference_without_reading_the_training_split(tmp_path):
    from paperzoo.data import DataBundle
    from paperzoo.trainer import Run

    ids = torch.randint(12, (16, 9), generator=torch.Generator().manual_seed(0))
    x, y = ids[:, :-1], ids[:, 1:]

    def run(resume: bool) -> tuple[PriorWeightedNTP, _Reads]:
        train = _Reads(x, y)
        torch.manual_seed(1)
        model = TinyLMDecoder(vocab_size=12, max_seq_len=8, d_model=16, n_layers=1, n_heads=2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        data = DataBundle(train, train, "language_modeling", vocab_size=12)
        trainer = PriorWeightedNTP(
            reference_steps=3, reference_batch=4, max_steps=2, batch_size=4, checkpoint_every=2,
            device="cpu", progress=False,
        )  # fmt: skip
        trainer.setup(Run(model=model, data=data, optimizer=opt, run_dir=tmp_path, seed=0, resume=resume))
        if not resume:
            trainer.train(trainer.run)
        return trainer, train

    first, first_reads = run(resume=False)
    again, again_reads = run(resume=True)
    assert len(first_reads.read) == 16 and again_reads.read == {0}  # one row: the reference's length
    assert again.state.step == 2
    for name, value in first.reference.state_dict().items():
        assert torch.equal(value, again.reference.state_dict()[name]), name
    fresh = PriorWeightedNTP(reference_steps=0)  # an untrained reference differs: the restore mattered
    fresh.setup(
        Run(
            model=TinyLMDecoder(vocab_size=12, max_seq_len=8, d_model=16, n_layers=1, n_heads=2),
            data=DataBundle(_Reads(x, y), None, "language_modeling", vocab_size=12),
            seed=0,
        )
    )
    assert not torch.equal(fresh.reference.lm_head.weight, again.reference.lm_head.weight)
