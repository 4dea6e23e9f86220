from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("ties_merging")
def test_contract(check):
    check()
