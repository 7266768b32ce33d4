"""ONNX Runtime: a 1-D convolution stack as Conv over (N, C, L) against the same stack as Conv over (N, C, 1, L).

The main job's networks are 1-D (MNIST-1D). ONNX Runtime 1.32 runs 1-D convolutions image by image, so the same
weights laid out as 2-D convolutions of height 1 may run faster. This prints both timings (1 intra-op thread, median
of single calls timed with perf_counter_ns) and checks that the outputs agree.

    python bench/bench_conv1d_layout.py [--channels 32] [--kernel 5] [--layers 3] [--length 40] [--calls 300]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def build(two_d: bool, channels: int, kernel: int, layers: int, length: int):  # type: ignore[no-untyped-def]
    """A stack of stride-2 Conv+ReLU layers from 1 input channel; the same weights in both layouts."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    nodes, inits, x, cin = [], [], "x", 1
    for i in range(layers):
        w = (rng.standard_normal((channels, cin, kernel)) * 0.1).astype(np.float32)
        if two_d:
            w = w[:, :, None, :]
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(channels, np.float32), f"b{i}")]
        pad = kernel // 2
        attrs = (
            {"kernel_shape": [1, kernel], "pads": [0, pad, 0, pad], "strides": [1, 2]}
            if two_d
            else {"kernel_shape": [kernel], "pads": [pad, pad], "strides": [2]}
        )
        nodes += [helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], **attrs),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        x, cin = f"r{i}", channels
    shape = [None, 1, 1, length] if two_d else [None, 1, length]
    graph = helper.make_graph(nodes, "stack", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def main() -> None:
    import onnxruntime as ort

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--kernel", type=int, default=5)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--length", type=int, default=40)
    p.add_argument("--calls", type=int, default=300)
    a = p.parse_args()
    print(f"onnxruntime {ort.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    for batch in (1, 256):
        x = np.random.default_rng(batch).standard_normal((batch, 1, a.length)).astype(np.float32)
        out, med = {}, {}
        for two_d in (False, True):
            model = build(two_d, a.channels, a.kernel, a.layers, a.length)
            sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
            feed = {"x": x[:, :, None, :] if two_d else x}
            for _ in range(20):
                sess.run(None, feed)
            times = []
            for _ in range(a.calls):
                t = time.perf_counter_ns()
                res = sess.run(None, feed)
                times.append(time.perf_counter_ns() - t)
            out[two_d], med[two_d] = res[0].reshape(batch, -1), float(np.median(times)) / 1e3
        diff = float(np.abs(out[False] - out[True]).max())
        print(f"batch {batch}: Conv (N,C,L) {med[False]:.1f} us, Conv (N,C,1,L) {med[True]:.1f} us, "
              f"ratio {med[False] / med[True]:.2f}x, largest output difference {diff:.1e}")
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
