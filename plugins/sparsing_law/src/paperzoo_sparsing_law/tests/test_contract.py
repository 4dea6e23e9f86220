from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("sparsing_law")
def test_contract(check):
    check()
