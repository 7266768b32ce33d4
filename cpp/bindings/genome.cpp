#include <pybind11/numpy.h>
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <climits>
#include <cmath>
#include <limits>

#include "bindings/bindings.h"
#include "common/rng.h"
#include "genome/distance.h"
#include "genome/enumerate.h"
#include "genome/genome.h"
#include "genome/neighbours.h"
#include "genome/operators.h"
#include "genome/population.h"
#include "genome/random.h"
#include "genome/spec.h"

namespace py = pybind11;

namespace nasaccel::bindings {

namespace {

// ---- conversions at the boundary: every bad value becomes a ValueError / IndexError naming it

std::string shown(py::handle h) {
    // repr of a huge int raises in Python >= 3.11 (digit limit), so guard it and cut long text.
    try {
        std::string r = py::repr(h).cast<std::string>();
        return r.size() > 100 ? r.substr(0, 100) + "..." : r;
    } catch (py::error_already_set &) {
        return "<" + std::string(Py_TYPE(h.ptr())->tp_name) + " too large to print>";
    }
}

// An integer in [lo, hi]: Python and numpy integers are accepted, floats and strings are not.
int64_t toInt(py::handle h, const std::string &what, int64_t lo, int64_t hi, bool indexError = false) {
    auto fail = [&](const std::string &why) -> int64_t {
        const std::string msg = what + " " + shown(h) + " " + why;
        if (indexError) throw py::index_error(msg);
        throw py::value_error(msg);
    };
    if (!PyIndex_Check(h.ptr())) throw py::value_error(what + " must be an integer, got " + shown(h));
    py::object idx = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
    if (!idx) throw py::error_already_set();
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(idx.ptr(), &overflow);
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (overflow != 0 || v < lo || v > hi)
        return fail("is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<int64_t>(v);
}

uint64_t toU64(py::handle h, const std::string &what) {
    if (!PyIndex_Check(h.ptr())) throw py::value_error(what + " must be an integer, got " + shown(h));
    py::object idx = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
    if (!idx) throw py::error_already_set();
    const unsigned long long v = PyLong_AsUnsignedLongLong(idx.ptr());
    if (PyErr_Occurred()) {
        PyErr_Clear();
        throw py::value_error(what + " " + shown(h) + " is out of range [0, 2**64)");
    }
    return static_cast<uint64_t>(v);
}

constexpr int64_t kMaxThreads = 1024;

int toThreads(py::handle h) { return static_cast<int>(toInt(h, "threads", 0, kMaxThreads)); }

// A sequence or 1-D integer array of indices; out-of-range values are left to the C++ range checks
// (IndexError), except those beyond int64, reported here.
std::vector<int64_t> toIndices(py::handle h, const std::string &what) {
    if (py::isinstance<py::array>(h)) {
        auto arr = py::reinterpret_borrow<py::array>(h);
        if (arr.ndim() != 1)
            throw py::value_error(what + " must be one-dimensional, got an array with " +
                                  std::to_string(arr.ndim()) + " dimensions");
        if (arr.size() == 0) return {};
        const char kind = arr.dtype().kind();
        if (kind == 'i') {
            auto a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
            if (!a) throw py::error_already_set();
            return std::vector<int64_t>(a.data(), a.data() + a.size());
        }
        if (kind == 'u') {
            auto a = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
            if (!a) throw py::error_already_set();
            std::vector<int64_t> out(static_cast<size_t>(a.size()));
            for (py::ssize_t k = 0; k < a.size(); ++k) {
                if (a.data()[k] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                    throw py::index_error(what + " value " + std::to_string(a.data()[k]) + " is out of range");
                out[static_cast<size_t>(k)] = static_cast<int64_t>(a.data()[k]);
            }
            return out;
        }
        throw py::value_error(what + " must hold integers, got an array of dtype " +
                              py::str(arr.dtype()).cast<std::string>());
    }
    if (py::isinstance<py::str>(h) || py::isinstance<py::bytes>(h) || !PySequence_Check(h.ptr()))
        throw py::value_error(what + " must be a sequence or 1-D array of integers, got " + shown(h));
    auto seq = py::reinterpret_borrow<py::sequence>(h);
    std::vector<int64_t> out;
    out.reserve(seq.size());
    for (size_t k = 0; k < seq.size(); ++k)
        out.push_back(toInt(seq[k], what + " value", std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max(), true));
    return out;
}

Genome genomeFromLists(py::handle genes, py::handle skips) {
    auto isSeq = [](py::handle h) {
        return !py::isinstance<py::str>(h) && !py::isinstance<py::bytes>(h) && PySequence_Check(h.ptr());
    };
    if (!isSeq(genes)) throw py::value_error("genes must be a sequence of genes, got " + shown(genes));
    auto rows = py::reinterpret_borrow<py::sequence>(genes);
    std::vector<int32_t> flat;
    size_t nf = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        py::object row = rows[i];
        if (!isSeq(row))
            throw py::value_error("gene " + std::to_string(i) + " must be a sequence of field values, got " +
                                  shown(row));
        auto vals = py::reinterpret_borrow<py::sequence>(row);
        if (i == 0) {
            nf = vals.size();
            if (nf == 0) throw py::value_error("genes must have at least one field, gene 0 has none");
        }
        if (vals.size() != nf)
            throw py::value_error("gene " + std::to_string(i) + " has " + std::to_string(vals.size()) +
                                  " fields, gene 0 has " + std::to_string(nf));
        for (size_t f = 0; f < nf; ++f)
            flat.push_back(static_cast<int32_t>(toInt(vals[f], "gene " + std::to_string(i) + " field " + std::to_string(f) + " value",
                                                      std::numeric_limits<int32_t>::min(),
                                                      std::numeric_limits<int32_t>::max())));
    }
    std::vector<uint64_t> masks;
    if (!skips.is_none()) {
        if (!isSeq(skips)) throw py::value_error("skips must be a sequence of masks, got " + shown(skips));
        auto seq = py::reinterpret_borrow<py::sequence>(skips);
        for (size_t i = 0; i < seq.size(); ++i) masks.push_back(toU64(seq[i], "skip mask of gene " + std::to_string(i)));
    }
    return Genome(nf, std::move(flat), std::move(masks));
}

py::array_t<int32_t> genesArray(const Genome &g) {
    py::array_t<int32_t> a({g.numGenes(), g.numFields()});
    std::copy(g.genes().begin(), g.genes().end(), a.mutable_data());
    return a;
}

// Parents and operands are validated at the boundary: ValueError naming the genome and the fault.
void checkGenome(const SpaceSpec &spec, const Genome &g, const char *role) {
    const std::string msg = spec.check(g);
    if (!msg.empty()) throw py::value_error(std::string(role) + " '" + shortText(g) + "' is invalid for the spec: " + msg);
}

CrossoverKind toCrossoverKind(py::handle h) {
    if (!py::isinstance<py::str>(h))
        throw py::value_error("crossover kind must be one of 'one_point', 'two_point', 'uniform', 'aligned', got " +
                              shown(h));
    return crossoverKindFromName(h.cast<std::string>());
}

template <class Op>
Genome applyOperator(Op op, const Genome &g, const SpaceSpec &spec, Rng &rng) {
    checkGenome(spec, g, "genome");
    Genome child = g;
    op(spec, child, rng);
    return child;
}

std::vector<std::string> kindNames(const std::vector<MutationKind> &kinds) {
    std::vector<std::string> out;
    for (MutationKind k : kinds) out.emplace_back(mutationName(k));
    return out;
}

template <class T>
py::array_t<T> toArray(const std::vector<T> &v) {
    py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

}  // namespace

namespace {
void bindOperators(py::module_ &m);
void bindPopulation(py::module_ &m);
}  // namespace

void bindGenome(py::module_ &m) {
    py::class_<Field>(m, "Field", "One named integer field of every gene, with domain {0, ..., size-1}.")
        .def(py::init([](std::string name, py::object size, bool ordinal, double cost) {
                 // SpaceSpec checks the domain; here only what fits the C++ field.
                 const auto sz = toInt(size, "field '" + name + "' size", INT32_MIN, INT32_MAX);
                 return Field{std::move(name), static_cast<int32_t>(sz), ordinal, cost};
             }),
             py::arg("name"), py::arg("size"), py::arg("ordinal") = false, py::arg("cost") = 1.0)
        .def_readonly("name", &Field::name)
        .def_readonly("size", &Field::size)
        .def_readonly("ordinal", &Field::ordinal)
        .def_readonly("cost", &Field::cost)
        .def("__repr__", [](const Field &f) {
            return "Field('" + f.name + "', size=" + std::to_string(f.size) +
                   ", ordinal=" + (f.ordinal ? "True" : "False") + ", cost=" + std::to_string(f.cost) + ")";
        });

    py::class_<SpaceSpec>(m, "SpaceSpec", "Fields, length bounds, skip rules and distance costs of a space.")
        .def(py::init([](std::vector<Field> fields, py::object minGenes, py::object maxGenes, py::object maxSkipOffset,
                         double skipCost, double indelCost) {
                 constexpr int64_t lo = INT64_MIN, hi = INT64_MAX;
                 return SpaceSpec(std::move(fields), toInt(minGenes, "min_genes", lo, hi),
                                  toInt(maxGenes, "max_genes", lo, hi), toInt(maxSkipOffset, "max_skip_offset", lo, hi),
                                  skipCost, indelCost);
             }),
             py::arg("fields"),
             py::arg("min_genes"), py::arg("max_genes"), py::arg("max_skip_offset") = 0, py::arg("skip_cost") = 1.0,
             py::arg("indel_cost") = -1.0)
        .def_property_readonly("fields", &SpaceSpec::fields)
        .def_property_readonly("num_fields", &SpaceSpec::numFields)
        .def_property_readonly("field_names",
                               [](const SpaceSpec &s) {
                                   std::vector<std::string> n;
                                   for (const auto &f : s.fields()) n.push_back(f.name);
                                   return n;
                               })
        .def_property_readonly("min_genes", &SpaceSpec::minGenes)
        .def_property_readonly("max_genes", &SpaceSpec::maxGenes)
        .def_property_readonly("fixed_length", &SpaceSpec::fixedLength)
        .def_property_readonly("allows_skips", &SpaceSpec::allowsSkips)
        .def_property_readonly("max_skip_offset", &SpaceSpec::maxSkipOffset)
        .def_property_readonly("skip_cost", &SpaceSpec::skipCost)
        .def_property_readonly("indel_cost", &SpaceSpec::indelCost)
        .def("field_index", &SpaceSpec::fieldIndex, py::arg("name"))
        .def("allowed_skip_mask",
             [](const SpaceSpec &s, py::object gene) {
                 return s.allowedSkipMask(static_cast<size_t>(toInt(gene, "gene", 0, INT64_MAX)));
             },
             py::arg("gene"), "Skip bits gene `gene` may set (bit b = input from node gene-1-b).")
        .def("cardinality", &SpaceSpec::cardinality,
             "Number of distinct genomes, or -1 when above 2**62.")
        .def("check", &SpaceSpec::check, py::arg("genome"),
             "Empty string when valid, else a message naming the gene, field and value at fault.")
        .def("validate", &SpaceSpec::validate, py::arg("genome"))
        .def("is_valid", &SpaceSpec::isValid, py::arg("genome"))
        .def("parse",
             [](const SpaceSpec &s, const std::string &text) {
                 Genome g = Genome::fromText(text);
                 s.validate(g);
                 return g;
             },
             py::arg("text"), "Parse canonical genome text and validate it against this spec.")
        .def(
            "with_cell_graph",
            [](const SpaceSpec &s, py::object numNodes, const std::vector<std::pair<py::object, py::object>> &edges,
               py::object zero) {
                CellGraph g;
                g.numNodes = static_cast<int>(toInt(numNodes, "num_nodes", 0, 1 << 20));
                for (size_t e = 0; e < edges.size(); ++e) {
                    const std::string what = "edge " + std::to_string(e);
                    g.edges.emplace_back(static_cast<int>(toInt(edges[e].first, what + " source", -1, 1 << 20)),
                                         static_cast<int>(toInt(edges[e].second, what + " target", -1, 1 << 20)));
                }
                if (!zero.is_none()) {
                    auto t = zero.cast<std::pair<py::object, py::object>>();
                    if (!py::isinstance<py::str>(t.first))
                        throw py::value_error("zero must be (field name, value), got " + py::repr(zero).cast<std::string>());
                    g.zeroField = static_cast<int>(s.fieldIndex(t.first.cast<std::string>()));
                    g.zeroValue = static_cast<int32_t>(toInt(t.second, "zero value", -1, INT32_MAX));
                }
                return s.withCellGraph(std::move(g));
            },
            py::arg("num_nodes"), py::arg("edges"), py::arg("zero") = py::none(),
            "A copy whose genomes read as a cell: gene i is the operation on edge edges[i] = (from, to) of a DAG "
            "over num_nodes nodes (0 the input, num_nodes-1 the output); zero = (field, value) marks a zero operation.")
        .def_property_readonly(
            "cell_graph",
            [](const SpaceSpec &s) -> py::object {
                if (!s.hasCellGraph()) return py::none();
                const CellGraph &g = s.cellGraph();
                py::dict d;
                d["num_nodes"] = g.numNodes;
                d["edges"] = g.edges;
                d["zero"] = g.zeroField < 0 ? py::object(py::none())
                                            : py::object(py::make_tuple(s.field(g.zeroField).name, g.zeroValue));
                return d;
            },
            "None for a chain genome, else {'num_nodes', 'edges', 'zero'} (see with_cell_graph).")
        .def(py::self == py::self)
        .def("__repr__", &SpaceSpec::describe);

    py::class_<Genome>(m, "Genome", "Flat integer genes plus a skip-input mask per gene.")
        .def(py::init([](py::object genes, py::object skips) { return genomeFromLists(genes, skips); }),
             py::arg("genes"), py::arg("skips") = py::none(),
             "genes: one list of field values per gene; skips: one mask per gene (bit b = offset b+1).")
        .def_static("from_text", &Genome::fromText, py::arg("text"))
        .def_property_readonly("num_genes", &Genome::numGenes)
        .def_property_readonly("num_fields", &Genome::numFields)
        .def_property_readonly("genes", &genesArray, "The genes as an int32 array of shape (num_genes, num_fields).")
        .def_property_readonly("skips", &Genome::skipMasks)
        .def("at",
             [](const Genome &g, py::object gene, py::object field) {
                 return g.at(static_cast<size_t>(toInt(gene, "gene", 0, INT64_MAX, true)),
                             static_cast<size_t>(toInt(field, "field", 0, INT64_MAX, true)));
             },
             py::arg("gene"), py::arg("field"))
        .def("skip_offsets",
             [](const Genome &g, py::object gene) {
                 return g.skipOffsets(static_cast<size_t>(toInt(gene, "gene", 0, INT64_MAX, true)));
             },
             py::arg("gene"))
        .def("gene", [](const Genome &g, py::object index) {
            const auto i = static_cast<size_t>(toInt(index, "gene", 0, INT64_MAX, true));
            if (i >= g.numGenes())
                throw py::index_error("gene " + std::to_string(i) + " out of range [0, " +
                                      std::to_string(g.numGenes()) + ")");
            return std::vector<int32_t>(g.gene(i), g.gene(i) + g.numFields());
        }, py::arg("i"))
        .def("to_text", &Genome::toText)
        .def("hash", &Genome::hash, "Stable 64-bit hash of the canonical text.")
        .def("__len__", &Genome::numGenes)
        .def("__hash__", [](const Genome &g) { return static_cast<py::ssize_t>(g.hash() >> 1); })
        .def(py::self == py::self)
        .def(py::self != py::self)
        .def("__str__", &Genome::toText)
        .def("__repr__", [](const Genome &g) { return "Genome('" + g.toText() + "')"; })
        .def(py::pickle([](const Genome &g) { return g.toText(); },
                        [](const std::string &t) { return Genome::fromText(t); }));

    m.def("random_genome", &randomGenome, py::arg("spec"), py::arg("rng"), py::arg("skip_probability") = 0.25,
          "A genome of uniform length in the spec's bounds, uniform fields, each allowed skip with the given probability.");

    // Exhaustive enumeration
    m.def("genome_at", &genomeAt, py::arg("spec"), py::arg("index"),
          "Genome number `index` of the spec's enumeration (length first, then genes lexicographically).");
    m.def("index_of", &indexOf, py::arg("spec"), py::arg("genome"), "Inverse of genome_at.");
    m.def("neighbours", &neighbours, py::arg("genome"), py::arg("spec"), py::arg("insertions") = true,
          "Every valid genome one mutation away (point changes, skip toggles, deletions, insertions), no repeats.");
    m.def("shuffled_index", &shuffledIndex, py::arg("position"), py::arg("n"), py::arg("seed"),
          "A seeded bijection of [0, n): the index visited at `position` of a shuffled enumeration.");
    bindOperators(m);
    bindPopulation(m);
}

namespace {

void bindOperators(py::module_ &m) {
    py::class_<MutationWeights>(m, "MutationWeights",
                                "Relative weights of the mutation operators; an operator that does not apply to "
                                "a genome is skipped and the others renormalised.")
        .def(py::init([](double point, double insert, double del, double addSkip, double removeSkip, double moveSkip) {
                 MutationWeights w{point, insert, del, addSkip, removeSkip, moveSkip};
                 w.validate();
                 return w;
             }),
             py::arg("point") = 1.0, py::arg("insert") = 1.0, py::arg("delete") = 1.0, py::arg("add_skip") = 1.0,
             py::arg("remove_skip") = 1.0, py::arg("move_skip") = 1.0)
        .def_readonly("point", &MutationWeights::point)
        .def_readonly("insert", &MutationWeights::insert)
        .def_readonly("delete", &MutationWeights::del)
        .def_readonly("add_skip", &MutationWeights::addSkip)
        .def_readonly("remove_skip", &MutationWeights::removeSkip)
        .def_readonly("move_skip", &MutationWeights::moveSkip)
        .def("__repr__", &MutationWeights::describe);

    py::class_<Mutator>(m, "Mutator", "Composite mutation: one applicable operator drawn by weight, then applied.")
        .def(py::init<SpaceSpec, MutationWeights>(), py::arg("spec"), py::arg("weights") = MutationWeights{})
        .def_property_readonly("spec", &Mutator::spec)
        .def_property_readonly("weights", &Mutator::weights)
        .def("applicable",
             [](const Mutator &mu, const Genome &g) {
                 checkGenome(mu.spec(), g, "genome");
                 return kindNames(mu.applicable(g));
             },
             py::arg("genome"), "Names of the operators that can change the genome, whatever their weight.")
        .def("mutate",
             [](const Mutator &mu, const Genome &g, Rng &rng) {
                 checkGenome(mu.spec(), g, "genome");
                 return mu.mutate(g, rng);
             },
             py::arg("genome"), py::arg("rng"));

    m.def("mutate",
          [](const Genome &g, const SpaceSpec &spec, Rng &rng, const MutationWeights &weights) {
              checkGenome(spec, g, "genome");
              Genome child = g;
              // A Mutator would copy the spec; the single-genome path draws exactly as Mutator does.
              Mutator(spec, weights).mutateInPlace(child, rng);
              return child;
          },
          py::arg("genome"), py::arg("spec"), py::arg("rng"), py::arg("weights") = MutationWeights{},
          "A mutated copy: one operator among those applicable, drawn in proportion to the weights.");
    m.def("applicable_mutations",
          [](const Genome &g, const SpaceSpec &spec) {
              checkGenome(spec, g, "genome");
              std::vector<std::string> out;
              for (size_t k = 0; k < kNumMutationKinds; ++k)
                  if (canApply(static_cast<MutationKind>(k), spec, g.view())) out.emplace_back(mutationName(static_cast<MutationKind>(k)));
              return out;
          },
          py::arg("genome"), py::arg("spec"), "Names of the mutation operators that can change the genome.");
    m.def("point_mutation", [](const Genome &g, const SpaceSpec &s, Rng &r) { return applyOperator(pointMutation, g, s, r); },
          py::arg("genome"), py::arg("spec"), py::arg("rng"),
          "Copy with one field of one gene set to a different value (gene, field and value uniform).");
    m.def("insert_gene", [](const Genome &g, const SpaceSpec &s, Rng &r) { return applyOperator(insertGene, g, s, r); },
          py::arg("genome"), py::arg("spec"), py::arg("rng"),
          "Copy with a random gene inserted at a uniform position (each allowed skip with probability 0.25).");
    m.def("delete_gene", [](const Genome &g, const SpaceSpec &s, Rng &r) { return applyOperator(deleteGene, g, s, r); },
          py::arg("genome"), py::arg("spec"), py::arg("rng"),
          "Copy with a uniformly chosen gene removed; later genes keep their relative skips, invalid ones cleared.");
    m.def("add_skip", [](const Genome &g, const SpaceSpec &s, Rng &r) { return applyOperator(addSkip, g, s, r); },
          py::arg("genome"), py::arg("spec"), py::arg("rng"), "Copy with one clear allowed skip set.");
    m.def("remove_skip", [](const Genome &g, const SpaceSpec &s, Rng &r) { return applyOperator(removeSkip, g, s, r); },
          py::arg("genome"), py::arg("spec"), py::arg("rng"), "Copy with one set skip cleared.");
    m.def("move_skip", [](const Genome &g, const SpaceSpec &s, Rng &r) { return applyOperator(moveSkip, g, s, r); },
          py::arg("genome"), py::arg("spec"), py::arg("rng"),
          "Copy with one skip of a gene rewired to another free allowed offset of the same gene.");

    m.def("crossover",
          [](const Genome &a, const Genome &b, const SpaceSpec &spec, Rng &rng, py::object kind) {
              const CrossoverKind k = toCrossoverKind(kind);
              checkGenome(spec, a, "parent a");
              checkGenome(spec, b, "parent b");
              return crossover(spec, a, b, k, rng);
          },
          py::arg("a"), py::arg("b"), py::arg("spec"), py::arg("rng"), py::arg("kind"),
          "One child of parents a and b; kind is 'one_point', 'two_point', 'uniform' or 'aligned'.");

    m.def("edit_distance",
          [](const Genome &a, const Genome &b, const SpaceSpec &spec) {
              checkGenome(spec, a, "genome a");
              checkGenome(spec, b, "genome b");
              return editDistance(spec, a, b);
          },
          py::arg("a"), py::arg("b"), py::arg("spec"),
          "Weighted edit distance: indel_cost per inserted or deleted gene, the spec's substitution cost per changed gene.");
    m.def("alignment",
          [](const Genome &a, const Genome &b, const SpaceSpec &spec) {
              checkGenome(spec, a, "genome a");
              checkGenome(spec, b, "genome b");
              return alignment(spec, a, b);
          },
          py::arg("a"), py::arg("b"), py::arg("spec"),
          "An optimal alignment as (i, j) pairs; -1 marks a gap (a gene of the other genome inserted or deleted).");
}

void bindPopulation(py::module_ &m) {
    py::class_<Population>(m, "Population",
                           "Genomes of one SpaceSpec kept in C++ memory, with parallel batch operators. Child k of a "
                           "batch draws from Rng.for_stream(seed, k), so results do not depend on threads.")
        .def(py::init([](const SpaceSpec &spec, std::vector<Genome> genomes) {
                 return Population(spec, std::move(genomes));
             }),
             py::arg("spec"), py::arg("genomes") = std::vector<Genome>{})
        .def_property_readonly("spec", &Population::spec)
        .def("size", &Population::size)
        .def("__len__", &Population::size)
        .def("get",
             [](const Population &p, py::object index) {
                 return p.get(static_cast<size_t>(toInt(index, "index", 0, INT64_MAX, true)));
             },
             py::arg("i"), "A copy of genome i as a Python Genome.")
        .def("__getitem__",
             [](const Population &p, py::object index) {
                 int64_t i = toInt(index, "index", INT64_MIN, INT64_MAX, true);
                 if (i < 0) i += static_cast<int64_t>(p.size());
                 if (i < 0) throw py::index_error("index " + shown(index) + " out of range for " + std::to_string(p.size()) + " genomes");
                 return p.get(static_cast<size_t>(i));
             })
        .def("__iter__",
             [](py::object self) {
                 // Lazy copies through get(i): safe even if genomes are added while iterating.
                 auto builtins = py::module_::import("builtins");
                 return builtins.attr("iter")(builtins.attr("map")(self.attr("get"),
                                                                   builtins.attr("range")(py::len(self))));
             })
        .def("add", &Population::add, py::arg("genome"), "Append a genome (validated against the spec).")
        .def("extend", &Population::extend, py::arg("other"), "Append every genome of another population of the same spec.")
        .def("texts", &Population::texts, "Canonical texts of the genomes.")
        .def("hashes", [](const Population &p) { return toArray(p.hashes()); }, "Stable hashes as a uint64 array.")
        .def("lengths",
             [](const Population &p) {
                 const auto l = p.lengths();
                 return toArray(std::vector<int64_t>(l.begin(), l.end()));
             },
             "Numbers of genes as an int64 array.")
        .def_static("random",
                    [](const SpaceSpec &spec, py::object n, py::object seed, py::object threads, double skipProbability) {
                        const auto count = static_cast<size_t>(toInt(n, "n", 0, static_cast<int64_t>(Population::kMaxSize)));
                        const uint64_t s = toU64(seed, "seed");
                        const int t = toThreads(threads);
                        py::gil_scoped_release release;
                        return Population::random(spec, count, s, t, skipProbability);
                    },
                    py::arg("spec"), py::arg("n"), py::arg("seed"), py::arg("threads") = 0,
                    py::arg("skip_probability") = 0.25,
                    "n random genomes; genome k is random_genome(spec, Rng.for_stream(seed, k), skip_probability).")
        .def("subset",
             [](const Population &p, py::object indices) { return p.subset(toIndices(indices, "index")); },
             py::arg("indices"), "The genomes at the given indices, in order, as a new population.")
        .def("mutate",
             [](const Population &p, py::object parents, py::object seed, const MutationWeights &weights,
                py::object threads) {
                 const auto idx = toIndices(parents, "parent index");
                 const uint64_t s = toU64(seed, "seed");
                 const int t = toThreads(threads);
                 Population::ReadGuard guard(p);
                 py::gil_scoped_release release;
                 return p.mutate(idx, s, weights, t);
             },
             py::arg("parent_indices"), py::arg("seed"), py::arg("weights") = MutationWeights{}, py::arg("threads") = 0,
             "Child k = mutate(self[parent_indices[k]], spec, Rng.for_stream(seed, k), weights).")
        .def("crossover",
             [](const Population &p, py::object idxA, py::object idxB, py::object kind, py::object seed,
                py::object threads) {
                 const auto a = toIndices(idxA, "first parent index");
                 const auto b = toIndices(idxB, "second parent index");
                 const CrossoverKind k = toCrossoverKind(kind);
                 const uint64_t s = toU64(seed, "seed");
                 const int t = toThreads(threads);
                 Population::ReadGuard guard(p);
                 py::gil_scoped_release release;
                 return p.crossover(a, b, k, s, t);
             },
             py::arg("idx_a"), py::arg("idx_b"), py::arg("kind"), py::arg("seed"), py::arg("threads") = 0,
             "Child k = crossover(self[idx_a[k]], self[idx_b[k]], spec, Rng.for_stream(seed, k), kind).")
        .def("distance_matrix",
             [](const Population &p, const Population *other, py::object threads) {
                 const int t = toThreads(threads);
                 const Population &o = other ? *other : p;
                 if (other && !(other->spec() == p.spec()))
                     throw py::value_error("other population has a different spec: " + other->spec().describe() +
                                           ", this one has " + p.spec().describe());
                 py::array_t<double> out({p.size(), o.size()});
                 double *data = out.mutable_data();
                 Population::ReadGuard g1(p), g2(o);
                 {
                     py::gil_scoped_release release;
                     if (other) p.distanceMatrix(o, data, t);
                     else p.selfDistanceMatrix(data, t);
                 }
                 return out;
             },
             py::arg("other") = nullptr, py::arg("threads") = 0,
             "Edit distances as a float64 array of shape (len(self), len(other)); other=None gives the symmetric "
             "self matrix (only the upper triangle is computed).")
        .def("distances_to",
             [](const Population &p, const Genome &g, py::object threads) {
                 const int t = toThreads(threads);
                 checkGenome(p.spec(), g, "genome");
                 py::array_t<double> out(static_cast<py::ssize_t>(p.size()));
                 double *data = out.mutable_data();
                 Population::ReadGuard guard(p);
                 {
                     py::gil_scoped_release release;
                     p.distancesTo(g, data, t);
                 }
                 return out;
             },
             py::arg("genome"), py::arg("threads") = 0, "Edit distances from every genome to `genome` (float64 array).")
        .def("__repr__", [](const Population &p) {
            return "Population(" + std::to_string(p.size()) + " genomes, " + p.spec().describe() + ")";
        });
}

}  // namespace

}  // namespace nasaccel::bindings
