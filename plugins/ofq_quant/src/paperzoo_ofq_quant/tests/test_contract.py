"""The testing kit's contract checks, on every component this plugin registers."""

from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("ofq_quant")
def test_contract(check):
    check()
