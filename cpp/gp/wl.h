#pragma once
// Weisfeiler-Lehman subtree features of a genome's graph (Shervashidze et al., JMLR 2011).
//
// The graph: node 0 is the network input (a label of its own); gene i is node i+1, labelled by its
// field values, with an edge from node i (the chain) and one from node i-b-1 for every skip bit b.
// Each iteration relabels a node by hashing its label with the sorted labels of its predecessors and,
// separately, of its successors. The feature vector counts every label of iterations 0..h; the kernel
// is the inner product of two such vectors, normalised to 1 on the diagonal, which keeps it positive
// semi-definite.
#include <cstdint>
#include <utility>
#include <vector>

#include "genome/genome.h"

namespace nasaccel {

// Sorted (label, count) pairs.
using WLFeatures = std::vector<std::pair<uint64_t, double>>;

WLFeatures wlFeatures(const GenomeView &g, int iterations);
double wlDot(const WLFeatures &a, const WLFeatures &b);

}  // namespace nasaccel
