"""The paper's claim at small scale: a trained coprocessor lowers the loss of a frozen decoder on the
tokens after the augmentation point, and more with more latents.

Setting (``helpers.run_seed``): a 2-layer tinylm decoder (d_model 32) pre-trained 150 steps on
``tinylm_counting`` (answer-only loss), frozen; coprocessors with N = 1 and 8 latents, the soft-tokens-
only control (N = 8) and the compute-matched fine-tuning of the decoder itself, each 150 AdamW steps at
3e-3 on one random split point per batch (after the 12 symbols); evaluated on the validation split over
every split point, loss (nats) on the answer digits that follow. 3 seeds, means compared. The experiment
runs once per module (about 40 s of CPU time).
"""

import pytest

from paperzoo_cache_coprocessor.tests.helpers import run_seed

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def mean_losses():
    runs = [run_seed(s) for s in SEEDS]
    return {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}


def _record(record_property, mean, keys):
    for k in keys:
        record_property(f"answer_loss_{k}", round(mean[k], 4))


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="measured (3 seeds, mean answer loss, nats): frozen decoder 1.0283, augmented N=8 1.1824 (N=1 "
    "1.2692), soft tokens only N=8 1.2055, decoder fine-tuned for the same steps 1.0199: the latents first "
    "raise the loss (N=8 untrained 1.3282) and 150 steps of coprocessor training do not bring it below the "
    "frozen decoder (500 steps, seed 0: 1.0264 vs 1.0223)",
)
def test_coprocessor_lowers_the_loss(mean_losses, record_property):
    _record(
        record_property, mean_losses, ("frozen", "coprocessor_n8", "soft_tokens_only_n8", "finetuned_decoder")
    )
    assert mean_losses["coprocessor_n8"] < mean_losses["frozen"] - 0.01


@pytest.mark.claim
def test_loss_falls_with_n_and_training(mean_losses, record_property):
    """What does hold: more latents give a lower loss than one, and training lowers the augmented loss
    from its value at initialisation."""
    _record(record_property, mean_losses, ("coprocessor_n1", "coprocessor_n8", "coprocessor_n8_untrained"))
    assert mean_losses["coprocessor_n8"] < mean_losses["coprocessor_n1"] - 0.02
    assert mean_losses["coprocessor_n8"] < mean_losses["coprocessor_n8_untrained"] - 0.02
