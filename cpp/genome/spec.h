#pragma once
// SpaceSpec: what a genome of a search space may hold. A genome is a sequence of genes;
// every gene has the same named integer fields, each with its own domain {0, ..., size-1}.
// Genes may also take skip inputs from earlier nodes (see Genome for the numbering).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nasaccel {

class Genome;

struct Field {
    std::string name;
    int32_t size = 1;      // domain {0, ..., size-1}
    bool ordinal = false;  // ordinal: substitution cost grows with |a-b|; categorical: any change costs the same
    double cost = 1.0;     // weight of a change of this field in the edit distance (> 0)
};

// The genome read as a cell (as NAS-Bench-201's): gene i is the operation on edge edges[i] = (from, to)
// of a DAG over numNodes nodes, node 0 the cell's input and node numNodes-1 its output. A gene whose
// field zeroField holds zeroValue is a zero operation: no edge at all. Without a cell graph (numNodes
// 0) a genome reads as a chain of nodes with skips (see Genome). Graph kernels (gp/wl.h) use it.
struct CellGraph {
    int numNodes = 0;
    std::vector<std::pair<int, int>> edges;
    int zeroField = -1;  // -1: no zero operation
    int32_t zeroValue = -1;
    bool empty() const { return numNodes == 0; }
    bool operator==(const CellGraph &o) const {
        return numNodes == o.numNodes && edges == o.edges && zeroField == o.zeroField && zeroValue == o.zeroValue;
    }
};

class SpaceSpec {
public:
    // maxSkipOffset = 0 forbids skips; k > 0 lets gene i take extra inputs from nodes i-1 .. i-k.
    // indelCost < 0 means the default: the sum of the field costs (the largest field substitution).
    SpaceSpec(std::vector<Field> fields, int64_t minGenes, int64_t maxGenes, int64_t maxSkipOffset = 0,
              double skipCost = 1.0, double indelCost = -1.0);

    size_t numFields() const { return fields_.size(); }
    const std::vector<Field> &fields() const { return fields_; }
    const Field &field(size_t f) const;
    size_t fieldIndex(const std::string &name) const;  // throws std::invalid_argument if unknown
    size_t minGenes() const { return minGenes_; }
    size_t maxGenes() const { return maxGenes_; }
    bool fixedLength() const { return minGenes_ == maxGenes_; }
    bool allowsSkips() const { return maxSkipOffset_ > 0; }
    int maxSkipOffset() const { return maxSkipOffset_; }
    double skipCost() const { return skipCost_; }
    double indelCost() const { return indelCost_; }

    // Bits of the skip mask that gene `gene` may set (bit b = input from node gene-1-b).
    uint64_t allowedSkipMask(size_t gene) const;

    // Cost of substituting field value a by b (0 when equal).
    double fieldCost(size_t f, int32_t a, int32_t b) const;
    // Cost of substituting one gene by another: the field costs plus skipCost per differing skip bit.
    double substitutionCost(const int32_t *a, uint64_t skipsA, const int32_t *b, uint64_t skipsB) const;

    // Number of distinct genomes, or -1 when it exceeds 2^62 (used by exhaustive enumeration).
    int64_t cardinality() const;

    // Empty string when valid; otherwise a message naming the gene, field and value at fault.
    std::string check(const Genome &g) const;
    void validate(const Genome &g) const;  // throws std::invalid_argument with check()'s message
    bool isValid(const Genome &g) const { return check(g).empty(); }

    // A copy of this spec whose genomes read as the cell graph g; std::invalid_argument naming the bad
    // edge or value unless the spec has fixed-length genomes of one gene per edge and no skips.
    SpaceSpec withCellGraph(CellGraph g) const;
    bool hasCellGraph() const { return !cell_.empty(); }
    const CellGraph &cellGraph() const { return cell_; }

    std::string describe() const;
    bool operator==(const SpaceSpec &o) const;

private:
    std::vector<Field> fields_;
    size_t minGenes_, maxGenes_;
    int maxSkipOffset_;
    double skipCost_, indelCost_;
    CellGraph cell_;
};

}  // namespace nasaccel
