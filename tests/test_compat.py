"""The torchvision compatibility import used before timm."""

import subprocess
import sys


def test_timm_imports_and_builds_a_model():
    from paperzoo.compat import import_timm

    model = import_timm().create_model("resnet18", pretrained=False, num_classes=3, in_chans=1)
    assert model.fc.out_features == 3


def test_a_normally_loading_torchvision_is_left_alone():
    code = (
        "import sys, types\n"
        "sys.modules['torchvision'] = types.ModuleType('torchvision')\n"
        "from paperzoo import compat\n"
        "assert compat.import_torchvision() is sys.modules['torchvision']\n"
        "assert compat._library is None\n"
        "import torch\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
