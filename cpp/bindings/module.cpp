#include "bindings/bindings.h"

PYBIND11_MODULE(_core, m) {
    m.doc() = "nasaccel C++ core: genomes, operators, distances and search kernels";
    nasaccel::bindings::bindCommon(m);
    nasaccel::bindings::bindGenome(m);
    nasaccel::bindings::bindEvolve(m);
    nasaccel::bindings::bindGp(m);
    nasaccel::bindings::bindMrf(m);
    nasaccel::bindings::bindProfiler(m);
}
