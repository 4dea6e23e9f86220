"""The kit's public API, frozen: later plugins import these names and signatures."""

import inspect

import paperzoo_synthtasks.bars as bars
import paperzoo_synthtasks.priors as priors
import paperzoo_synthtasks.reference as reference
import paperzoo_synthtasks.xy_transformer as xy

API = {
    priors: {
        "sample_gp1d": ["n_tasks", "seq_len", "lengthscale", "outputscale", "noise", "generator", "dtype"],
        "sample_linreg": ["n_tasks", "seq_len", "n_features", "prior_var", "noise", "generator", "dtype"],
        "pack": ["x", "y", "n_train"],
        "rbf_kernel": ["a", "b", "lengthscale", "outputscale"],
    },
    reference: {
        "gp_posterior": ["x_train", "y_train", "x_query", "lengthscale", "outputscale", "noise"],
        "gp_posterior_sklearn": ["x_train", "y_train", "x_query", "lengthscale", "outputscale", "noise"],
        "bayes_linreg_predictive": ["x_train", "y_train", "x_query", "prior_var", "noise"],
        "ridge_predictive": ["x_train", "y_train", "x_query", "alpha"],
        "mean_predictive": ["x_train", "y_train", "x_query"],
        "gaussian_nll": ["mean", "var", "y"],
    },
    bars: {
        "borders_from_samples": ["ys", "num_bars"],
        "BarDistribution": ["borders", "full_support"],
        "BarDistributionHead": ["d_model", "borders", "num_bars", "y_range", "hidden", "full_support"],
    },
    xy: {
        "pfn_attention_mask": ["seq_len", "n_train", "device"],
        "XYTransformer": [
            "n_features",
            "n_train",
            "d_model",
            "n_layers",
            "n_heads",
            "d_ff",
            "dropout",
            "head",
        ],
    },
}


def test_signatures_are_frozen():
    for module, names in API.items():
        for name, params in names.items():
            assert list(inspect.signature(getattr(module, name)).parameters) == params, name


def test_bar_distribution_methods():
    for method in ("log_density", "nll", "mean", "variance", "bucket", "bucket_moments", "tail_scales"):
        assert callable(getattr(bars.BarDistribution, method))
