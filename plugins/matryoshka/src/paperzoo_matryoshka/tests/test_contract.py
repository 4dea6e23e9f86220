"""The testing kit's contract checks on every registered component."""

from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("matryoshka")
def test_contract(check):
    check()
