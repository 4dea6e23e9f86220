"""paperzoo: research papers as installable, verified PyTorch components.

Importing this package is cheap: it never imports torch. Components are built lazily::

    import paperzoo
    opt = paperzoo.create("adamp", model.parameters(), lr=1e-3)
"""

__version__ = "0.1.0"

from .api import create, get, load  # noqa: E402
from .api import list_specs as list  # noqa: E402,A001
from .hookspecs import hookimpl  # noqa: E402
from .spec import ComponentSpec, Paper  # noqa: E402

__all__ = ["ComponentSpec", "Paper", "__version__", "create", "get", "hookimpl", "list", "load"]
