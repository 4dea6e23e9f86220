"""The core's pytest plugin: recorded figures reach reports as plain Python numbers."""


def test_recorded_figures_become_plain_numbers():
    import numpy as np
    import torch
    from paperzoo.pytest_plugin import plain

    assert type(plain(np.float64(1.5))) is float and plain(np.float64(1.5)) == 1.5
    assert type(plain(torch.tensor(3))) is int and plain(np.int64(2)) == 2
    assert plain("x") == "x" and plain(0.25) == 0.25
    arr = np.arange(3)
    assert plain(arr) is arr  # not a scalar: left as it is
