from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("datasets", require_paper=False)
def test_contract(check):
    check()
