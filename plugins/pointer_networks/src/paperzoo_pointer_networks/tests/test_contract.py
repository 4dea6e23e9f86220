"""The testing kit's contract checks on every component of the plugin."""

from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("pointer_networks")
def test_contract(check):
    check()
