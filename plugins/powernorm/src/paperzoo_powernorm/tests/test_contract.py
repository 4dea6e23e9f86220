from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("powernorm")
def test_contract(check):
    check()
