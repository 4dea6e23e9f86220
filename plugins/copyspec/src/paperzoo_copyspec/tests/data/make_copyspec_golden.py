"""Golden runs of the official CopySpec implementation (not part of the package: run outside the repository).

Usage: ``python make_copyspec_golden.py <clone of RazvanDu/CopySpec> [commit]`` in an environment with torch,
transformers (imported by the official module) and paperzoo-tinylm. Runs the official
``SpeculativeDecoder.generate_raw`` (temperature 0) on a tiny random tinylm decoder wrapped in the legacy
tuple-cache call, and writes ``copyspec_golden.safetensors`` and ``copyspec_golden.json`` to the current
directory.
"""

import json
import subprocess
import sys
from types import SimpleNamespace

sys.path.insert(0, sys.argv[1])  # the official speculative_copying.py

import torch
from paperzoo_tinylm.cache import KVCache
from paperzoo_tinylm.model import TinyLMDecoder
from safetensors.torch import save_file
from speculative_copying import SpeculativeDecoder

torch.set_num_threads(1)
CFG = dict(vocab_size=32, d_model=32, n_layers=2, n_heads=2, max_seq_len=256)


class Wrapped:
    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, ids, use_cache=True, return_dict=True, past_key_values=None, **_):
        self.calls += 1
        past = (
            None
            if past_key_values is None
            else KVCache([k for k, _ in past_key_values], [v for _, v in past_key_values])
        )
        out = self.model(ids, past_key_values=past, use_cache=True)
        pkv = tuple(zip(out.past_key_values.keys, out.past_key_values.values))
        return SimpleNamespace(logits=out.logits, past_key_values=pkv)


class Tok:
    eos_token_id = None

    def encode(self, prompt, return_tensors="pt"):
        return torch.tensor([prompt])


def decoder(target):
    d = SpeculativeDecoder.__new__(SpeculativeDecoder)
    d.device, d.use_specdec, d.target_model, d.tokenizer = "cpu", False, target, Tok()
    d.copy_dict, d.vocab_size = {}, 32
    d.total_accepted = d.summed_copied = d.total_generated = 0
    d.summed_query = d.total_query = d.accepted_spec = d.total_spec = 0
    return d


torch.manual_seed(0)
model = TinyLMDecoder(**CFG).eval()
tensors = {f"model.{k}": v.contiguous() for k, v in model.state_dict().items()}
runs = []
g = torch.Generator().manual_seed(1)
settings = [(2, 4, 40), (3, 10, 40), (5, 10, 48), (3, 0, 30), (4, 6, 37), (1, 3, 33)]
for i, (gamma, number_copy, max_new) in enumerate(settings):
    a = torch.randint(32, (12,), generator=g).tolist()
    b = torch.randint(32, (6,), generator=g).tolist()
    prompt = a + b + a[:6]
    target = Wrapped(model)
    dec = decoder(target)
    with torch.no_grad():
        out, accepted = dec.generate_raw(
            prompt, temperature=0.0, number_copy=number_copy, gamma=gamma, max_new_tokens=max_new
        )
    tensors[f"run{i}.prompt"] = torch.tensor(prompt)
    tensors[f"run{i}.output"] = out[0]
    runs.append(
        {
            "run": i,
            "gamma": gamma,
            "number_copy": number_copy,
            "max_new_tokens": max_new,
            "total_accepted": int(accepted),
            "target_forward_calls": target.calls,
            "generated": int(out.shape[1] - len(prompt)),
        }
    )
    print(runs[-1])
commit = (
    sys.argv[2]
    if len(sys.argv) > 2
    else subprocess.check_output(["git", "-C", sys.argv[1], "rev-parse", "HEAD"], text=True).strip()
)
save_file(tensors, "copyspec_golden.safetensors")
meta = {
    "repository": "https://github.com/RazvanDu/CopySpec",
    "commit": commit,
    "file": "speculative_copying.py (SpeculativeDecoder.generate_raw)",
    "command": "python make_copyspec_golden.py <clone> (this folder): SpeculativeDecoder built without __init__ (no hub download), "
    "use_specdec=False, target_model = a tinylm decoder (torch.manual_seed(0), config below, float32, "
    "eval) behind the legacy tuple-cache call, tokenizer.encode = identity on a token list, eos None; "
    "generate_raw(prompt, temperature=0.0, number_copy, gamma, max_new_tokens)",
    "model_config": CFG,
    "prompts": "a + b + a[:6], a = 12 and b = 6 tokens from torch.randint(32) with Generator seed 1, drawn per run",
    "torch": torch.__version__,
    "runs": runs,
    "tensors": "model.* (the decoder's state dict), run<i>.prompt, run<i>.output (prompt + generated ids)",
}
json.dump(meta, open("copyspec_golden.json", "w"), indent=1)
