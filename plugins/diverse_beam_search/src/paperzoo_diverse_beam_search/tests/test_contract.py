from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("diverse_beam_search")
def test_contract(check):
    check()
