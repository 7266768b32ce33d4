#include "gp/wl.h"

#include <algorithm>

namespace nasaccel {

namespace {

inline uint64_t mix(uint64_t x) {
    // splitmix64 finaliser: a fixed, platform-independent hash, so features agree across runs.
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

inline uint64_t combine(uint64_t h, uint64_t v) { return mix(h ^ (v + 0x632BE59BD9B4E019ULL + (h << 6) + (h >> 2))); }

constexpr uint64_t kInputLabel = 0x1D8E4E27C47D124FULL;
constexpr uint64_t kOutputLabel = 0x6A09E667F3BCC909ULL;
constexpr uint64_t kPredSep = 0x2545F4914F6CDD1DULL;
constexpr uint64_t kSuccSep = 0x9FB21C651E98DF25ULL;
constexpr uint64_t kSkipLabel = 0x3C6EF372FE94F82BULL;

}  // namespace

namespace {

// The sorted (label, count) pairs of a bag of labels.
LabelCounts countLabels(std::vector<uint64_t> all) {
    std::sort(all.begin(), all.end());
    LabelCounts out;
    for (size_t i = 0; i < all.size();) {
        size_t j = i;
        while (j < all.size() && all[j] == all[i]) ++j;
        out.emplace_back(all[i], static_cast<double>(j - i));
        i = j;
    }
    return out;
}

uint64_t geneLabel(const GenomeView &g, size_t i) {
    uint64_t h = mix(g.numFields);
    const int32_t *f = g.gene(i);
    for (size_t k = 0; k < g.numFields; ++k) h = combine(h, static_cast<uint64_t>(static_cast<uint32_t>(f[k])));
    return h;
}

// WL relabelling of a graph given by its initial labels and adjacency lists; the sorted label counts.
LabelCounts refine(std::vector<uint64_t> label, const std::vector<std::vector<uint32_t>> &pred,
                  const std::vector<std::vector<uint32_t>> &succ, int iterations) {
    const size_t n = label.size();
    std::vector<uint64_t> next(n), scratch;
    std::vector<uint64_t> all;
    all.reserve(n * static_cast<size_t>(iterations + 1));
    all.insert(all.end(), label.begin(), label.end());
    for (int it = 0; it < iterations; ++it) {
        for (size_t v = 0; v < n; ++v) {
            uint64_t h = combine(label[v], static_cast<uint64_t>(it + 1));
            scratch.clear();
            for (uint32_t u : pred[v]) scratch.push_back(label[u]);
            std::sort(scratch.begin(), scratch.end());
            h = combine(h, kPredSep);
            for (uint64_t s : scratch) h = combine(h, s);
            scratch.clear();
            for (uint32_t u : succ[v]) scratch.push_back(label[u]);
            std::sort(scratch.begin(), scratch.end());
            h = combine(h, kSuccSep);
            for (uint64_t s : scratch) h = combine(h, s);
            next[v] = h;
        }
        label.swap(next);
        all.insert(all.end(), label.begin(), label.end());
    }
    return countLabels(std::move(all));
}

LabelCounts chainFeatures(const GenomeView &g, int iterations) {
    const size_t n = g.numGenes + 1;
    std::vector<std::vector<uint32_t>> pred(n), succ(n);
    for (size_t i = 0; i < g.numGenes; ++i) {
        const size_t node = i + 1;
        pred[node].push_back(static_cast<uint32_t>(i));
        succ[i].push_back(static_cast<uint32_t>(node));
        uint64_t m = g.skips[i];
        for (int b = 0; m != 0 && b < 64; ++b, m >>= 1) {
            // Bit b of gene i reads node i-1-b; bits reaching before the input are ignored.
            if ((m & 1) && i >= static_cast<size_t>(b) + 1) {
                const size_t from = i - 1 - static_cast<size_t>(b);
                pred[node].push_back(static_cast<uint32_t>(from));
                succ[from].push_back(static_cast<uint32_t>(node));
            }
        }
    }
    std::vector<uint64_t> label(n);
    label[0] = kInputLabel;
    for (size_t i = 0; i < g.numGenes; ++i) label[i + 1] = geneLabel(g, i);
    return refine(std::move(label), pred, succ, iterations);
}

LabelCounts cellFeatures(const GenomeView &g, int iterations, const CellGraph &cell) {
    const size_t ne = std::min(g.numGenes, cell.edges.size());
    std::vector<char> live(ne, 0);
    for (size_t e = 0; e < ne; ++e)
        live[e] = !(cell.zeroField >= 0 && g.gene(e)[cell.zeroField] == cell.zeroValue);
    // Cell nodes reachable from the input and reaching the output through live edges; edges are (from < to),
    // so one pass in order of the node numbers settles each direction.
    const int last = cell.numNodes - 1;
    std::vector<char> fromIn(static_cast<size_t>(cell.numNodes), 0), toOut(static_cast<size_t>(cell.numNodes), 0);
    fromIn[0] = 1;
    toOut[static_cast<size_t>(last)] = 1;
    for (int v = 1; v < cell.numNodes; ++v)
        for (size_t e = 0; e < ne; ++e)
            if (live[e] && cell.edges[e].second == v && fromIn[static_cast<size_t>(cell.edges[e].first)]) fromIn[v] = 1;
    for (int v = last - 1; v >= 0; --v)
        for (size_t e = 0; e < ne; ++e)
            if (live[e] && cell.edges[e].first == v && toOut[static_cast<size_t>(cell.edges[e].second)]) toOut[v] = 1;
    // Graph nodes: 0 the input, 1 the output, then the operations on some input-to-output path.
    std::vector<uint32_t> node(ne, 0);
    std::vector<uint64_t> label{kInputLabel, kOutputLabel};
    std::vector<size_t> ops;
    for (size_t e = 0; e < ne; ++e) {
        const auto [from, to] = cell.edges[e];
        if (live[e] && fromIn[static_cast<size_t>(from)] && toOut[static_cast<size_t>(to)]) {
            node[e] = static_cast<uint32_t>(label.size());
            label.push_back(geneLabel(g, e));
            ops.push_back(e);
        }
    }
    const size_t n = label.size();
    std::vector<std::vector<uint32_t>> pred(n), succ(n);
    auto link = [&](uint32_t a, uint32_t b) {
        succ[a].push_back(b);
        pred[b].push_back(a);
    };
    for (size_t e : ops) {
        const auto [from, to] = cell.edges[e];
        if (from == 0) link(0, node[e]);
        if (to == last) link(node[e], 1);
        for (size_t f : ops)
            if (cell.edges[f].first == to) link(node[e], node[f]);
    }
    return refine(std::move(label), pred, succ, iterations);
}

}  // namespace

LabelCounts wlFeatures(const GenomeView &g, int iterations, const CellGraph *cell) {
    if (cell != nullptr && !cell->empty()) return cellFeatures(g, iterations, *cell);
    return chainFeatures(g, iterations);
}

LabelCounts histogramFeatures(const GenomeView &g) {
    std::vector<uint64_t> all;
    all.reserve(g.numGenes * (g.numFields + 1));
    for (size_t i = 0; i < g.numGenes; ++i) {
        const int32_t *f = g.gene(i);
        for (size_t k = 0; k < g.numFields; ++k)
            all.push_back(combine(mix(k), static_cast<uint64_t>(static_cast<uint32_t>(f[k]))));
        uint64_t m = g.skips != nullptr ? g.skips[i] : 0;
        for (uint64_t b = 0; m != 0 && b < 64; ++b, m >>= 1)
            if (m & 1) all.push_back(combine(kSkipLabel, b));
    }
    return countLabels(std::move(all));
}

double labelDot(const LabelCounts &a, const LabelCounts &b) {
    double s = 0.0;
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        if (a[i].first < b[j].first) ++i;
        else if (b[j].first < a[i].first) ++j;
        else s += a[i++].second * b[j++].second;
    }
    return s;
}

}  // namespace nasaccel
