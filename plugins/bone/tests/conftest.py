import os

# Models are built from configs only; nothing may reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

try:  # transformers imports torchvision when present; core's shim makes a CUDA-only wheel importable
    from paperzoo.compat import import_torchvision

    import_torchvision()
except ImportError:  # no torchvision installed: transformers does without it
    pass
