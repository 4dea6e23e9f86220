"""Test helpers: a tiny transformers ELECTRA and copying its weights into the tinylm-based model."""

from __future__ import annotations

import torch
from paperzoo.compat import import_transformers

from paperzoo_electra.model import ElectraGeneratorDiscriminator


def hf_config(d: int, layers: int = 2, heads: int = 2, max_len: int = 32):
    t = import_transformers()
    return t.ElectraConfig(
        vocab_size=363,
        embedding_size=d,
        hidden_size=d,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * d,
        max_position_embeddings=max_len,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
    )


@torch.no_grad()
def copy_encoder(hf_electra, encoder) -> None:
    """transformers' ``ElectraModel`` weights into a tinylm encoder of the ELECTRA form (token type 0 is
    folded into the learned positions)."""
    emb = hf_electra.embeddings
    tok = encoder.tok_embed if isinstance(encoder.tok_embed, torch.nn.Embedding) else encoder.tok_embed[0]
    tok.weight.copy_(emb.word_embeddings.weight)
    encoder.pos_embed.weight.copy_(emb.position_embeddings.weight + emb.token_type_embeddings.weight[0])
    encoder.embed_norm.load_state_dict(emb.LayerNorm.state_dict())
    for layer, block in zip(hf_electra.encoder.layer, encoder.blocks, strict=True):
        att = layer.attention
        block.attn.q_proj.load_state_dict(att.self.query.state_dict())
        block.attn.k_proj.load_state_dict(att.self.key.state_dict())
        block.attn.v_proj.load_state_dict(att.self.value.state_dict())
        block.attn.o_proj.load_state_dict(att.output.dense.state_dict())
        block.attn_norm.load_state_dict(att.output.LayerNorm.state_dict())
        block.mlp.up_proj.load_state_dict(layer.intermediate.dense.state_dict())
        block.mlp.down_proj.load_state_dict(layer.output.dense.state_dict())
        block.ffn_norm.load_state_dict(layer.output.LayerNorm.state_dict())


def tiny_pair(d: int = 16, generator_size: float = 1.0, seed: int = 0):
    """``(ours, hf_discriminator, hf_generator)`` in float64 with the same weights (``generator_size``
    1: the generator is as wide as the discriminator, as transformers' generator without a projection)."""
    t = import_transformers()
    torch.manual_seed(seed)
    ours = ElectraGeneratorDiscriminator(
        generator_size=generator_size, d_model=d, n_layers=2, n_heads=2, max_seq_len=32
    ).double()
    disc = t.ElectraForPreTraining(hf_config(d)).double().eval()
    gen = t.ElectraForMaskedLM(hf_config(round(d * generator_size), heads=max(1, round(2 * generator_size))))
    gen = gen.double().eval()
    with torch.no_grad():
        for p in list(disc.parameters()) + list(gen.parameters()):  # move LayerNorms off 1/0, biases off 0
            p.add_(0.05 * torch.randn_like(p))
        gen.electra.embeddings.word_embeddings.weight.copy_(disc.electra.embeddings.word_embeddings.weight)
    copy_encoder(disc.electra, ours.discriminator)
    copy_encoder(gen.electra, ours.generator)
    with torch.no_grad():
        ours.disc_head.dense.load_state_dict(disc.discriminator_predictions.dense.state_dict())
        ours.disc_head.prediction.load_state_dict(
            disc.discriminator_predictions.dense_prediction.state_dict()
        )
        ours.generator.lm_head.dense.load_state_dict(gen.generator_predictions.dense.state_dict())
        ours.generator.lm_head.norm.load_state_dict(gen.generator_predictions.LayerNorm.state_dict())
        ours.generator.lm_head.bias.copy_(gen.generator_lm_head.bias)
    assert torch.equal(gen.generator_lm_head.weight, gen.electra.embeddings.word_embeddings.weight)
    return ours.eval(), disc, gen
