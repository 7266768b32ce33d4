#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cmath>
#include <limits>

#include "bindings/bindings.h"
#include "gp/data.h"
#include "gp/kernel.h"
#include "gp/wl.h"

namespace py = pybind11;

namespace nasaccel::bindings {

namespace {

constexpr double kDefaultLo = 1e-5, kDefaultHi = 1e5;

int threadsArg(py::handle h) {
    if (!PyIndex_Check(h.ptr())) throw py::value_error("threads must be an integer, got " + py::repr(h).cast<std::string>());
    const auto v = h.cast<long long>();
    if (v < 0 || v > 1024) throw py::value_error("threads " + std::to_string(v) + " is out of range [0, 1024]");
    return static_cast<int>(v);
}

std::pair<double, double> boundsArg(py::handle h, const char *what) {
    auto t = h.cast<std::pair<double, double>>();
    if (!(t.first > 0 && t.second >= t.first && std::isfinite(t.second)))
        throw py::value_error(std::string(what) + " must be (low, high) with 0 < low <= high < inf, got " +
                              py::repr(h).cast<std::string>());
    return t;
}

KernelData featuresData(py::handle h) {
    auto arr = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(h);
    if (!arr) throw py::value_error("kernel inputs must be a Population, a KernelData or a 2-D array of numbers, got " +
                                    py::repr(h).cast<std::string>().substr(0, 100));
    if (arr.ndim() != 2)
        throw py::value_error("numeric kernel inputs must be a 2-D array (n, dim), got " + std::to_string(arr.ndim()) +
                              " dimensions");
    if (arr.shape(1) == 0) throw py::value_error("numeric kernel inputs need at least one column");
    std::vector<double> v(arr.data(), arr.data() + arr.size());
    return KernelData(std::nullopt, std::move(v), static_cast<size_t>(arr.shape(1)));
}

KernelData toData(py::handle h) {
    if (py::isinstance<KernelData>(h)) return h.cast<KernelData>();
    if (py::isinstance<Population>(h)) return KernelData(h.cast<Population>(), {}, 0);
    return featuresData(h);
}

py::array_t<double> gramArray(const Kernel &k, const DistanceCache &c, py::array_t<double> *grad, int threads) {
    const size_t n = c.rows(), m = c.cols(), p = k.numParams();
    py::array_t<double> out({n, m});
    double *o = out.mutable_data();
    double *g = nullptr;
    if (grad) {
        *grad = py::array_t<double>({p, n, m});
        g = grad->mutable_data();
    }
    {
        py::gil_scoped_release release;
        k.gram(c, o, g, threads);
    }
    return out;
}

DistanceCache makeCache(const Kernel &k, py::handle x, py::handle y, int threads) {
    KernelData xd = toData(x);
    std::optional<KernelData> yd;
    if (!y.is_none()) yd = toData(y);
    const auto metrics = k.requiredMetrics();
    py::gil_scoped_release release;
    return DistanceCache(metrics, std::move(xd), std::move(yd), threads);
}

KernelPtr constant(double c) { return std::make_shared<ConstantKernel>(c, kDefaultLo, kDefaultHi); }

bool isNumber(py::handle h) {
    return (PyFloat_Check(h.ptr()) || PyLong_Check(h.ptr()) || py::isinstance<py::float_>(h)) &&
           !PyBool_Check(h.ptr());
}

}  // namespace

void bindGp(py::module_ &m) {
    py::class_<KernelData>(m, "KernelData",
                           "Points a kernel is evaluated on: genomes (a Population), a numeric (n, dim) encoding, or both.")
        .def(py::init([](py::object genomes, py::object features) {
                 std::optional<Population> pop;
                 if (!genomes.is_none()) {
                     if (!py::isinstance<Population>(genomes))
                         throw py::value_error("genomes must be a Population, got " +
                                               py::repr(genomes).cast<std::string>().substr(0, 100));
                     pop = genomes.cast<Population>();
                 }
                 if (features.is_none()) {
                     if (!pop) throw py::value_error("KernelData needs genomes, features or both");
                     return KernelData(std::move(pop), {}, 0);
                 }
                 KernelData f = featuresData(features);
                 std::vector<double> v;
                 for (size_t i = 0; i < f.size(); ++i) v.insert(v.end(), f.features(i), f.features(i) + f.dim());
                 return KernelData(std::move(pop), std::move(v), f.dim());
             }),
             py::arg("genomes") = py::none(), py::arg("features") = py::none())
        .def("__len__", &KernelData::size)
        .def_property_readonly("has_genomes", &KernelData::hasGenomes)
        .def_property_readonly("dim", &KernelData::dim)
        .def_property_readonly("genomes", &KernelData::genomes)
        .def("extend", [](KernelData &d, py::object more) { d.extend(toData(more)); }, py::arg("more"))
        .def("__repr__", [](const KernelData &d) {
            return "KernelData(" + std::to_string(d.size()) + " points" + (d.hasGenomes() ? ", genomes" : "") +
                   (d.hasFeatures() ? ", features of dim " + std::to_string(d.dim()) : "") + ")";
        });

    py::class_<DistanceCache>(m, "DistanceCache",
                              "Base matrices (edit distances, Hamming masks, WL similarities, squared Euclidean "
                              "distances) a kernel needs between two sets of points, computed once.")
        .def(py::init([](const KernelPtr &k, py::object x, py::object y, py::object threads) {
                 if (!k) throw py::value_error("kernel is None");
                 return makeCache(*k, x, y, threadsArg(threads));
             }),
             py::arg("kernel"), py::arg("x"), py::arg("y") = py::none(), py::arg("threads") = 0)
        .def_property_readonly("rows", &DistanceCache::rows)
        .def_property_readonly("cols", &DistanceCache::cols)
        .def_property_readonly("shape", [](const DistanceCache &c) { return py::make_tuple(c.rows(), c.cols()); })
        .def_property_readonly("symmetric", &DistanceCache::symmetric)
        .def_property_readonly("x", &DistanceCache::x, "The row points (a copy).")
        .def_property_readonly("y", &DistanceCache::y, "The column points (the row points of a self cache; a copy).")
        .def_property_readonly("metrics", [](const DistanceCache &c) {
            std::vector<std::string> out;
            for (const auto &mm : c.matrices()) out.push_back(mm.key.name());
            return out;
        })
        .def("matrix", [](const DistanceCache &c, const std::string &name) -> py::object {
                 for (const auto &mm : c.matrices())
                     if (mm.key.name() == name) {
                         const size_t r = c.rows(), k = c.cols();
                         if (mm.key.metric == Metric::Hamming) {
                             py::array_t<uint64_t> a({r, k});
                             std::copy(mm.masks.begin(), mm.masks.end(), a.mutable_data());
                             return a;
                         }
                         py::array_t<double> a({r, k});
                         std::copy(mm.values.begin(), mm.values.end(), a.mutable_data());
                         return a;
                     }
                 throw py::value_error("the cache holds no matrix named '" + name + "'");
             },
             py::arg("name"), "A copy of one base matrix ('edit', 'hamming' as uint64 masks, 'wl<h>', 'sqeuclidean').")
        .def("extend", [](DistanceCache &c, py::object more, py::object threads) {
                 KernelData d = toData(more);
                 const int t = threadsArg(threads);
                 py::gil_scoped_release release;
                 c.extend(d, t);
             }, py::arg("more"), py::arg("threads") = 0, "Self cache: append points (new rows and columns only).")
        .def("extend_rows", [](DistanceCache &c, py::object more, py::object threads) {
                 KernelData d = toData(more);
                 const int t = threadsArg(threads);
                 py::gil_scoped_release release;
                 c.extendRows(d, t);
             }, py::arg("more"), py::arg("threads") = 0)
        .def("extend_columns", [](DistanceCache &c, py::object more, py::object threads) {
                 KernelData d = toData(more);
                 const int t = threadsArg(threads);
                 py::gil_scoped_release release;
                 c.extendColumns(d, t);
             }, py::arg("more"), py::arg("threads") = 0)
        .def("__repr__", [](const DistanceCache &c) {
            return "DistanceCache(" + std::to_string(c.rows()) + " x " + std::to_string(c.cols()) +
                   (c.symmetric() ? ", symmetric" : "") + ")";
        });

    py::class_<Kernel, KernelPtr>(m, "Kernel", "A GP kernel: base kernels composed with +, * and scaling.")
        .def_property("theta", [](const Kernel &k) {
                 auto t = k.theta();
                 py::array_t<double> a(static_cast<py::ssize_t>(t.size()));
                 std::copy(t.begin(), t.end(), a.mutable_data());
                 return a;
             },
             [](Kernel &k, const std::vector<double> &t) { k.setThetaVector(t); },
             "Hyper-parameters in log space, one flat vector.")
        .def_property_readonly("bounds", [](const Kernel &k) {
            const size_t p = k.numParams();
            py::array_t<double> a({p, size_t(2)});
            std::vector<double> lo(p), hi(p);
            k.getBounds(lo.data(), hi.data());
            for (size_t q = 0; q < p; ++q) {
                a.mutable_at(q, 0) = lo[q];
                a.mutable_at(q, 1) = hi[q];
            }
            return a;
        }, "Log-space (low, high) bounds, shape (n_params, 2).")
        .def_property_readonly("hyperparameter_names", &Kernel::names)
        .def_property_readonly("n_params", &Kernel::numParams)
        .def_property_readonly("diag_value", &Kernel::diagValue, "k(x, x), the same for every x.")
        .def_property_readonly("metrics", [](const Kernel &k) {
            std::vector<std::string> out;
            for (const auto &key : k.requiredMetrics()) out.push_back(key.name());
            return out;
        })
        .def("distances", [](const KernelPtr &k, py::object x, py::object y, py::object threads) {
                 return makeCache(*k, x, y, threadsArg(threads));
             },
             py::arg("x"), py::arg("y") = py::none(), py::arg("threads") = 0,
             "A DistanceCache of x against itself (y None) or against y, holding every matrix this kernel needs.")
        .def("gram", [](const KernelPtr &k, const DistanceCache &c, bool evalGradient, py::object threads) -> py::object {
                 const int t = threadsArg(threads);
                 if (!evalGradient) return gramArray(*k, c, nullptr, t);
                 py::array_t<double> g;
                 auto K = gramArray(*k, c, &g, t);
                 return py::make_tuple(K, g);
             },
             py::arg("cache"), py::arg("eval_gradient") = false, py::arg("threads") = 0,
             "Gram matrix on a cache (and, with eval_gradient, dK/dtheta of shape (n_params, rows, cols)).")
        .def("__call__", [](const KernelPtr &k, py::object x, py::object y, bool evalGradient, py::object threads) -> py::object {
                 const int t = threadsArg(threads);
                 DistanceCache c = makeCache(*k, x, y, t);
                 if (!evalGradient) return gramArray(*k, c, nullptr, t);
                 py::array_t<double> g;
                 auto K = gramArray(*k, c, &g, t);
                 return py::make_tuple(K, g);
             },
             py::arg("x"), py::arg("y") = py::none(), py::arg("eval_gradient") = false, py::arg("threads") = 0)
        .def("diag", [](const Kernel &k, py::object x) {
            const size_t n = toData(x).size();
            py::array_t<double> a(static_cast<py::ssize_t>(n));
            std::fill(a.mutable_data(), a.mutable_data() + n, k.diagValue());
            return a;
        }, py::arg("x"))
        .def("__add__", [](const KernelPtr &a, py::object b) -> KernelPtr {
            if (isNumber(b)) return std::make_shared<SumKernel>(a, constant(b.cast<double>()));
            return std::make_shared<SumKernel>(a, b.cast<KernelPtr>());
        }, py::is_operator())
        .def("__radd__", [](const KernelPtr &a, py::object b) -> KernelPtr {
            return std::make_shared<SumKernel>(constant(b.cast<double>()), a);
        }, py::is_operator())
        .def("__mul__", [](const KernelPtr &a, py::object b) -> KernelPtr {
            if (isNumber(b)) return std::make_shared<ProductKernel>(a, constant(b.cast<double>()));
            return std::make_shared<ProductKernel>(a, b.cast<KernelPtr>());
        }, py::is_operator())
        .def("__rmul__", [](const KernelPtr &a, py::object b) -> KernelPtr {
            return std::make_shared<ProductKernel>(constant(b.cast<double>()), a);
        }, py::is_operator())
        .def("__repr__", &Kernel::describe);

    py::class_<EditDistanceKernel, Kernel, std::shared_ptr<EditDistanceKernel>>(
        m, "EditDistanceKernel", "exp(-d/l), or exp(-d^2/l^2) with squared, on the weighted edit distance d.")
        .def(py::init([](double l, bool squared, py::object b) {
                 auto bb = boundsArg(b, "length_scale_bounds");
                 return std::make_shared<EditDistanceKernel>(l, squared, bb.first, bb.second);
             }),
             py::arg("length_scale") = 1.0, py::arg("squared") = false,
             py::arg("length_scale_bounds") = py::make_tuple(kDefaultLo, kDefaultHi))
        .def_property_readonly("squared", &EditDistanceKernel::squared);

    py::class_<HammingKernel, Kernel, std::shared_ptr<HammingKernel>>(
        m, "HammingKernel", "exp(-sum_g [a_g != b_g] / l_g) over the gene positions of fixed-length genomes.")
        .def(py::init([](py::object l, py::object b) {
                 auto bb = boundsArg(b, "length_scale_bounds");
                 std::vector<double> ls;
                 if (isNumber(l)) ls.push_back(l.cast<double>());
                 else ls = l.cast<std::vector<double>>();
                 return std::make_shared<HammingKernel>(std::move(ls), bb.first, bb.second);
             }),
             py::arg("length_scale") = 1.0, py::arg("length_scale_bounds") = py::make_tuple(kDefaultLo, kDefaultHi));

    py::class_<WLKernel, Kernel, std::shared_ptr<WLKernel>>(
        m, "WLKernel",
        "Normalised Weisfeiler-Lehman subtree kernel on the genome's graph (PSD): the cosine similarity s of the "
        "subtree-count features; with a length_scale l, exp(-(1 - s) / l^2), an RBF on the normalised features.")
        .def(py::init([](py::object it, py::object l, py::object b) -> std::shared_ptr<WLKernel> {
                 if (!PyIndex_Check(it.ptr()))
                     throw py::value_error("iterations must be an integer, got " + py::repr(it).cast<std::string>());
                 const auto v = it.cast<long long>();
                 if (v < 0 || v > 64) throw py::value_error("iterations " + std::to_string(v) + " is out of range [0, 64]");
                 if (l.is_none()) return std::make_shared<WLKernel>(static_cast<int>(v));
                 if (!isNumber(l))
                     throw py::value_error("length_scale must be a number or None, got " + py::repr(l).cast<std::string>());
                 auto bb = boundsArg(b, "length_scale_bounds");
                 return std::make_shared<WLKernel>(static_cast<int>(v), l.cast<double>(), bb.first, bb.second);
             }),
             py::arg("iterations") = 2, py::arg("length_scale") = py::none(),
             py::arg("length_scale_bounds") = py::make_tuple(kDefaultLo, kDefaultHi))
        .def_property_readonly("length_scale", [](const WLKernel &k) -> py::object {
            return k.hasLengthScale() ? py::object(py::float_(k.lengthScale())) : py::object(py::none());
        })
        .def_property_readonly("iterations", &WLKernel::iterations);

    py::class_<HistogramKernel, Kernel, std::shared_ptr<HistogramKernel>>(
        m, "HistogramKernel",
        "Normalised inner product of the gene-value histograms (PSD): the cosine similarity of the counts of each "
        "field value over the genes (and of each skip offset), wherever the genes sit.")
        .def(py::init([]() { return std::make_shared<HistogramKernel>(); }));

    m.def(
        "histogram_features",
        [](const SpaceSpec &spec, const Genome &g) {
            spec.validate(g);
            return histogramFeatures(g.view());
        },
        py::arg("spec"), py::arg("genome"),
        "The sorted (label, count) pairs of the genome's gene-value histogram (what HistogramKernel compares).");

    m.def(
        "wl_features",
        [](const SpaceSpec &spec, const Genome &g, py::object it) {
            if (!PyIndex_Check(it.ptr()))
                throw py::value_error("iterations must be an integer, got " + py::repr(it).cast<std::string>());
            const auto v = it.cast<long long>();
            if (v < 0 || v > 64) throw py::value_error("iterations " + std::to_string(v) + " is out of range [0, 64]");
            spec.validate(g);
            return wlFeatures(g.view(), static_cast<int>(v), &spec.cellGraph());
        },
        py::arg("spec"), py::arg("genome"), py::arg("iterations") = 2,
        "Weisfeiler-Lehman subtree features of the genome's graph under spec (a chain, or the spec's cell graph): "
        "sorted (label, count) pairs over iterations 0..iterations.");

    py::class_<StationaryKernel, Kernel, std::shared_ptr<StationaryKernel>>(m, "StationaryKernel",
                                                                          "Isotropic kernel on numeric encodings.");
    py::class_<RBFKernel, StationaryKernel, std::shared_ptr<RBFKernel>>(
        m, "RBFKernel", "exp(-r^2 / (2 l^2)) on numeric encodings (scikit-learn's RBF, isotropic).")
        .def(py::init([](double l, py::object b) {
                 auto bb = boundsArg(b, "length_scale_bounds");
                 return std::make_shared<RBFKernel>(l, bb.first, bb.second);
             }),
             py::arg("length_scale") = 1.0, py::arg("length_scale_bounds") = py::make_tuple(kDefaultLo, kDefaultHi));
    py::class_<MaternKernel, StationaryKernel, std::shared_ptr<MaternKernel>>(
        m, "MaternKernel", "Matern 5/2 on numeric encodings (scikit-learn's Matern(nu=2.5), isotropic).")
        .def(py::init([](double l, py::object b) {
                 auto bb = boundsArg(b, "length_scale_bounds");
                 return std::make_shared<MaternKernel>(l, bb.first, bb.second);
             }),
             py::arg("length_scale") = 1.0, py::arg("length_scale_bounds") = py::make_tuple(kDefaultLo, kDefaultHi));

    py::class_<ConstantKernel, Kernel, std::shared_ptr<ConstantKernel>>(m, "ConstantKernel", "A constant c.")
        .def(py::init([](double c, py::object b) {
                 auto bb = boundsArg(b, "constant_value_bounds");
                 return std::make_shared<ConstantKernel>(c, bb.first, bb.second);
             }),
             py::arg("constant_value") = 1.0, py::arg("constant_value_bounds") = py::make_tuple(kDefaultLo, kDefaultHi));
    py::class_<SumKernel, Kernel, std::shared_ptr<SumKernel>>(m, "SumKernel", "k1 + k2.")
        .def(py::init<KernelPtr, KernelPtr>(), py::arg("k1"), py::arg("k2"))
        .def_property_readonly("k1", &SumKernel::first)
        .def_property_readonly("k2", &SumKernel::second);
    py::class_<ProductKernel, Kernel, std::shared_ptr<ProductKernel>>(m, "ProductKernel", "k1 * k2.")
        .def(py::init<KernelPtr, KernelPtr>(), py::arg("k1"), py::arg("k2"))
        .def_property_readonly("k1", &ProductKernel::first)
        .def_property_readonly("k2", &ProductKernel::second);
}

}  // namespace nasaccel::bindings
