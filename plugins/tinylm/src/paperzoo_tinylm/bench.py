"""Speed and memory of the tinylm decoder against transformers' ``LlamaForCausalLM`` of the same size
(the converted model, same weights): forward+backward time and peak memory of a training step, and
cached greedy decoding in tokens per second (a plain greedy loop over tinylm's KV cache against
``LlamaForCausalLM.generate``).

    registry bench tinylm [--dim 256 --layers 4 --heads 8 --seq 256 --batch 8 --new 64]

(equivalently ``python -m paperzoo_tinylm.bench``). Needs transformers (the ``test`` extra). Prints
each figure and the ratios tinylm / Llama (time and memory: lower is better; tokens per second: higher
is better). Times are medians of interleaved rounds (``paperzoo.bench``).
"""

from __future__ import annotations

import argparse

import torch
from paperzoo.bench import interleaved_medians, peak_memory

from paperzoo_tinylm.convert import to_llama
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_step


def greedy(model: TinyLMDecoder, ids: torch.Tensor, new: int) -> torch.Tensor:
    """Greedy decoding over the KV cache: the prompt once, then one token per step."""
    out = model(ids, use_cache=True)
    tokens = [out.logits[:, -1].argmax(-1, keepdim=True)]
    for _ in range(new - 1):
        out = model(tokens[-1], past_key_values=out.past_key_values, use_cache=True)
        tokens.append(out.logits[:, -1].argmax(-1, keepdim=True))
    return torch.cat([ids, *tokens], dim=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--kv-heads", type=int, default=None)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--new", type=int, default=64)
    parser.add_argument("--decode-batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    ours = TinyLMDecoder(
        d_model=args.dim, n_layers=args.layers, n_heads=args.heads, n_kv_heads=args.kv_heads,
        max_seq_len=max(args.seq, args.prompt + args.new),
    ).to(device)  # fmt: skip
    llama = to_llama(ours).to(device)
    ours.train(), llama.train()
    n_params = sum(p.numel() for p in ours.parameters())
    print(f"decoder: {n_params:,} parameters, {args.layers} layers, d_model {args.dim}, device {device.type}")

    ids = torch.randint(ours.config.vocab_size, (args.batch, args.seq), device=device)
    times = interleaved_medians(
        {"tinylm": lambda: lm_step(ours, ids), "llama": lambda: lm_step(llama, ids)},
        device,
        args.rounds,
    )
    mem = {"tinylm": peak_memory(lambda: lm_step(ours, ids), device),
           "llama": peak_memory(lambda: lm_step(llama, ids), device)}  # fmt: skip
    print(f"forward+backward, batch {args.batch} x {args.seq}:")
    for name in times:
        print(f"  {name:7s} {times[name] * 1e3:9.1f} ms   peak {mem[name] / 2**20:8.1f} MiB")
    print(
        f"  ratio tinylm/llama: time {times['tinylm'] / times['llama']:.3f}, memory {mem['tinylm'] / mem['llama']:.3f}"
    )

    ours.eval(), llama.eval()
    prompt = torch.randint(ours.config.vocab_size, (args.decode_batch, args.prompt), device=device)

    def hf_generate() -> torch.Tensor:
        return llama.generate(
            prompt, max_new_tokens=args.new, min_new_tokens=args.new, do_sample=False, use_cache=True,
            eos_token_id=None, pad_token_id=0,
        )  # fmt: skip

    with torch.no_grad():
        same = torch.equal(greedy(ours, prompt, args.new), hf_generate())
        dec = interleaved_medians(
            {"tinylm": lambda: greedy(ours, prompt, args.new), "llama": hf_generate}, device, args.rounds
        )
    tps = {name: args.decode_batch * args.new / t for name, t in dec.items()}
    print(f"cached greedy decoding, batch {args.decode_batch}, prompt {args.prompt}, {args.new} new tokens "
          f"(same tokens: {same}):")  # fmt: skip
    for name in tps:
        print(f"  {name:7s} {tps[name]:9.1f} tokens/s")
    print(f"  ratio tinylm/llama tokens/s: {tps['tinylm'] / tps['llama']:.3f}")


if __name__ == "__main__":
    main()
