from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("kat")
def test_contract(check):
    check()
