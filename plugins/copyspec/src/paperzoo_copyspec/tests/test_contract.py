from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("copyspec")
def test_contract(check):
    check()
