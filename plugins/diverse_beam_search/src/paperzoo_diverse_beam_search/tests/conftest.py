"""Test setup: model hubs offline (nothing is downloaded) and one intra-op thread (the tensors here are
small: more threads only add synchronisation)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

torch.set_num_threads(1)


import pytest  # noqa: E402


@pytest.fixture
def make_tinylm():
    """A seeded, eval-mode, randomly initialised small tinylm decoder (vocabulary 48)."""
    from paperzoo_tinylm.model import TinyLMDecoder

    def make(seed: int = 0) -> TinyLMDecoder:
        torch.manual_seed(seed)
        return TinyLMDecoder(vocab_size=48, d_model=32, n_layers=2, n_heads=2, max_seq_len=64).eval()

    return make


@pytest.fixture
def make_hf():
    """A seeded, eval-mode, randomly initialised tiny transformers causal LM: ``gpt2`` or ``llama``."""
    import transformers

    def make(kind: str, seed: int = 0, vocab: int = 64):
        torch.manual_seed(seed)
        if kind == "gpt2":
            config = transformers.GPT2Config(
                vocab_size=vocab,
                n_positions=64,
                n_embd=32,
                n_layer=2,
                n_head=2,
                bos_token_id=None,
                eos_token_id=None,
            )
            return transformers.GPT2LMHeadModel(config).eval()
        config = transformers.LlamaConfig(
            vocab_size=vocab,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=64,
            bos_token_id=None,
            eos_token_id=None,
        )
        return transformers.LlamaForCausalLM(config).eval()

    return make
