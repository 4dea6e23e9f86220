from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("lottery_ticket")
def test_contract(check):
    check()
