from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("builtins", require_paper=False)
def test_builtin_contract(check):
    check()
