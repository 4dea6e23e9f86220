"""The claim's experiment: a synthetic topic-mixture corpus, an FTP-trained trunk and a next-token (GPT)
trunk of the same size and steps, and two measures of their top embeddings: the mean cosine similarity
of adjacent positions and a linear topic probe's held-out accuracy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_future_token_prediction.ftp import FTPHead, future_loss, top_embeddings


def topic_corpus(n: int, seq_len: int, vocab: int = 48, topics: int = 4, switch: float = 0.03, seed: int = 0):
    """``n`` documents of ``seq_len`` tokens: each topic is a peaked distribution over the vocabulary
    (a Dirichlet draw with concentration 0.1); the topic switches with probability ``switch`` per token.
    Returns ``(ids, topic)`` both ``[n, seq_len]``."""
    with torch.random.fork_rng():  # the topics are the same for every seed
        torch.manual_seed(1000)
        dist = torch.distributions.Dirichlet(torch.full((vocab,), 0.1)).sample((topics,))
    gen = torch.Generator().manual_seed(seed)
    topic = torch.empty(n, seq_len, dtype=torch.long)
    cur = torch.randint(topics, (n,), generator=gen)
    for t in range(seq_len):
        flip = torch.rand(n, generator=gen) < switch
        cur = torch.where(flip, torch.randint(topics, (n,), generator=gen), cur)
        topic[:, t] = cur
    ids = torch.multinomial(dist[topic.flatten()], 1, generator=gen).view(n, seq_len)
    return ids, topic


def train(objective: str, ids: torch.Tensor, steps: int, seed: int, vocab: int, n_future: int = 4):
    """A trunk trained with ``objective`` (``ftp`` or ``ntp``) for ``steps`` AdamW steps of 16 rows."""
    torch.manual_seed(seed)
    trunk = TinyLMDecoder(vocab_size=vocab, d_model=32, n_layers=2, n_heads=2, max_seq_len=ids.shape[1])
    head = FTPHead(32, vocab, n_future=n_future, k=4, n_layers=1, n_heads=2)
    params = list(trunk.parameters()) + (list(head.parameters()) if objective == "ftp" else [])
    opt = torch.optim.AdamW(params, lr=3e-3, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = ids[torch.randint(len(ids), (16,), generator=gen)]
        if objective == "ftp":
            loss = future_loss(head, top_embeddings(trunk, batch), batch)
        else:
            loss = lm_loss(trunk, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return trunk.eval()


@torch.no_grad()
def measures(trunk: torch.nn.Module, ids: torch.Tensor, topic: torch.Tensor, split: int) -> dict[str, float]:
    """Adjacent-position cosine similarity of the top embeddings, and the held-out accuracy of a
    logistic-regression topic probe (trained on the first ``split`` documents)."""
    e = top_embeddings(trunk, ids)
    cos = F.cosine_similarity(e[:, 1:], e[:, :-1], dim=-1).mean()
    x = (e - e.mean((0, 1))) / (e.std((0, 1)) + 1e-6)
    probe = torch.nn.Linear(x.shape[-1], int(topic.max()) + 1)
    with torch.enable_grad():
        opt = torch.optim.Adam(probe.parameters(), lr=0.05)
        for _ in range(200):
            loss = F.cross_entropy(probe(x[:split]).flatten(0, 1), topic[:split].flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
    acc = (probe(x[split:]).argmax(-1) == topic[split:]).float().mean()
    return {"cos": float(cos), "probe": float(acc)}


def run(seed: int, steps: int = 200) -> dict[str, float]:
    """Both trunks on one seed: ``{ftp_cos, ftp_probe, ntp_cos, ntp_probe}``."""
    vocab = 48
    ids, _ = topic_corpus(512, 32, vocab, seed=seed)
    test_ids, test_topic = topic_corpus(128, 32, vocab, seed=seed + 100)
    out = {}
    for obj in ("ftp", "ntp"):
        m = measures(train(obj, ids, steps, seed, vocab), test_ids, test_topic, 96)
        out.update({f"{obj}_{k}": v for k, v in m.items()})
    return out
