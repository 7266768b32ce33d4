#pragma once
// Label-count features of genomes: Weisfeiler-Lehman subtree features of a genome's graph (Shervashidze
// et al., JMLR 2011) and the histogram of its gene values.
//
// The graph of a chain genome: node 0 is the network input (a label of its own); gene i is node i+1,
// labelled by its field values, with an edge from node i (the chain) and one from node i-b-1 for every
// skip bit b. The graph of a cell genome (SpaceSpec::cellGraph), with operations on nodes as in NAS-BOWL
// (Ru et al., ICLR 2021): the cell's input and output are two nodes with labels of their own, every
// gene that is not a zero operation is a node labelled by its field values, and an edge joins the input
// to each operation leaving cell node 0, an operation entering cell node v to each operation leaving v,
// and each operation entering the last cell node to the output. Operations on no path from the input to
// the output do not change what the cell computes, so they are left out: cells that compute the same
// function through isomorphic graphs get identical features.
//
// Each iteration relabels a node by hashing its label with the sorted labels of its predecessors and,
// separately, of its successors. The feature vector counts every label of iterations 0..h; the kernel
// is the inner product of two such vectors, normalised to 1 on the diagonal, which keeps it positive
// semi-definite.
//
// The histogram of a genome counts, position-free, each value of each field over its genes and, for a
// chain, each skip offset (a skip bit b of any gene): what a genome is made of, wherever it sits. A move
// that changes one gene's value changes two counts, so genomes that share most of their parts stay
// similar under it even when the parts sit at other positions (which the edit distance charges for).
#include <cstdint>
#include <utility>
#include <vector>

#include "genome/genome.h"
#include "genome/spec.h"

namespace nasaccel {

// Sorted (label, count) pairs.
using LabelCounts = std::vector<std::pair<uint64_t, double>>;

// The WL features of g read as a chain (cell null or empty) or as the cell graph *cell.
LabelCounts wlFeatures(const GenomeView &g, int iterations, const CellGraph *cell = nullptr);
// The histogram of g's gene values (and skip offsets).
LabelCounts histogramFeatures(const GenomeView &g);
double labelDot(const LabelCounts &a, const LabelCounts &b);

}  // namespace nasaccel
