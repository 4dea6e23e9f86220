"""The hooks a plugin implements: one per kind, each declaring components through ``register``.

Hooks only declare. ``register(name, target, summary, paper=..., ...)`` takes the fields of
:class:`paperzoo.spec.ComponentSpec` (``kind`` is implied by the hook). Implementation modules are
imported only when a component is built.

Use in a plugin's ``__init__.py``::

    from paperzoo import hookimpl, Paper

    PAPER = Paper(title="...", arxiv="1234.56789", year=2021)

    @hookimpl
    def register_optimizers(register):
        register("adamp", "paperzoo_adamp.optim:AdamP", "Adam without radial updates", paper=PAPER,
                 example={"lr": 1e-3})
"""

import pluggy

hookspec = pluggy.HookspecMarker("paperzoo")
hookimpl = pluggy.HookimplMarker("paperzoo")


@hookspec
def register_layers(register):
    """Declare layers: building blocks, losses, adapters and whole models.

    :param register: ``register(name, target, summary, **spec_fields)``.
    """


@hookspec
def register_optimizers(register):
    """Declare optimizers, learning-rate schedules and gradient transforms.

    :param register: ``register(name, target, summary, **spec_fields)``.
    """


@hookspec
def register_trainers(register):
    """Declare trainers: training procedures run by ``registry run``.

    :param register: ``register(name, target, summary, **spec_fields)``.
    """


@hookspec
def register_evaluators(register):
    """Declare evaluators: metrics, analyses and decoders.

    :param register: ``register(name, target, summary, **spec_fields)``.
    """


@hookspec
def register_datasets(register):
    """Declare datasets: factories returning a :class:`paperzoo.data.DataBundle`.

    :param register: ``register(name, target, summary, **spec_fields)``.
    """


HOOK_KINDS = {
    "register_layers": "layer",
    "register_optimizers": "optimizer",
    "register_trainers": "trainer",
    "register_evaluators": "evaluator",
    "register_datasets": "dataset",
}
