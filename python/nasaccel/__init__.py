"""nasaccel: hardware-aware neural architecture search.

Genomes, operators and search kernels live in the C++ extension ``nasaccel._core``;
torch, onnx, onnxruntime, ray and matplotlib are imported lazily where they are used,
so ``import nasaccel`` needs numpy alone.
"""

from ._core import Field as Field
from ._core import Genome as Genome
from ._core import ChainMRF as ChainMRF
from ._core import Rng as Rng
from ._core import SpaceSpec as SpaceSpec
from .spaces import ChainSpace as ChainSpace
from .spaces import MacroSpace as MacroSpace
from .spaces import NB201CellSpace as NB201CellSpace
from .spaces import RecurrentCellSpace as RecurrentCellSpace
from .spaces import SearchSpace as SearchSpace
from .spaces import space_from_config as space_from_config
from .evaluation import TabularBenchmark as TabularBenchmark
from .evaluation import TorchTrainer as TorchTrainer
from .evaluation import SuccessiveHalvingPruner as SuccessiveHalvingPruner
from .evaluation import HyperbandPruner as HyperbandPruner
from .evaluation import MedianPruner as MedianPruner
from .evaluation import PercentilePruner as PercentilePruner
from .evaluation import CheckpointStore as CheckpointStore
from .evaluation import LatencyEvaluator as LatencyEvaluator
from . import data as data
from .storage import InMemoryStorage as InMemoryStorage
from .storage import SQLiteStorage as SQLiteStorage
from .strategies import NSGA2 as NSGA2
from .strategies import BayesOpt as BayesOpt
from .strategies import Coevolution as Coevolution
from .strategies import Exhaustive as Exhaustive
from .strategies import LocalSearch as LocalSearch
from .strategies import RandomSearch as RandomSearch
from .strategies import RegularizedEvolution as RegularizedEvolution
from .strategies import RLController as RLController
from .strategies import Strategy as Strategy
from .study import Study as Study
from .trial import Constraint as Constraint
from .trial import Objective as Objective
from .trial import Trial as Trial
from .trial import TrialPruned as TrialPruned
from .trial import TrialState as TrialState

__version__ = "0.1.0"

__all__ = ["ChainMRF", "Field", "Genome", "Rng", "SpaceSpec", "__version__"]
__all__ += ["ChainSpace", "MacroSpace", "NB201CellSpace", "SearchSpace", "space_from_config"]
__all__ += ["RecurrentCellSpace"]
__all__ += ["CheckpointStore", "HyperbandPruner", "MedianPruner", "PercentilePruner", "SuccessiveHalvingPruner"]
__all__ += ["TorchTrainer", "data"]
__all__ += ["LatencyEvaluator"]
__all__ += ["Constraint", "Objective", "Study", "Trial", "TrialPruned", "TrialState"]
__all__ += ["InMemoryStorage", "SQLiteStorage", "TabularBenchmark"]
__all__ += ["NSGA2", "Coevolution", "Exhaustive", "LocalSearch", "RandomSearch", "RegularizedEvolution", "Strategy"]
__all__ += ["RLController"]
__all__ += ["BayesOpt"]
