"""Pretrained checkpoints, trained here the first time they are asked for, then cached.

``paperzoo_tinylm.pretrained("stdlib-small")`` trains a ~1 M-parameter default decoder on the standard
library's source (the core's ``stdlib_text`` corpus) with a fixed recipe, deterministically (fixed seeds,
two threads), and stores it as safetensors under the user cache directory
(``$PAPERZOO_CACHE``, else ``platformdirs.user_cache_dir("paperzoo")`` when platformdirs is installed,
else ``~/.cache/paperzoo``), in ``tinylm/<name>-<key>.safetensors``. The key hashes the recipe, the corpus
bytes and the versions of the kit and torch: any change to one retrains instead of loading a stale file.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

#: The recipes (frozen: a change changes the key and so retrains; the contract test pins them).
RECIPES: dict[str, dict[str, Any]] = {
    "stdlib-small": {
        "model": {
            "d_model": 128, "n_layers": 4, "n_heads": 4, "d_ff": 384, "max_seq_len": 256, "tie_embeddings": False,
        },
        "data": {"seq_len": 128, "max_bytes": 1_000_000, "val_fraction": 0.1, "seed": 0},
        "train": {
            "steps": 300, "batch_size": 16, "lr": 3e-3, "min_lr": 3e-4, "warmup": 30, "betas": [0.9, 0.95],
            "weight_decay": 0.1, "clip": 1.0, "seed": 0, "threads": 1,
        },
    },
}  # fmt: skip

KIT_VERSION = "0.1.0"


def cache_dir() -> Path:
    """Where checkpoints are cached (``$PAPERZOO_CACHE``, platformdirs' user cache, ``~/.cache/paperzoo``)."""
    env = os.environ.get("PAPERZOO_CACHE")
    if env:
        return Path(env)
    try:
        import platformdirs
    except ImportError:
        return Path.home() / ".cache" / "paperzoo"
    return Path(platformdirs.user_cache_dir("paperzoo"))


def _recipe(name: str) -> dict[str, Any]:
    if name not in RECIPES:
        raise KeyError(f"unknown pretrained checkpoint {name!r}; accepted: {sorted(RECIPES)}")
    return copy.deepcopy(RECIPES[name])


def corpus(recipe: dict[str, Any]) -> bytes:
    """The corpus bytes the recipe trains on (the core's stdlib corpus)."""
    from paperzoo.builtins.datasets import stdlib_source_bytes

    return stdlib_source_bytes(recipe["data"]["max_bytes"])


def checkpoint_key(recipe: dict[str, Any], corpus_bytes: bytes, versions: dict[str, str]) -> str:
    """The first 16 hex digits of the SHA-256 of the recipe, the corpus and the versions."""
    h = hashlib.sha256()
    h.update(json.dumps(recipe, sort_keys=True).encode())
    h.update(hashlib.sha256(corpus_bytes).digest())
    h.update(json.dumps(versions, sort_keys=True).encode())
    return h.hexdigest()[:16]


def versions() -> dict[str, str]:
    """The versions the key depends on: the kit's and torch's (major.minor)."""
    import torch

    return {"paperzoo_tinylm": KIT_VERSION, "torch": ".".join(torch.__version__.split(".")[:2])}


def checkpoint_path(name: str = "stdlib-small") -> Path:
    """The cache file of checkpoint ``name`` for this corpus and these versions."""
    recipe = _recipe(name)
    key = checkpoint_key(recipe, corpus(recipe), versions())
    return cache_dir() / "tinylm" / f"{name}-{key}.safetensors"


def _data(recipe: dict[str, Any]):
    from paperzoo.builtins.datasets import stdlib_text

    bundle = stdlib_text(**recipe["data"])
    return bundle.train.tensors, bundle.val.tensors


def bits_per_byte(model, inputs, targets, batch_size: int = 64) -> float:
    """Mean next-byte cross-entropy in bits over ``inputs, targets`` (``[N, T]`` each)."""
    import torch
    import torch.nn.functional as F

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(inputs), batch_size):
            logits = model(inputs[i : i + batch_size]).logits
            y = targets[i : i + batch_size]
            total += F.cross_entropy(logits.flatten(0, 1).double(), y.flatten(), reduction="sum").item()
            count += y.numel()
    return total / count / math.log(2)


def bigram_bits_per_byte(train_inputs, train_targets, val_inputs, val_targets, alpha: float = 0.5) -> float:
    """Bits per byte on the validation split of a byte bigram model counted on the training split, with
    additive smoothing ``alpha`` (the baseline the checkpoint must beat)."""
    import torch

    counts = torch.full((256, 256), alpha, dtype=torch.float64)
    counts.index_put_(
        (train_inputs.flatten(), train_targets.flatten()),
        torch.ones(train_inputs.numel(), dtype=torch.float64),
        accumulate=True,
    )
    logp = (counts / counts.sum(1, keepdim=True)).log2()
    return -logp[val_inputs.flatten(), val_targets.flatten()].mean().item()


def train(recipe: dict[str, Any], log: bool = False):
    """Train the recipe's model from scratch; returns ``(model, validation bits per byte)``."""
    import torch
    import torch.nn.functional as F

    from paperzoo_tinylm.model import TinyLMDecoder

    tr = recipe["train"]
    threads = torch.get_num_threads()
    torch.set_num_threads(tr["threads"])
    try:
        (x, y), (vx, vy) = _data(recipe)
        g = torch.Generator().manual_seed(tr["seed"])
        torch.manual_seed(tr["seed"])
        model = TinyLMDecoder(**recipe["model"])
        decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
        rest = [p for n, p in model.named_parameters() if p.dim() < 2]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": tr["weight_decay"]}, {"params": rest, "weight_decay": 0.0}],
            lr=tr["lr"], betas=tuple(tr["betas"]),
        )  # fmt: skip
        start = time.perf_counter()
        model.train()
        for step in range(tr["steps"]):
            lr = _lr(step, tr)
            for group in opt.param_groups:
                group["lr"] = lr
            idx = torch.randint(len(x), (tr["batch_size"],), generator=g)
            logits = model(x[idx]).logits
            loss = F.cross_entropy(logits.flatten(0, 1), y[idx].flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tr["clip"])
            opt.step()
            if log and step % 50 == 0:
                print(f"step {step} loss {loss.item():.4f} {time.perf_counter() - start:.1f}s", flush=True)
        bpb = bits_per_byte(model, vx, vy)
    finally:
        torch.set_num_threads(threads)
    return model.eval(), bpb


def _lr(step: int, tr: dict[str, Any]) -> float:
    """Linear warm-up, then cosine from ``lr`` to ``min_lr``."""
    if step < tr["warmup"]:
        return tr["lr"] * (step + 1) / tr["warmup"]
    t = (step - tr["warmup"]) / max(1, tr["steps"] - tr["warmup"])
    return tr["min_lr"] + 0.5 * (tr["lr"] - tr["min_lr"]) * (1 + math.cos(math.pi * t))


def load(name: str = "stdlib-small", retrain: bool = False):
    """The pretrained decoder ``name`` (eval mode, float32), trained and cached on first use.
    Its metadata (recipe, key, validation bits per byte) is ``model.pretrained_info``."""
    from safetensors.torch import load_model, save_model

    from paperzoo_tinylm.model import TinyLMDecoder

    recipe = _recipe(name)
    path = checkpoint_path(name)
    if retrain or not path.exists():
        model, bpb = train(recipe)
        meta = {"name": name, "recipe": json.dumps(recipe, sort_keys=True), "val_bpb": repr(bpb)}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        save_model(model, str(tmp), metadata=meta)
        os.replace(tmp, path)
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    model = TinyLMDecoder(**recipe["model"])
    load_model(model, str(path))
    model.pretrained_info = {
        "name": name, "key": path.stem.rsplit("-", 1)[-1], "path": str(path), "val_bpb": float(meta["val_bpb"]),
        "recipe": recipe,
    }  # fmt: skip
    return model.eval()
