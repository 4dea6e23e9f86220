"""compress: shared pieces for model-compression plugins (a kit, not a paper): weight quantisers,
a fake-quantised Linear, calibration capture through tinylm's hook names, function-preserving scale
folding, the planted-outlier tinylm fixture and a post-training-quantisation trainer.

Registration only: nothing heavy is imported here."""

from paperzoo import hookimpl

_TINY = {
    "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 16},
}


@hookimpl
def register_layers(register):
    register(
        "compress_fake_quant_linear",
        "paperzoo_compress.linear:FakeQuantLinear",
        "A Linear whose weight is round-to-nearest fake-quantised (weight-only, b bits, per tensor/channel/"
        "group, symmetric or asymmetric).",
        tags=("quantization", "compression", "linear"),
        example={"bits": 4, "group_size": 8},
        example_base={"type": "Linear", "args": [16, 32]},
        example_input=[4, 16],
    )


@hookimpl
def register_trainers(register):
    register(
        "compress_rtn_quantize",
        "paperzoo_compress.ptq:PTQTrainer",
        "Supervised training, then round-to-nearest weight-only quantisation of every block Linear of a "
        "tinylm decoder; reports validation perplexity before and after.",
        tags=("quantization", "compression", "tinylm"),
        example={
            "max_steps": 2,
            "batch_size": 4,
            "bits": 4,
            "group_size": 8,
            "calib_batches": 1,
            "eval_batches": 1,
            "progress": False,
        },
        example_config={
            **_TINY,
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "loss"}],
        },
    )
