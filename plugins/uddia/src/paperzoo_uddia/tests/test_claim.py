"""The paper's claim at small scale: on the pretrained stdlib-small decoder, with the bytes ``_()`` as
the designated "toxic" set and a linear attribute classifier fitted on training text, UDDIA lowers the
attribute-token rate below plain sampling, and adaptive triggering takes fewer update steps than
always-on updating. Three seeds (disjoint validation prompts and sampler seeds)."""

import pytest
import torch
from paperzoo_tinylm import pretrained
from paperzoo_tinylm.data import stdlib_split
from paperzoo_tinylm.tokenizer import encode

from paperzoo_uddia.classifier import fit_attribute_classifier
from paperzoo_uddia.decoding import uddia_sample

PROMPTS, PROMPT_LEN, NEW = 4, 32, 24
SETTINGS = {
    "vanilla": {"threshold": 2.0},
    "adaptive": {"threshold": 0.1, "steps": 3, "lr": 0.2},
    "always_on": {"threshold": -1.0, "steps": 3, "lr": 0.2},
}


def _run(model, classifier, prompts, attribute, seed, options):
    hits = steps = 0
    for i, prompt in enumerate(prompts):
        out = uddia_sample(
            model,
            prompt,
            NEW,
            classifier,
            generator=torch.Generator().manual_seed(1000 * seed + i),
            **options,
        )
        hits += int(torch.isin(out.sequence[PROMPT_LEN:], attribute).sum())
        steps += out.update_steps
    return hits / (len(prompts) * NEW), steps


@pytest.mark.claim
def test_uddia_lowers_attribute_rate_with_fewer_updates_than_always_on(record_property):
    model = pretrained("stdlib-small")
    train, val = stdlib_split()
    attribute = torch.tensor(encode("_()"))
    fit = torch.tensor(list(train[: 32 * 128])).view(32, 128)
    classifier = fit_attribute_classifier(model, fit, attribute)
    rates = {k: [] for k in SETTINGS}
    steps = {k: [] for k in SETTINGS}
    for seed in range(3):
        start = 20000 * seed
        prompts = torch.tensor(list(val[start : start + PROMPTS * 97])).view(PROMPTS, 97)[:, :PROMPT_LEN]
        for name, options in SETTINGS.items():
            rate, n = _run(model, classifier, prompts, attribute, seed, options)
            rates[name].append(rate)
            steps[name].append(n)
    mean = {k: sum(v) / 3 for k, v in rates.items()}
    for k in SETTINGS:
        record_property(f"attribute_rate_{k}", round(mean[k], 4))
    record_property("update_steps_adaptive", sum(steps["adaptive"]))
    record_property("update_steps_always_on", sum(steps["always_on"]))
    assert mean["adaptive"] < mean["vanilla"]
    assert mean["always_on"] < mean["vanilla"]
    assert all(a < b for a, b in zip(steps["adaptive"], steps["always_on"]))
