"""kNN-LM scoring against the plain LM: one forward pass (plus retrieval and mixing) over a batch.

Prints the median time of scoring a batch of ``B x T`` tokens (the LM's next-token log-probabilities;
the kNN-LM adds reading the key, exact or faiss search over the datastore and the per-token mixture) over
``--rounds`` interleaved rounds, its peak memory (``paperzoo.bench.peak_memory``), both as ratios to the
plain LM, and tokens per second. Model: the default tinylm decoder shape of the stdlib-small checkpoint
(128 wide, 4 blocks, random weights: speed does not depend on them); datastores of random keys of 16k
and 128k entries, k = 32.

Run: ``registry bench knn_lm [--threads 2] [--rounds 10]`` (or ``python -m paperzoo_knn_lm.bench``).
"""

from __future__ import annotations

import importlib.util

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_knn_lm.datastore import Datastore
from paperzoo_knn_lm.knn import KNNLM

SIZES = [16_384, 131_072]
BATCH = (4, 128)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory, ratios and tokens/s."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    parser.add_argument("--k", type=int, default=32)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of scoring {BATCH[0]} x {BATCH[1]} tokens, median of {args.rounds} interleaved "
        "rounds; ratios are kNN-LM / plain LM",
    )
    model = TinyLMDecoder(d_model=128, n_layers=4, n_heads=4, d_ff=384, max_seq_len=256).to(device).eval()
    ids = torch.randint(256, BATCH, device=device)
    n_tok = ids.numel()

    @torch.no_grad()
    def plain_lm() -> torch.Tensor:
        return model(ids).logits.log_softmax(-1)

    print(compare_header(f"{'datastore':>10}", "scorer", (10, 12), extra="tokens/s"))
    for n in SIZES:
        store = Datastore(torch.randn(n, 128, device=device), torch.randint(256, (n,), device=device))
        works = {"plain_lm": plain_lm}
        works["knnlm_flat"] = lambda s=KNNLM(model, store, k=args.k): s.log_probs(ids)
        if importlib.util.find_spec("faiss") is not None and device.type == "cpu":
            works["knnlm_faiss"] = lambda s=KNNLM(model, store, k=args.k, index="faiss_flat"): s.log_probs(
                ids
            )
        res = compare(works, "plain_lm", device, args.rounds, label=f"{n:>10}", widths=(10, 12))
        print("  tokens/s: " + ", ".join(f"{name} {n_tok / sec:,.0f}" for name, (sec, _) in res.items()))


if __name__ == "__main__":
    main()
