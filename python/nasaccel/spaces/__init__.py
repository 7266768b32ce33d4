"""Search spaces: genome meaning, text forms, readable decoding and torch networks.

``SearchSpace`` is the base class; ``ChainSpace`` (chain networks, 1-D or 2-D), ``NB201CellSpace``
(NAS-Bench-201 cells), ``MacroSpace`` (NAS-Bench-Macro), ``RecurrentCellSpace`` (recurrent cells) and
``WidthSpace`` (per-layer widths over a backbone) are the spaces, and ``space_from_config`` rebuilds any
of them from ``space.config()``.
"""

from .base import Decision as Decision
from .base import SearchSpace as SearchSpace
from .base import space_from_config as space_from_config
from .chain import CHAIN_OPS as CHAIN_OPS
from .chain import ChainSpace as ChainSpace
from .macro import MACRO_BLOCKS as MACRO_BLOCKS
from .macro import MacroSpace as MacroSpace
from .nb201 import NB201_EDGES as NB201_EDGES
from .nb201 import NB201_OPS as NB201_OPS
from .nb201 import NB201CellSpace as NB201CellSpace
from .recurrent import RECURRENT_ACTIVATIONS as RECURRENT_ACTIVATIONS
from .recurrent import RecurrentCellSpace as RecurrentCellSpace
from .width import WidthSpace as WidthSpace

__all__ = [
    "CHAIN_OPS",
    "MACRO_BLOCKS",
    "NB201_EDGES",
    "NB201_OPS",
    "ChainSpace",
    "Decision",
    "MacroSpace",
    "NB201CellSpace",
    "RECURRENT_ACTIVATIONS",
    "RecurrentCellSpace",
    "SearchSpace",
    "WidthSpace",
    "space_from_config",
]
