"""The testing kit's checks on the registered layer, and the frozen public API of the kit."""

import inspect

from paperzoo.testing import parametrize_with_checks

import paperzoo_nested.evaluate as ev
import paperzoo_nested.loss as loss
import paperzoo_nested.views as views


@parametrize_with_checks("nested", require_paper=False)
def test_contract(check):
    check()


def _signature(fn) -> list[tuple[str, str]]:
    return [(p.name, p.kind.name) for p in inspect.signature(fn).parameters.values()]


def test_api_frozen():
    kw, pos = "KEYWORD_ONLY", "POSITIONAL_OR_KEYWORD"
    assert _signature(loss.nested_dims) == [("d", pos), ("start", pos)]
    assert _signature(loss.truncate) == [("z", pos), ("m", pos), ("normalize", kw)]
    assert _signature(loss.nested_prefix_loss) == [
        ("loss_fn", pos), ("embeddings", pos), ("dims", pos), ("weights", pos), ("normalize", kw),
    ]  # fmt: skip
    assert _signature(views.prefix_view) == [("linear", pos), ("m", pos), ("axis", kw)]
    assert _signature(views.prefix_linear) == [("x", pos), ("linear", pos), ("m_in", pos), ("m_out", pos)]
    assert _signature(views.PrefixLinear) == [
        ("in_features", pos), ("out_features", pos), ("bias", pos), ("out_width", pos),
    ]  # fmt: skip
    assert _signature(ev.metric_at_dims) == [
        ("metric", pos),
        ("embeddings", pos),
        ("dims", pos),
        ("normalize", kw),
    ]
    assert _signature(ev.zero_pad) == [("z", pos), ("m", pos)]
    assert loss.nested_dims(64) == [8, 16, 32, 64]
