"""Latency: ONNX builders (``onnx`` only, no torch), ONNX Runtime runner, latency tables, profiler.

Needs numpy + onnx + onnxruntime + nasaccel at run time; onnx and onnxruntime are imported
where used, so importing this package needs numpy alone.
"""

from .adapters import describe_with as describe_with
from .adapters import genome_onnx as genome_onnx
from .adapters import latency_description as latency_description
from .adapters import onnx_weights as onnx_weights
from .descriptions import CHAIN_OPS as CHAIN_OPS
from .descriptions import NB201_EDGES as NB201_EDGES
from .descriptions import NB201_OPS as NB201_OPS
from .descriptions import ChainLayer as ChainLayer
from .descriptions import ChainNetwork as ChainNetwork
from .descriptions import MacroNetwork as MacroNetwork
from .descriptions import NB201Network as NB201Network
from .descriptions import SkipInput as SkipInput
from .descriptions import chain_network as chain_network
from .descriptions import description_from_dict as description_from_dict
from .descriptions import nb201_from_string as nb201_from_string
from .onnx_builders import build_chain_layer_onnx as build_chain_layer_onnx
from .onnx_builders import build_chain_onnx as build_chain_onnx
from .onnx_builders import build_nb201_cell_onnx as build_nb201_cell_onnx
from .onnx_builders import build_nb201_onnx as build_nb201_onnx
from .onnx_builders import build_nb201_op_onnx as build_nb201_op_onnx
from .onnx_builders import build_macro_onnx as build_macro_onnx
from .onnx_builders import build_onnx as build_onnx
from .onnx_builders import macro_weight_shapes as macro_weight_shapes
from .onnx_builders import chain_weight_shapes as chain_weight_shapes
from .onnx_builders import nb201_weight_shapes as nb201_weight_shapes
from .onnx_builders import random_weights as random_weights
from .profiler import OnnxMeasure as OnnxMeasure
from .profiler import ProfileResult as ProfileResult
from .profiler import default_harness_options as default_harness_options
from .profiler import evaluate_table as evaluate_table
from .profiler import profile_space as profile_space
from .runner import OrtRunner as OrtRunner
from .runner import machine_description as machine_description
from .runner import measure_onnx as measure_onnx
from .table import LatencyTable as LatencyTable
from .table import UnmeasuredTermError as UnmeasuredTermError
from .table import error_stats as error_stats
from .table import monotone_pairs as monotone_pairs
from .table import term_key as term_key
from .table import terms_of as terms_of

__all__ = [
    "CHAIN_OPS", "NB201_EDGES", "NB201_OPS", "ChainLayer", "ChainNetwork", "LatencyTable", "MacroNetwork", "NB201Network",
    "OnnxMeasure", "OrtRunner", "ProfileResult", "SkipInput", "UnmeasuredTermError", "build_chain_layer_onnx",
    "build_macro_onnx", "macro_weight_shapes",
    "build_chain_onnx", "build_nb201_cell_onnx", "build_nb201_onnx", "build_nb201_op_onnx", "build_onnx",
    "chain_network", "chain_weight_shapes", "describe_with", "genome_onnx", "latency_description", "onnx_weights", "default_harness_options", "description_from_dict", "error_stats",
    "evaluate_table", "machine_description", "measure_onnx", "monotone_pairs", "nb201_from_string",
    "nb201_weight_shapes", "profile_space", "random_weights", "term_key", "terms_of",
]
