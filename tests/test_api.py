"""The public API validates params exactly as configs are validated."""

import paperzoo
import pytest
import torch
from paperzoo.errors import ConfigError


def test_create_builds_with_runtime_args_and_coerces_params():
    model = paperzoo.create("mlp", in_features=4, num_classes=2, hidden=[8])
    opt = paperzoo.create("adamw", model.parameters(), lr="1e-3", betas=[0.8, 0.9])
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-3)
    assert opt.param_groups[0]["betas"] == (0.8, 0.9)


def test_create_rejects_unknown_params_with_the_nearest_name():
    with pytest.raises(ConfigError, match=r"adam.lrate: unknown param 'lrate'. Did you mean 'lr'\?"):
        paperzoo.create("adam", [torch.nn.Parameter(torch.zeros(1))], lrate=0.1)


def test_create_rejects_wrong_types_naming_the_path():
    with pytest.raises(ConfigError, match=r"mlp.hidden: expected list\[int\], got 'wide'"):
        paperzoo.create("mlp", in_features=4, num_classes=2, hidden="wide")


def test_create_reports_missing_required_params():
    with pytest.raises(ConfigError, match="missing required param 'in_features'"):
        paperzoo.create("mlp", num_classes=2)


def test_get_and_load():
    spec = paperzoo.get("supervised")
    assert spec.kind == "trainer" and spec.target == "paperzoo.trainer:Supervised"
    from paperzoo.trainer import Supervised

    assert paperzoo.load("supervised") is Supervised


def test_subclass_forwarding_kwargs_exposes_and_validates_parent_params():
    from paperzoo.params import signature_params, validate
    from paperzoo.trainer import Supervised

    class Rounds(Supervised):
        def __init__(self, rounds: int = 2, **loop):
            super().__init__(**loop)

    names = [p.name for p in signature_params(Rounds)]
    assert names[0] == "rounds" and "batch_size" in names and "loop" not in names
    assert validate(Rounds, {"rounds": "3", "epochs": 2}) == {"rounds": 3, "epochs": 2}
    with pytest.raises(ConfigError, match="unknown param 'epochz'. Did you mean 'epochs'"):
        validate(Rounds, {"epochz": 2})
