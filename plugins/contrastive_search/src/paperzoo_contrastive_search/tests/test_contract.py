from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("contrastive_search")
def test_contract(check):
    check()
