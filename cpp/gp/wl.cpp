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
constexpr uint64_t kPredSep = 0x2545F4914F6CDD1DULL;
constexpr uint64_t kSuccSep = 0x9FB21C651E98DF25ULL;

}  // namespace

WLFeatures wlFeatures(const GenomeView &g, int iterations) {
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
    std::vector<uint64_t> label(n), next(n), scratch;
    label[0] = kInputLabel;
    for (size_t i = 0; i < g.numGenes; ++i) {
        uint64_t h = mix(g.numFields);
        const int32_t *f = g.gene(i);
        for (size_t k = 0; k < g.numFields; ++k) h = combine(h, static_cast<uint64_t>(static_cast<uint32_t>(f[k])));
        label[i + 1] = h;
    }
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
    std::sort(all.begin(), all.end());
    WLFeatures out;
    for (size_t i = 0; i < all.size();) {
        size_t j = i;
        while (j < all.size() && all[j] == all[i]) ++j;
        out.emplace_back(all[i], static_cast<double>(j - i));
        i = j;
    }
    return out;
}

double wlDot(const WLFeatures &a, const WLFeatures &b) {
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
