"""The unit framework: what unit files import (``from genesys_tui.units import Unit, Arg``)."""

from genesys_tui.units.base import Arg, BuildContext, Unit

__all__ = ["Arg", "BuildContext", "Unit"]
