"""The kit's API, frozen: the names other plugins import."""

import importlib

API = {
    "paperzoo_compress.quant": [
        "fake_quantize",
        "quantize",
        "dequantize",
        "quant_params",
        "check_quant_args",
    ],
    "paperzoo_compress.linear": ["FakeQuantLinear", "quantize_model", "block_linears", "set_module"],
    "paperzoo_compress.calib": [
        "block_inputs",
        "linear_inputs",
        "block_context",
        "mean_abs",
        "check_supported",
    ],
    "paperzoo_compress.fold": ["scale_norm_into_linears", "scale_linear_into_linear"],
    "paperzoo_compress.fixture": ["plant_outliers", "outlier_tinylm", "text_blocks", "perplexity"],
    "paperzoo_compress.ptq": ["PTQTrainer", "rtn_quantize_"],
    "paperzoo_compress.act": [
        "fake_quantize_activations",
        "ste_round",
        "ActQuantLinear",
        "quantize_model_wa",
        "check_act_args",
    ],
}


def test_api_names_exist():
    for module, names in API.items():
        mod = importlib.import_module(module)
        assert [n for n in names if not hasattr(mod, n)] == []


SPARSITY_API = [
    "check_nm",
    "nm_mask",
    "magnitude_mask",
    "density",
    "is_nm_sparse",
    "MaskedLinear",
    "sparsify_model",
    "model_density",
]


def test_sparsity_api_names_exist():
    mod = importlib.import_module("paperzoo_compress.sparsity")
    assert [n for n in SPARSITY_API if not hasattr(mod, n)] == []


PRUNE_SCORES_API = [
    "check_sparsity",
    "prune_count",
    "magnitude_scores",
    "input_norms",
    "wanda_scores",
    "row_prune_mask",
    "layer_prune_mask",
    "block_input_norms",
    "calib_input_norms",
    "prune_sequential_",
    "wanda_prune_",
    "magnitude_prune_",
]


def test_prune_scores_api_names_exist():
    mod = importlib.import_module("paperzoo_compress.prune_scores")
    assert [n for n in PRUNE_SCORES_API if not hasattr(mod, n)] == []


def test_schedules_api_names_exist():
    mod = importlib.import_module("paperzoo_compress.schedules")
    assert hasattr(mod, "cubic_sparsity")
