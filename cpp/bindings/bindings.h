#pragma once
// One bind function per C++ folder; module.cpp calls them in dependency order.
#include <pybind11/pybind11.h>

namespace nasaccel::bindings {
void bindCommon(pybind11::module_ &m);
void bindGenome(pybind11::module_ &m);
void bindEvolve(pybind11::module_ &m);
void bindGp(pybind11::module_ &m);
void bindMrf(pybind11::module_ &m);
void bindProfiler(pybind11::module_ &m);
}  // namespace nasaccel::bindings
