"""The speculative verify-and-accept step: greedy acceptance, the exact output distribution of sampling
verification (enumerated on a tiny vocabulary, float64), and the cache rollback."""

import itertools
import math

import pytest
import torch

from paperzoo_tinylm.cache import KVCache
from paperzoo_tinylm.protocol import forward
from paperzoo_tinylm.speculative import (
    acceptance,
    crop_cache,
    density_acceptance,
    density_residual_sample,
    density_sampling_accept,
    greedy_accept,
    residual,
    sampling_accept,
    stop_probs,
)
from paperzoo_tinylm.tests import decoding_models

V = 3  # vocabulary of the enumeration tests


def _onehot_logits(tokens: list[int], vocab: int = 5) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(tokens), vocab).double()


def test_greedy_accept_hand_cases():
    # target's choices after [last, x1, x2, x3]: 1, 2, 4, 0
    logits = _onehot_logits([1, 2, 4, 0])
    assert greedy_accept(torch.tensor([1, 2, 4]), logits) == (3, 0)  # all accepted, then the bonus token
    assert greedy_accept(torch.tensor([1, 3, 4]), logits) == (1, 2)  # first disagreement at x2
    assert greedy_accept(torch.tensor([0, 2, 4]), logits) == (0, 1)  # a later match does not count
    assert greedy_accept(torch.tensor([], dtype=torch.long), logits[:1]) == (0, 1)  # no draft: greedy step


def test_greedy_accept_is_the_greedy_prefix():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        k = int(torch.randint(0, 5, (1,), generator=g))
        logits = torch.randn(k + 1, 4, generator=g, dtype=torch.float64)
        best = logits.argmax(-1)
        draft = torch.where(torch.rand(k, generator=g) < 0.7, best[:k], torch.randint(4, (k,), generator=g))
        n, token = greedy_accept(draft, logits)
        assert torch.equal(draft[:n], best[:n]) and token == int(best[n])
        assert n == k or int(draft[n]) != int(best[n])


def test_greedy_accept_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(k \+ 1, V\)"):
        greedy_accept(torch.tensor([1, 2]), torch.zeros(2, 5))


def test_residual_closed_form():
    p, q = (
        torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64),
        torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64),
    )
    torch.testing.assert_close(residual(p, q), torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    p2 = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    q2 = torch.tensor([0.1, 0.6, 0.3], dtype=torch.float64)
    torch.testing.assert_close(residual(p2, q2), torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    q3 = torch.tensor([0.4, 0.2, 0.4], dtype=torch.float64)  # max(0, p - q) = [0.1, 0.1, 0]
    torch.testing.assert_close(residual(p, q3), torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64))
    assert torch.equal(residual(p, p), p)  # no mass left: rejection impossible, p returned


def _table(seed: int, depth: int) -> dict[tuple[int, ...], torch.Tensor]:
    """A random distribution over V tokens for every prefix of length < depth (a tiny exact 'model')."""
    g = torch.Generator().manual_seed(seed)
    table = {}
    for length in range(depth):
        for prefix in itertools.product(range(V), repeat=length):
            w = torch.rand(V, generator=g, dtype=torch.float64) ** 3  # uneven, some near zero
            table[prefix] = w / w.sum()
    return table


def _continued(p: dict, emitted: tuple[int, ...], horizon: int) -> dict[tuple[int, ...], float]:
    """Distribution of the first ``horizon`` tokens when ``emitted`` is followed by target sampling."""
    if len(emitted) >= horizon:
        return {emitted[:horizon]: 1.0}
    out: dict[tuple[int, ...], float] = {}
    for y in range(V):
        for seq, w in _continued(p, emitted + (y,), horizon).items():
            out[seq] = out.get(seq, 0.0) + float(p[emitted][y]) * w
    return out


def _verified_distribution(p: dict, q: dict | None, k: int, horizon: int, fixed=None) -> dict:
    """Exact distribution of the first ``horizon`` tokens produced by one verification of a k-token draft
    (drawn from ``q``, or the fixed draft ``fixed`` when ``q`` is None), then target sampling."""
    drafts = [(fixed, 1.0)] if q is None else []
    if q is not None:
        for draft in itertools.product(range(V), repeat=k):
            weight = 1.0
            for i in range(k):
                weight *= float(q[draft[:i]][draft[i]])
            drafts.append((draft, weight))
    total: dict[tuple[int, ...], float] = {}
    for draft, weight in drafts:
        target = torch.stack([p[tuple(draft[:i])] for i in range(k + 1)])
        draft_probs = None if q is None else torch.stack([q[tuple(draft[:i])] for i in range(k)])
        accept, emit = acceptance(torch.tensor(draft), target, draft_probs)
        stop = stop_probs(accept)
        for n in range(k + 1):
            for y in range(V):
                w = weight * float(stop[n]) * float(emit[n, y])
                for seq, c in _continued(p, tuple(draft[:n]) + (y,), horizon).items():
                    total[seq] = total.get(seq, 0.0) + w * c
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 2])
def test_sampling_verification_is_exactly_target_sampling(seed, k):
    horizon = k + 1
    p, q = _table(seed, horizon + 1), _table(seed + 100, horizon)
    got = _verified_distribution(p, q, k, horizon)
    want = _continued(p, (), horizon)
    assert set(got) == set(want)
    err = max(abs(got[s] - want[s]) for s in want)
    assert err < 1e-12, err
    assert abs(sum(got.values()) - 1.0) < 1e-12


@pytest.mark.parametrize("draft", [(0, 0), (2, 1), (1, 2)])
def test_deterministic_draft_is_exactly_target_sampling(draft):
    p = _table(7, 4)
    got = _verified_distribution(p, None, 2, 3, fixed=draft)
    want = _continued(p, (), 3)
    assert max(abs(got[s] - want[s]) for s in want) < 1e-12


def test_acceptance_of_deterministic_draft_is_target_probability():
    p = torch.tensor([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]], dtype=torch.float64)
    accept, emit = acceptance(torch.tensor([1]), p)
    torch.testing.assert_close(accept, torch.tensor([0.5], dtype=torch.float64))
    torch.testing.assert_close(emit[0], torch.tensor([0.4, 0.0, 0.6], dtype=torch.float64))  # p without x
    torch.testing.assert_close(emit[1], p[1])
    torch.testing.assert_close(stop_probs(accept), torch.tensor([0.5, 0.5], dtype=torch.float64))


def test_sampling_accept_extremes_and_seed():
    p = torch.tensor([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8]], dtype=torch.float64)
    draft = torch.tensor([2, 0])
    for seed in range(20):  # q = p: every draft token accepted (u < 1 always)
        n, token = sampling_accept(draft, p, p[:2].clone(), torch.Generator().manual_seed(seed))
        assert n == 2 and token in (0, 1, 2)
    zero = torch.tensor([[0.0, 0.5, 0.5], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8]], dtype=torch.float64)
    for seed in range(20):  # p(x_1) = 0: always rejected, and the token is never x_1
        n, token = sampling_accept(torch.tensor([0, 0]), zero, None, torch.Generator().manual_seed(seed))
        assert n == 0 and token in (1, 2)
    a = sampling_accept(draft, zero, None, torch.Generator().manual_seed(3))
    assert a == sampling_accept(draft, zero, None, torch.Generator().manual_seed(3))
    with pytest.raises(ValueError, match="probability 0"):
        acceptance(torch.tensor([0]), p[:2], torch.tensor([[0.0, 0.5, 0.5]], dtype=torch.float64))


def test_crop_cache_kinds():
    k = torch.arange(2 * 3 * 5 * 4.0).view(2, 3, 5, 4)
    kit = crop_cache(KVCache([k], [k + 1]), 3)
    assert kit.get_seq_length() == 3 and torch.equal(kit.values[0], (k + 1)[:, :, :3])
    nested = crop_cache(((k, k + 1), (k + 2, k + 3)), 2)
    assert isinstance(nested, tuple) and torch.equal(nested[1][0], (k + 2)[:, :, :2])
    with pytest.raises(TypeError, match="cannot crop"):
        crop_cache(object(), 1)


@pytest.mark.parametrize("kind", decoding_models.KINDS)
def test_rollback_after_rejected_draft_equals_never_drafting(kind):
    """Feed a prefix, then a 4-token draft in one pass, crop the draft off: continuing from the cropped
    cache gives the logits of continuing from the prefix's own cache."""
    model = decoding_models.make(kind).double().requires_grad_(False)
    ids = decoding_models.prompts(batch=2, length=7, seed=3)
    prefix = forward(model, ids[:, :4])
    plain = forward(model, ids[:, 4:5], prefix.past).logits
    again = forward(model, ids[:, :4])
    drafted = forward(model, torch.tensor([[5, 6, 7, 8]] * 2), again.past)
    rolled = forward(model, ids[:, 4:5], crop_cache(drafted.past, 4)).logits
    err = float((plain - rolled).abs().max())
    assert err < 1e-12, err  # float64: only the order of additions may differ


# -- continuous tokens: the density form of the step ------------------------------------------------------
class _Normal1d:
    """``B`` copies of a 1-D normal as a :class:`~paperzoo_tinylm.speculative.Density` (float64)."""

    def __init__(self, mean: float, std: float, rows: int):
        self.mean, self.std, self.rows = mean, std, rows

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z = (x[:, 0] - self.mean) / self.std
        return -0.5 * z**2 - math.log(self.std) - 0.5 * math.log(2 * math.pi)

    def sample(self, generator=None) -> torch.Tensor:
        return self.mean + self.std * torch.randn(self.rows, 1, generator=generator, dtype=torch.float64)

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        return torch.special.ndtr((x - self.mean) / self.std)


def _ks(samples: torch.Tensor, cdf) -> float:
    """Kolmogorov-Smirnov statistic of 1-D samples against a CDF."""
    x = samples.sort().values
    n = x.numel()
    f = cdf(x)
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return float(torch.maximum(i / n - f, f - (i - 1) / n).max())


N_KS = 20000
KS_CRIT = 1.628 / math.sqrt(N_KS)  # the 1% critical value of the KS statistic
GRID = torch.linspace(-12, 12, 200001, dtype=torch.float64)


def _pdf(d: _Normal1d) -> torch.Tensor:
    return d.log_prob(GRID[:, None]).exp()


def test_density_acceptance_closed_form_and_edges():
    p, q = _Normal1d(0.0, 1.0, 5), _Normal1d(0.5, 2.0, 5)
    x = torch.tensor([[-2.0], [0.0], [0.3], [1.0], [4.0]], dtype=torch.float64)
    ratio = (2.0 * torch.exp(-0.5 * x[:, 0] ** 2 + 0.5 * ((x[:, 0] - 0.5) / 2) ** 2)).clamp(max=1)
    torch.testing.assert_close(density_acceptance(p.log_prob(x), q.log_prob(x)), ratio, rtol=1e-12, atol=0)
    inf = torch.tensor([float("-inf")], dtype=torch.float64)
    assert float(density_acceptance(inf, torch.zeros(1, dtype=torch.float64))) == 0.0
    with pytest.raises(ValueError, match="density 0"):
        density_acceptance(torch.zeros(1), inf)
    # the first draft point has p = q, the second p = 0: exactly one accepted, whatever the draws
    log_p = torch.tensor([-1.0, float("-inf"), -1.0], dtype=torch.float64)
    for seed in range(10):
        assert (
            density_sampling_accept(log_p, torch.full((3,), -1.0), torch.Generator().manual_seed(seed)) == 1
        )
    assert density_sampling_accept(torch.zeros(0), torch.zeros(0)) == 0


def test_density_step_outputs_follow_p_and_accept_one_minus_tv():
    """x ~ q, kept with min(1, p/q), else replaced from the residual: the outputs pass a KS test against
    p (the uncorrected draft fails it), and the acceptance rate is 1 - TV(p, q) within 4 binomial sigma."""
    p, q = _Normal1d(0.0, 1.0, N_KS), _Normal1d(0.8, 1.4, N_KS)
    g = torch.Generator().manual_seed(0)
    x = q.sample(g)
    accept = torch.rand(N_KS, generator=g, dtype=torch.float64) < density_acceptance(
        p.log_prob(x), q.log_prob(x)
    )
    replacement, tries = density_residual_sample(p, q, g)
    out = torch.where(accept[:, None], x, replacement)
    assert _ks(out[:, 0], p.cdf) < KS_CRIT
    assert _ks(x[:, 0], p.cdf) > KS_CRIT  # the test has the power to see q
    tv = 0.5 * float(torch.trapezoid((_pdf(p) - _pdf(q)).abs(), GRID))
    rate = float(accept.double().mean())
    assert abs(rate - (1 - tv)) < 4 * math.sqrt(tv * (1 - tv) / N_KS), (rate, 1 - tv)
    # acceptance-rejection keeps a proposal with probability TV per round: 1 / TV rounds on average
    assert abs(float(tries.double().mean()) - 1 / tv) < 0.05 / tv


def test_density_residual_sample_follows_the_residual():
    p, q = _Normal1d(0.0, 1.0, N_KS), _Normal1d(0.5, 0.8, N_KS)
    x, _ = density_residual_sample(p, q, torch.Generator().manual_seed(1))
    r = (_pdf(p) - _pdf(q)).clamp_min(0)
    cum = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumulative_trapezoid(r, GRID)])
    cum = cum / cum[-1]

    def cdf(t: torch.Tensor) -> torch.Tensor:
        idx = torch.searchsorted(GRID, t).clamp(1, GRID.numel() - 1)
        w = (t - GRID[idx - 1]) / (GRID[idx] - GRID[idx - 1])
        return cum[idx - 1] + w * (cum[idx] - cum[idx - 1])

    assert _ks(x[:, 0], cdf) < KS_CRIT
    assert _ks(x[:, 0], p.cdf) > KS_CRIT  # not simply p


def test_density_step_with_q_equal_p_accepts_everything():
    p = _Normal1d(0.3, 0.7, 1000)
    x = p.sample(torch.Generator().manual_seed(2))
    assert bool((density_acceptance(p.log_prob(x), p.log_prob(x)) == 1).all())
    lp = p.log_prob(x)[:8]
    assert density_sampling_accept(lp, lp.clone(), torch.Generator().manual_seed(0)) == 8
    # no residual mass: every proposal refused, the last draw from p kept after max_tries rounds
    _, tries = density_residual_sample(p, p, torch.Generator().manual_seed(0), max_tries=3)
    assert bool((tries == 3).all())
