"""The testing kit's contract checks, on every component this plugin registers."""

from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("jlcm")
def test_contract(check):
    check()
