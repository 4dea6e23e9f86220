from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("adamp")
def test_contract(check):
    check()
