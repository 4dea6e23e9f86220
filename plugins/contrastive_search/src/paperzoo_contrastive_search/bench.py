"""Decoding speed of contrastive search (key/value cache, the k candidates in one batched forward pass)
against greedy decoding, a naive implementation that reruns the whole sequence for every candidate,
and transformers' native ``generate(penalty_alpha, top_k)`` where the installed version has it.

    registry bench contrastive_search [--layers 4 --dim 128 --batch 8 --new 96 --k 5]

(equivalently ``python -m paperzoo_contrastive_search.bench``). Needs transformers, for its GPT-2: the
plugin's ``test`` extra installs it (4.55.4, the version with the native method); it is imported
inside ``main``. Prints tokens per second (generated tokens of the whole batch, best of ``--repeats``),
the peak of tensor memory each method allocates, and ratios (time and memory as measured by
``paperzoo.bench``).
"""

from __future__ import annotations

import argparse

import torch
from paperzoo.bench import best_time, peak_memory
from paperzoo.compat import import_transformers

from paperzoo_contrastive_search.decoding import contrastive_search, greedy_search


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--prompt", type=int, default=32)
    parser.add_argument("--new", type=int, default=96)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--alpha", type=float, default=0.6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    transformers = import_transformers()  # works beside a torchvision without its C++ operators
    GPT2Config, GPT2LMHeadModel = transformers.GPT2Config, transformers.GPT2LMHeadModel
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=args.vocab,
        n_positions=args.prompt + args.new + 1,
        n_embd=args.dim,
        n_layer=args.layers,
        n_head=max(1, args.dim // 32),
        bos_token_id=None,
        eos_token_id=None,
    )
    model = GPT2LMHeadModel(config).to(device).eval()
    ids = torch.randint(args.vocab, (args.batch, args.prompt), device=device)
    kw = {"alpha": args.alpha, "k": args.k, "max_new_tokens": args.new}

    methods = {
        "greedy (cache)": lambda: greedy_search(model, ids, args.new),
        "contrastive (cache)": lambda: contrastive_search(model, ids, **kw),
        "contrastive (no cache)": lambda: contrastive_search(model, ids, use_cache=False, **kw),
    }
    if hasattr(transformers.GenerationMixin, "_contrastive_search"):
        mask = torch.ones_like(ids)
        methods["transformers contrastive"] = lambda: model.generate(
            ids,
            attention_mask=mask,
            penalty_alpha=args.alpha,
            top_k=args.k,
            max_new_tokens=args.new,
            pad_token_id=0,
        )
        assert torch.equal(methods["transformers contrastive"](), methods["contrastive (cache)"]())

    print(
        f"GPT-2 {args.layers} layers x {args.dim}, batch {args.batch}, prompt {args.prompt}, "
        f"{args.new} new tokens, k={args.k}, alpha={args.alpha}, {device}, {torch.get_num_threads()} thread(s)"
    )
    rates, peaks = {}, {}
    for name, fn in methods.items():
        with torch.no_grad():
            rates[name] = args.batch * args.new / best_time(fn, device, args.repeats)
            peaks[name] = peak_memory(fn, device) / 2**20
        print(f"{name:26s} {rates[name]:10.1f} tokens/s  peak {peaks[name]:8.2f} MiB")
    cached = rates["contrastive (cache)"]
    print(f"contrastive (cache) / greedy (cache):         {cached / rates['greedy (cache)']:.3f}x throughput")
    print(
        f"peak memory, contrastive (cache) / greedy:      "
        f"{peaks['contrastive (cache)'] / peaks['greedy (cache)']:.2f}x"
    )
    print(
        f"contrastive (cache) / contrastive (no cache): {cached / rates['contrastive (no cache)']:.2f}x speed-up"
    )
    if "transformers contrastive" in rates:
        print(
            f"contrastive (cache) / transformers native:    {cached / rates['transformers contrastive']:.2f}x "
            f"throughput, {peaks['contrastive (cache)'] / peaks['transformers contrastive']:.2f}x peak memory"
        )


if __name__ == "__main__":
    main()
