from paperzoo.testing import parametrize_with_checks


@parametrize_with_checks("lazy_neuron")
def test_contract(check):
    check()
