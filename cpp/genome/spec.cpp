#include "genome/spec.h"

#include <cmath>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "common/bits.h"
#include "genome/genome.h"

namespace nasaccel {

namespace {
constexpr int64_t kMaxGenesLimit = 1 << 20;  // a sane ceiling that keeps every loop bounded
constexpr int32_t kMaxFieldSize = 1 << 24;
}  // namespace

SpaceSpec::SpaceSpec(std::vector<Field> fields, int64_t minGenes, int64_t maxGenes, int64_t maxSkipOffset,
                     double skipCost, double indelCost)
    : fields_(std::move(fields)) {
    if (fields_.empty()) throw std::invalid_argument("SpaceSpec needs at least one field, got none");
    std::set<std::string> names;
    double costSum = 0.0;
    for (const auto &f : fields_) {
        if (f.name.empty()) throw std::invalid_argument("SpaceSpec field names must not be empty");
        if (!names.insert(f.name).second)
            throw std::invalid_argument("SpaceSpec field name '" + f.name + "' appears twice");
        if (f.size < 1 || f.size > kMaxFieldSize)
            throw std::invalid_argument("SpaceSpec field '" + f.name + "' has size " + std::to_string(f.size) +
                                        ", expected 1.." + std::to_string(kMaxFieldSize));
        if (!(f.cost > 0.0) || !std::isfinite(f.cost)) {
            std::ostringstream os;
            os << "SpaceSpec field '" << f.name << "' has cost " << f.cost << ", expected a finite value > 0";
            throw std::invalid_argument(os.str());
        }
        costSum += f.cost;
    }
    if (minGenes < 0 || maxGenes < minGenes || maxGenes < 1 || maxGenes > kMaxGenesLimit)
        throw std::invalid_argument("SpaceSpec gene bounds [" + std::to_string(minGenes) + ", " +
                                    std::to_string(maxGenes) + "] are invalid: need 0 <= min <= max, 1 <= max <= " +
                                    std::to_string(kMaxGenesLimit));
    if (maxSkipOffset < 0 || maxSkipOffset > 64)
        throw std::invalid_argument("SpaceSpec max_skip_offset " + std::to_string(maxSkipOffset) +
                                    " is out of range [0, 64]");
    if (!(skipCost > 0.0) || !std::isfinite(skipCost)) {
        std::ostringstream os;
        os << "SpaceSpec skip_cost " << skipCost << " must be finite and > 0";
        throw std::invalid_argument(os.str());
    }
    if (indelCost < 0.0 && std::isfinite(indelCost)) indelCost = costSum;
    if (!(indelCost > 0.0) || !std::isfinite(indelCost)) {
        std::ostringstream os;
        os << "SpaceSpec indel_cost " << indelCost << " must be finite and > 0 (or negative for the default)";
        throw std::invalid_argument(os.str());
    }
    minGenes_ = static_cast<size_t>(minGenes);
    maxGenes_ = static_cast<size_t>(maxGenes);
    maxSkipOffset_ = static_cast<int>(maxSkipOffset);
    skipCost_ = skipCost;
    indelCost_ = indelCost;
}

const Field &SpaceSpec::field(size_t f) const {
    if (f >= fields_.size())
        throw std::out_of_range("field index " + std::to_string(f) + " out of range [0, " +
                                std::to_string(fields_.size()) + ")");
    return fields_[f];
}

size_t SpaceSpec::fieldIndex(const std::string &name) const {
    for (size_t i = 0; i < fields_.size(); ++i)
        if (fields_[i].name == name) return i;
    throw std::invalid_argument("unknown field '" + name + "'");
}

uint64_t SpaceSpec::allowedSkipMask(size_t gene) const {
    // Gene i may read nodes i-1 .. i-maxSkipOffset that exist (node 0 is the input).
    const size_t reach = std::min<size_t>(gene, static_cast<size_t>(maxSkipOffset_));
    if (reach == 0) return 0;
    return reach >= 64 ? ~uint64_t(0) : ((uint64_t(1) << reach) - 1);
}

double SpaceSpec::fieldCost(size_t f, int32_t a, int32_t b) const {
    if (a == b) return 0.0;
    const Field &fd = fields_[f];
    if (!fd.ordinal || fd.size <= 1) return fd.cost;
    const double d = std::abs(static_cast<double>(a) - static_cast<double>(b));
    return fd.cost * d / static_cast<double>(fd.size - 1);
}

double SpaceSpec::substitutionCost(const int32_t *a, uint64_t skipsA, const int32_t *b, uint64_t skipsB) const {
    double c = 0.0;
    for (size_t f = 0; f < fields_.size(); ++f) c += fieldCost(f, a[f], b[f]);
    const uint64_t diff = skipsA ^ skipsB;
    if (diff) c += skipCost_ * static_cast<double>(popcount64(diff));
    return c;
}

int64_t SpaceSpec::cardinality() const {
    // Sum over lengths L of prod over genes i < L of (prod of field sizes) * 2^(allowed skip bits of i),
    // in exact integers; -1 as soon as anything passes 2^62.
    constexpr uint64_t kLimit = uint64_t(1) << 62;
    auto mulChecked = [&](uint64_t a, uint64_t b, uint64_t &out) {
        if (a != 0 && b > kLimit / a) return false;
        out = a * b;
        return out <= kLimit;
    };
    uint64_t perGene = 1;
    for (const auto &f : fields_)
        if (!mulChecked(perGene, static_cast<uint64_t>(f.size), perGene)) return -1;
    uint64_t total = 0, count = 1;
    for (size_t len = 0; len <= maxGenes_; ++len) {
        if (len >= minGenes_) {
            total += count;
            if (total > kLimit) return -1;
        }
        if (len == maxGenes_) break;
        const int bits = popcount64(allowedSkipMask(len));
        if (bits >= 62) return -1;
        uint64_t geneCount;
        if (!mulChecked(perGene, uint64_t(1) << bits, geneCount) || !mulChecked(count, geneCount, count)) return -1;
    }
    return static_cast<int64_t>(total);
}

std::string SpaceSpec::check(const Genome &g) const {
    const size_t n = g.numGenes();
    if (n < minGenes_ || n > maxGenes_)
        return "genome has " + std::to_string(n) + " genes, expected " + std::to_string(minGenes_) + ".." +
               std::to_string(maxGenes_);
    if (n > 0 && g.numFields() != fields_.size())
        return "genome has " + std::to_string(g.numFields()) + " fields per gene, expected " +
               std::to_string(fields_.size());
    for (size_t i = 0; i < n; ++i) {
        const int32_t *gene = g.gene(i);
        for (size_t f = 0; f < fields_.size(); ++f)
            if (gene[f] < 0 || gene[f] >= fields_[f].size)
                return "gene " + std::to_string(i) + " field '" + fields_[f].name + "' has value " +
                       std::to_string(gene[f]) + ", outside [0, " + std::to_string(fields_[f].size) + ")";
        const uint64_t bad = g.skips(i) & ~allowedSkipMask(i);
        if (bad) {
            const int offset = lowestBit(bad) + 1;
            return "gene " + std::to_string(i) + " has skip offset " + std::to_string(offset) +
                   (maxSkipOffset_ == 0 ? std::string(", but this space allows no skips")
                                        : ", allowed 1.." + std::to_string(std::min<size_t>(i, maxSkipOffset_)));
        }
    }
    return {};
}

void SpaceSpec::validate(const Genome &g) const {
    const std::string msg = check(g);
    if (!msg.empty()) throw std::invalid_argument("invalid genome '" + g.toText() + "': " + msg);
}

std::string SpaceSpec::describe() const {
    std::ostringstream os;
    os << "SpaceSpec(fields=[";
    for (size_t i = 0; i < fields_.size(); ++i) {
        const auto &f = fields_[i];
        os << (i ? ", " : "") << f.name << ":" << f.size << (f.ordinal ? " ordinal" : " categorical")
           << " cost=" << f.cost;
    }
    os << "], genes=" << minGenes_ << ".." << maxGenes_ << ", max_skip_offset=" << maxSkipOffset_
       << ", skip_cost=" << skipCost_ << ", indel_cost=" << indelCost_;
    if (hasCellGraph()) {
        os << ", cell_graph=(nodes=" << cell_.numNodes << ", edges=[";
        for (size_t e = 0; e < cell_.edges.size(); ++e)
            os << (e ? ", " : "") << cell_.edges[e].first << "->" << cell_.edges[e].second;
        os << "]";
        if (cell_.zeroField >= 0) os << ", zero=" << fields_[cell_.zeroField].name << ":" << cell_.zeroValue;
        os << ")";
    }
    os << ")";
    return os.str();
}

bool SpaceSpec::operator==(const SpaceSpec &o) const {
    if (fields_.size() != o.fields_.size()) return false;
    for (size_t i = 0; i < fields_.size(); ++i) {
        const auto &a = fields_[i], &b = o.fields_[i];
        if (a.name != b.name || a.size != b.size || a.ordinal != b.ordinal || a.cost != b.cost) return false;
    }
    return minGenes_ == o.minGenes_ && maxGenes_ == o.maxGenes_ && maxSkipOffset_ == o.maxSkipOffset_ &&
           skipCost_ == o.skipCost_ && indelCost_ == o.indelCost_ && cell_ == o.cell_;
}

SpaceSpec SpaceSpec::withCellGraph(CellGraph g) const {
    if (g.numNodes < 2 || g.numNodes > 64)
        throw std::invalid_argument("a cell graph needs 2..64 nodes, got " + std::to_string(g.numNodes));
    if (!fixedLength() || g.edges.size() != maxGenes_)
        throw std::invalid_argument("a cell graph needs one gene per edge: " + std::to_string(g.edges.size()) +
                                    " edges for genomes of " + std::to_string(minGenes_) + ".." +
                                    std::to_string(maxGenes_) + " genes");
    if (maxSkipOffset_ != 0)
        throw std::invalid_argument("a cell graph's genes are its edges: the spec must allow no skips, it allows "
                                    "offsets up to " + std::to_string(maxSkipOffset_));
    for (size_t e = 0; e < g.edges.size(); ++e) {
        const auto [from, to] = g.edges[e];
        if (from < 0 || to >= g.numNodes || from >= to)
            throw std::invalid_argument("cell edge " + std::to_string(e) + " (" + std::to_string(from) + " -> " +
                                        std::to_string(to) + ") must satisfy 0 <= from < to < " +
                                        std::to_string(g.numNodes));
    }
    if (g.zeroField < -1 || g.zeroField >= static_cast<int>(fields_.size()))
        throw std::invalid_argument("cell graph zero field " + std::to_string(g.zeroField) + " is out of range [-1, " +
                                    std::to_string(fields_.size()) + ")");
    if (g.zeroField >= 0 && (g.zeroValue < 0 || g.zeroValue >= fields_[g.zeroField].size))
        throw std::invalid_argument("cell graph zero value " + std::to_string(g.zeroValue) + " is outside field '" +
                                    fields_[g.zeroField].name + "' [0, " +
                                    std::to_string(fields_[g.zeroField].size) + ")");
    if (g.zeroField < 0) g.zeroValue = -1;
    SpaceSpec out = *this;
    out.cell_ = std::move(g);
    return out;
}

}  // namespace nasaccel
