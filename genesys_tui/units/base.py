"""The unit contract (``Unit``, ``BuildContext``; see ``contract.py``) and ``Arg``, which unit
files import from ``genesys_tui.units``."""

from __future__ import annotations

from genesys_tui.design import Arg
from genesys_tui.units.contract import BuildContext, Unit

__all__ = ["Arg", "BuildContext", "Unit"]
