"""The testing kit's contract checks for every component of this plugin."""

from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("byte_level_probs")
def test_contract(check):
    check()
