"""The claim's experiment: a captioner trained with PRIOR's weights against uniform NTP at equal steps.

Both runs share the data, the initialisation, the batches and the optimizer; they differ in the
per-token weights passed to ``paperzoo_tinylm.training.lm_loss`` only (uniform: ones on the caption).
"""

from __future__ import annotations

import torch
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_prior_token_weighting.captions import Captioner, CaptionTask, WithImages
from paperzoo_prior_token_weighting.weighting import prior_weights, target_probs

DECODER = {"d_model": 32, "n_layers": 2, "n_heads": 4}


def _train(model, ids, weight_fn, images, steps: int, batch: int, lr: float, seed: int) -> None:
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(ids), (batch,), generator=g)
        net = model if images is None else WithImages(model, images[idx])
        loss = lm_loss(net, ids[idx], weights=weight_fn(idx))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


@torch.no_grad()
def reference_probs(reference: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """``p_ref(ids[:, t] | ids[:, :t])`` ``[B, T]`` (column 0: 1, never a target)."""
    probs = target_probs(reference(ids).logits[:, :-1], ids[:, 1:])
    return torch.cat([torch.ones_like(probs[:, :1]), probs], dim=1)


def run(
    seed: int, steps: int = 60, ref_steps: int = 200, batch: int = 32, lr: float = 3e-3,
    n_train: int = 2048, n_val: int = 512, alpha: float = 1.0, clip_min: float = 1e-6,
    task: CaptionTask | None = None,
) -> dict[str, float]:  # fmt: skip
    """Train a reference, then a PRIOR and a uniform captioner from the same initialisation; return the
    validation accuracy of both on image-related and on other caption tokens, and the mean weights."""
    task = task or CaptionTask(seed=0)
    train, val = task.sample(n_train, seed=1000 + seed), task.sample(n_val, seed=2000 + seed)
    caption = train["caption"].float()
    torch.manual_seed(seed)
    reference = TinyLMDecoder(vocab_size=task.vocab_size, max_seq_len=task.seq_len, **DECODER)
    _train(reference, train["ids"], lambda i: caption[i], None, ref_steps, batch, lr, seed)
    p_ref = reference_probs(reference, train["ids"])

    def prior(idx: torch.Tensor) -> torch.Tensor:
        return prior_weights(p_ref[idx], train["caption"][idx], alpha, clip_min)

    torch.manual_seed(seed + 1)
    init = Captioner(task.vocab_size, task.n_features, task.n_img, max_seq_len=task.seq_len, **DECODER)
    out: dict[str, float] = {}
    for name, fn in (("uniform", lambda i: caption[i]), ("prior", prior)):
        model = Captioner(task.vocab_size, task.n_features, task.n_img, max_seq_len=task.seq_len, **DECODER)
        model.load_state_dict(init.state_dict())
        _train(model, train["ids"], fn, train["images"], steps, batch, lr, seed + 2)
        with torch.no_grad():
            pred = model(val["ids"], images=val["images"]).logits[:, :-1].argmax(-1)
        hit = pred == val["ids"][:, 1:]
        rel, cap = val["image_related"][:, 1:], val["caption"][:, 1:]
        out[f"acc_image_{name}"] = hit[rel].float().mean().item()
        out[f"acc_text_{name}"] = hit[cap & ~rel].float().mean().item()
    w = prior_weights(p_ref, train["caption"], alpha, clip_min)
    out["weight_image"] = w[train["image_related"]].mean().item()
    out["weight_text"] = w[train["caption"] & ~train["image_related"]].mean().item()
    return out
