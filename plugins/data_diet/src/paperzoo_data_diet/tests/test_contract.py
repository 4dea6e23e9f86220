from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("data_diet")
def test_contract(check):
    check()
