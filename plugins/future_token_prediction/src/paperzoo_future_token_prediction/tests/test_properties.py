"""Exact properties of FTP: causality of e_t, the N=1 reduction to next-token loss, the future targets
on a hand-worked case, end masking, determinism."""

import torch
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_future_token_prediction.ftp import IGNORE, FTPHead, future_loss, future_windows, top_embeddings

V = 20


def _trunk(seed: int = 0) -> TinyLMDecoder:
    torch.manual_seed(seed)
    return TinyLMDecoder(vocab_size=V, d_model=16, n_layers=2, n_heads=2, max_seq_len=16).eval()


def test_e_t_ignores_later_tokens_bitwise():
    model = _trunk()
    ids = torch.randint(V, (2, 12), generator=torch.Generator().manual_seed(1))
    t = 5
    changed = ids.clone()
    changed[:, t + 1 :] = (changed[:, t + 1 :] + 7) % V
    with torch.no_grad():
        a, b = top_embeddings(model, ids), top_embeddings(model, changed)
    assert torch.equal(a[:, : t + 1], b[:, : t + 1])
    assert not torch.equal(a[:, t + 1 :], b[:, t + 1 :])


def test_future_windows_hand_case():
    ids = torch.tensor([[10, 11, 12, 13]])
    dec, tgt = future_windows(ids, 3, start=99)
    assert tgt.tolist() == [[[11, 12, 13], [12, 13, IGNORE], [13, IGNORE, IGNORE], [IGNORE, IGNORE, IGNORE]]]
    assert dec.tolist() == [[[99, 11, 12], [99, 12, 13], [99, 13, 0], [99, 0, 0]]]


class _HeadAsOutput(torch.nn.Module):
    """The trunk with the FTP head's first-step logits as its output layer."""

    def __init__(self, trunk, head):
        super().__init__()
        self.trunk, self.head = trunk, head

    def forward(self, ids):
        logits = self.head(top_embeddings(self.trunk, ids))[:, :, 0]
        return type("Out", (), {"logits": logits})()


def test_n1_is_next_token_loss_of_head_as_output_layer():
    """With N=1 the FTP loss is tinylm's next-token ``lm_loss`` of the model ``head(e_t)`` (the decoder
    sees only the start token, so its logits are a function of e_t alone): equal in float64."""
    trunk = _trunk().double()
    torch.manual_seed(3)
    head = FTPHead(16, V, n_future=1, k=3, n_layers=1, n_heads=2).double().eval()
    ids = torch.randint(V, (3, 10), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ftp = future_loss(head, top_embeddings(trunk, ids), ids, decay=0.5)
        ntp = lm_loss(_HeadAsOutput(trunk, head), ids)
    assert abs(float(ftp) - float(ntp)) == 0.0


def test_end_positions_are_masked():
    """Targets past the end contribute nothing: changing the logits' inputs there (the decoder ids are
    clamped) leaves the loss unchanged, and the loss equals the per-j mean over valid positions."""
    torch.manual_seed(0)
    head = FTPHead(16, V, n_future=3, k=2).double().eval()
    e = torch.randn(2, 6, 16, dtype=torch.float64)
    ids = torch.randint(V, (2, 6), generator=torch.Generator().manual_seed(4))
    dec, tgt = future_windows(ids, 3, head.start)
    with torch.no_grad():
        logits = head(e, dec)
        manual = 0.0
        for j in range(3):
            lp = torch.log_softmax(logits[:, :, j], -1)
            ce = [-lp[b, t, tgt[b, t, j]] for b in range(2) for t in range(6) if t + j + 1 < 6]
            manual += float(torch.stack(ce).mean())
        got = float(future_loss(head, e, ids))
    assert abs(got - manual / 3) < 1e-6  # the loss takes its cross-entropy in float32, as lm_loss


def test_deterministic():
    def once():
        torch.manual_seed(0)
        head = FTPHead(16, V, n_future=3, k=2)
        trunk = _trunk()
        ids = torch.randint(V, (2, 8), generator=torch.Generator().manual_seed(5))
        loss = future_loss(head, top_embeddings(trunk, ids), ids, decay=0.7)
        loss.backward()
        return loss.detach(), head.expand.weight.grad

    (l1, g1), (l2, g2) = once(), once()
    assert torch.equal(l1, l2) and torch.equal(g1, g2)
