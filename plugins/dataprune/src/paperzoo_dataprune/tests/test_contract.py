"""The testing kit's checks on the registered trainer, and the frozen public API of the kit."""

import inspect

from paperzoo.testing import parametrize_with_checks

import paperzoo_dataprune.scoring as scoring
import paperzoo_dataprune.select as select
from paperzoo_dataprune.trainer import PrunedDatasetTraining


@parametrize_with_checks("dataprune", require_paper=False)
def test_contract(check):
    check()


def _signature(fn) -> list[str]:
    return [p.name for p in inspect.signature(fn).parameters.values()]


def test_api_frozen():
    """Plugins build on these names and parameter orders (data_diet, data_pruning_ssp)."""
    assert _signature(select.select_kept) == ["scores", "prune_fraction", "keep", "offset_fraction", "seed"]
    assert _signature(select.kept_count) == ["n", "prune_fraction", "offset_fraction"]
    assert select.KEEP_RULES == ("hard", "easy", "random")
    assert _signature(scoring.resolve_score) == ["score", "params"]
    assert _signature(scoring.reinitialise) == ["model"]
    assert _signature(scoring.subset) == ["dataset", "indices"]
    assert _signature(PrunedDatasetTraining)[:8] == [
        "score", "keep", "prune_fraction", "offset_fraction", "score_params", "n_seeds", "score_epochs",
        "match_steps",
    ]  # fmt: skip
    for method in ("score_model", "compute_scores", "select", "scoring_seeds", "fit"):
        assert callable(getattr(PrunedDatasetTraining, method))
