#include "genome/distance.h"

#include <algorithm>
#include <cstddef>
#include <limits>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "common/bits.h"
#include "common/parallel.h"

namespace nasaccel {

namespace {

// A dense table of K*K doubles pays off when K is small next to the number of DP cells; beyond
// this many distinct field tuples (8 MiB of table) the costs are computed directly instead.
constexpr size_t kMaxInterned = 1024;
// Skip masks below 2^kSkipTableBits look their skip cost up in a table (no popcount in the loop).
constexpr int kSkipTableBits = 8;

void checkFields(const SpaceSpec &spec, const GenomeView &g, const char *which) {
    if (g.numGenes > 0 && g.numFields != spec.numFields())
        throw std::invalid_argument(std::string("genome ") + which + " has " + std::to_string(g.numFields) +
                                    " fields per gene, the spec has " + std::to_string(spec.numFields()));
}

// The one cell update every entry point uses, so that all of them agree to the last bit.
inline double cell(double diag, double sub, double up, double left, double indel) {
    const double x = std::min(diag + sub, up + indel);
    return std::min(x, left + indel);
}

// Rolling single-row DP. Cost must provide row(i) (prepare for gene i of a) and sub(j) (cost of
// substituting that gene by gene j of b). row must hold nb + 1 doubles.
template <class Cost>
inline double rollingDp(size_t na, size_t nb, double indel, Cost &cost, double *row) {
    for (size_t j = 0; j <= nb; ++j) row[j] = static_cast<double>(j) * indel;
    for (size_t i = 1; i <= na; ++i) {
        cost.row(i - 1);
        double diag = row[0];
        double left = static_cast<double>(i) * indel;
        row[0] = left;
        for (size_t j = 1; j <= nb; ++j) {
            const double up = row[j];
            const double v = cell(diag, cost.sub(j - 1), up, left, indel);
            diag = up;
            row[j] = v;
            left = v;
        }
    }
    return row[nb];
}

// Costs computed from the genes themselves.
struct DirectCost {
    const SpaceSpec &spec;
    const GenomeView &a, &b;
    const int32_t *ga = nullptr;
    uint64_t ma = 0;
    void row(size_t i) {
        ga = a.gene(i);
        ma = a.skips[i];
    }
    double sub(size_t j) const { return spec.substitutionCost(ga, ma, b.gene(j), b.skips[j]); }
};

// Field tuples of many genomes replaced by small ids, with the field part of the substitution cost
// between every two ids in a dense table.
class InternedCosts {
public:
    InternedCosts(const SpaceSpec &spec, const std::vector<const std::vector<GenomeView> *> &lists,
                  const GenomeView *extra = nullptr)
        : spec_(spec), nf_(spec.numFields()) {
        // A mixed-radix code is a cheap exact key when the domains' product fits in 62 bits.
        radix_ = true;
        uint64_t m = 1;
        for (const auto &f : spec.fields()) {
            mult_.push_back(m);
            if (m > (uint64_t(1) << 62) / static_cast<uint64_t>(f.size)) radix_ = false;
            else m *= static_cast<uint64_t>(f.size);
        }
        for (const auto *list : lists) {
            offsets_.emplace_back();
            auto &off = offsets_.back();
            off.reserve(list->size() + 1);
            off.push_back(ids_.size());
            for (const GenomeView &g : *list) {
                addGenome(g);
                off.push_back(ids_.size());
            }
        }
        if (extra) {
            extraOffset_ = ids_.size();
            addGenome(*extra);
        }
    }

    size_t distinct() const { return reps_.size(); }

    void buildTables() {
        const size_t k = reps_.size();
        table_.assign(k * k, 0.0);
        for (size_t x = 0; x < k; ++x)
            for (size_t y = 0; y < k; ++y) {
                // Summed in field order from 0.0, exactly as SpaceSpec::substitutionCost does.
                double c = 0.0;
                for (size_t f = 0; f < nf_; ++f) c += spec_.fieldCost(f, reps_[x][f], reps_[y][f]);
                table_[x * k + y] = c;
            }
        // Decided from the masks present, not the spec, so unvalidated genomes cannot index past the table.
        smallMasks_ = (maskUnion_ >> kSkipTableBits) == 0;
        skipTable_.assign(size_t(1) << kSkipTableBits, 0.0);
        for (size_t d = 1; d < skipTable_.size(); ++d)
            skipTable_[d] = spec_.skipCost() * static_cast<double>(popcount64(d));
    }

    const uint32_t *ids(size_t list, size_t g) const { return ids_.data() + offsets_[list][g]; }
    const uint32_t *extraIds() const { return ids_.data() + extraOffset_; }
    const double *tableRow(uint32_t id) const { return table_.data() + static_cast<size_t>(id) * reps_.size(); }
    bool smallMasks() const { return smallMasks_; }
    const double *skipTable() const { return skipTable_.data(); }
    double skipCost() const { return spec_.skipCost(); }

private:
    void addGenome(const GenomeView &g) {
        for (size_t i = 0; i < g.numGenes; ++i) {
            ids_.push_back(intern(g.gene(i)));
            maskUnion_ |= g.skips[i];
        }
    }

    uint32_t intern(const int32_t *fields) {
        bool inRange = radix_;
        uint64_t code = 0;
        if (radix_)
            for (size_t f = 0; f < nf_; ++f) {
                if (fields[f] < 0 || fields[f] >= spec_.fields()[f].size) {
                    inRange = false;
                    break;
                }
                code += mult_[f] * static_cast<uint64_t>(fields[f]);
            }
        const uint32_t next = static_cast<uint32_t>(reps_.size());
        bool inserted;
        uint32_t id;
        if (inRange) {
            auto it = codeIds_.emplace(code, next);
            inserted = it.second;
            id = it.first->second;
        } else {
            auto it = textIds_.emplace(std::string(reinterpret_cast<const char *>(fields), nf_ * sizeof(int32_t)), next);
            inserted = it.second;
            id = it.first->second;
        }
        if (inserted) reps_.push_back(fields);
        return id;
    }

    const SpaceSpec &spec_;
    size_t nf_;
    bool radix_ = false, smallMasks_ = false;
    uint64_t maskUnion_ = 0;
    std::vector<uint64_t> mult_;
    std::unordered_map<uint64_t, uint32_t> codeIds_;
    std::unordered_map<std::string, uint32_t> textIds_;
    std::vector<const int32_t *> reps_;  // one gene's fields per id (pointing into the genomes)
    std::vector<uint32_t> ids_;
    std::vector<std::vector<size_t>> offsets_;
    size_t extraOffset_ = 0;
    std::vector<double> table_, skipTable_;
};

template <bool SmallMasks>
struct TableCost {
    const InternedCosts &ic;
    const uint32_t *ia, *ib;
    const uint64_t *ma, *mb;
    const double *tableRow = nullptr;
    uint64_t mask = 0;
    void row(size_t i) {
        tableRow = ic.tableRow(ia[i]);
        mask = ma[i];
    }
    double sub(size_t j) const {
        const uint64_t d = mask ^ mb[j];
        if (SmallMasks) return tableRow[ib[j]] + ic.skipTable()[d];  // adding the 0.0 of d == 0 is exact
        double c = tableRow[ib[j]];
        if (d) c += ic.skipCost() * static_cast<double>(popcount64(d));
        return c;
    }
};

double tableDistance(const InternedCosts &ic, const uint32_t *ia, const GenomeView &a, const uint32_t *ib,
                     const GenomeView &b, double indel, double *row) {
    if (ic.smallMasks()) {
        TableCost<true> c{ic, ia, ib, a.skips, b.skips};
        return rollingDp(a.numGenes, b.numGenes, indel, c, row);
    }
    TableCost<false> c{ic, ia, ib, a.skips, b.skips};
    return rollingDp(a.numGenes, b.numGenes, indel, c, row);
}

// Eight DPs of one genome a against eight genomes b[0..7] run interleaved: each DP is a serial chain of
// add/min latencies along a row, so independent chains keep the core busy while one waits.
// Lanes shorter than the longest are padded; column j only depends on columns <= j, so the padding
// never reaches a lane's own answer. Each lane does exactly the arithmetic of tableDistance.
constexpr size_t kLanes = 8;

struct LaneScratch {
    std::vector<double> row;
    std::vector<uint32_t> ids;
    std::vector<uint64_t> masks;
    explicit LaneScratch(size_t width) : row(width * kLanes), ids(width * kLanes), masks(width * kLanes) {}
};

// Cost of substituting gene i of a (table row trow, mask ma) by gene j of a lane's genome.
template <bool SmallMasks>
inline double laneSub(const InternedCosts &ic, const double *trow, uint64_t ma, uint32_t idb, uint64_t mb) {
    const uint64_t d = ma ^ mb;
    if (SmallMasks) return trow[idb] + ic.skipTable()[d];  // adding the 0.0 of d == 0 is exact
    double c = trow[idb];
    if (d) c += ic.skipCost() * static_cast<double>(popcount64(d));
    return c;
}

// Band of diagonals d = j - i that can hold an optimal path, for a genomes of na and nb genes whose
// distance is at most upper: a path through diagonal d makes at least |d| + |(nb - na) - d| indels.
// The slack absorbs rounding: a path the band drops is worse than the optimum by far more than it.
inline void bandFor(size_t na, size_t nb, double upper, double indel, std::ptrdiff_t &lo, std::ptrdiff_t &hi) {
    const double limit = upper * (1.0 + 1e-9) + 1e-9;
    const auto delta = static_cast<std::ptrdiff_t>(nb) - static_cast<std::ptrdiff_t>(na);
    // |d| + |delta - d| = |delta| inside [min(0, delta), max(0, delta)] and grows by 2 per step outside.
    const double spare = limit / indel - static_cast<double>(delta < 0 ? -delta : delta);
    const auto extra = spare < 0 ? std::ptrdiff_t(0)
                                 : static_cast<std::ptrdiff_t>(std::min(spare / 2.0, double(1 << 30)));
    lo = std::min<std::ptrdiff_t>(0, delta) - extra;
    hi = std::max<std::ptrdiff_t>(0, delta) + extra;
}


#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NASACCEL_AVX2_LANES 1
// The four lanes of a row as one AVX2 vector, chosen at run time so that the build stays portable.
// Same additions and minima in the same order as the portable loop (min of equal values picks either
// bit-identical operand; no value is NaN or -0), so the results are identical to the last bit.
bool haveAvx2() {
    static const bool ok = __builtin_cpu_supports("avx2");
    return ok;
}

__attribute__((target("avx2"))) void bandRowsAvx2(const InternedCosts &ic, const uint32_t *ia, const GenomeView &a,
                                                  size_t nbMax, std::ptrdiff_t dlo, std::ptrdiff_t dhi, double indel,
                                                  const uint32_t *ids, const uint64_t *masks, double *row) {
    static_assert(kLanes == 8, "two AVX2 vectors hold the eight lanes");
    const double *skipTable = ic.skipTable();
    const __m256d vind = _mm256_set1_pd(indel);
    const __m256d vinf = _mm256_set1_pd(std::numeric_limits<double>::infinity());
    const auto ibMax = static_cast<std::ptrdiff_t>(nbMax);
    for (size_t i = 1; i <= a.numGenes; ++i) {
        const auto si = static_cast<std::ptrdiff_t>(i);
        const std::ptrdiff_t jlo = std::max<std::ptrdiff_t>(1, si + dlo), jhi = std::min(ibMax, si + dhi);
        const double ii = static_cast<double>(i) * indel;
        const double *d0 = row + static_cast<size_t>(jlo - 1) * kLanes;
        __m256d diag0 = _mm256_loadu_pd(d0), diag1 = _mm256_loadu_pd(d0 + 4);
        __m256d left0 = jlo == 1 ? _mm256_set1_pd(ii) : vinf, left1 = left0;
        _mm256_storeu_pd(row, _mm256_set1_pd(ii));
        _mm256_storeu_pd(row + 4, _mm256_set1_pd(ii));
        if (jlo > jhi) continue;
        if (jhi == si + dhi) {
            _mm256_storeu_pd(row + static_cast<size_t>(jhi) * kLanes, vinf);
            _mm256_storeu_pd(row + static_cast<size_t>(jhi) * kLanes + 4, vinf);
        }
        const double *trow = ic.tableRow(ia[i - 1]);
        const uint64_t mask = a.skips[i - 1];
        for (size_t j = static_cast<size_t>(jlo); j <= static_cast<size_t>(jhi); ++j) {
            const uint32_t *id = ids + (j - 1) * kLanes;
            const uint64_t *mk = masks + (j - 1) * kLanes;
            double *r = row + j * kLanes;
            // Two independent chains (lanes 0-3 and 4-7) keep the adder busy while the other waits.
            const __m256d sub0 = _mm256_add_pd(
                _mm256_setr_pd(trow[id[0]], trow[id[1]], trow[id[2]], trow[id[3]]),
                _mm256_setr_pd(skipTable[mask ^ mk[0]], skipTable[mask ^ mk[1]], skipTable[mask ^ mk[2]],
                               skipTable[mask ^ mk[3]]));
            const __m256d sub1 = _mm256_add_pd(
                _mm256_setr_pd(trow[id[4]], trow[id[5]], trow[id[6]], trow[id[7]]),
                _mm256_setr_pd(skipTable[mask ^ mk[4]], skipTable[mask ^ mk[5]], skipTable[mask ^ mk[6]],
                               skipTable[mask ^ mk[7]]));
            const __m256d up0 = _mm256_loadu_pd(r), up1 = _mm256_loadu_pd(r + 4);
            const __m256d x0 = _mm256_min_pd(_mm256_add_pd(diag0, sub0), _mm256_add_pd(up0, vind));
            const __m256d x1 = _mm256_min_pd(_mm256_add_pd(diag1, sub1), _mm256_add_pd(up1, vind));
            const __m256d v0 = _mm256_min_pd(x0, _mm256_add_pd(left0, vind));
            const __m256d v1 = _mm256_min_pd(x1, _mm256_add_pd(left1, vind));
            _mm256_storeu_pd(r, v0);
            _mm256_storeu_pd(r + 4, v1);
            diag0 = up0;
            diag1 = up1;
            left0 = v0;
            left1 = v1;
        }
    }
}
#else
#define NASACCEL_AVX2_LANES 0
#endif

template <bool SmallMasks>
void laneDistances(const InternedCosts &ic, const uint32_t *ia, const GenomeView &a, const uint32_t *const *ib,
                   const GenomeView *const *b, double indel, LaneScratch &s, double *out) {
    size_t nb[kLanes], nbMax = 0;
    for (size_t l = 0; l < kLanes; ++l) nbMax = std::max(nbMax, nb[l] = b[l]->numGenes);
    const size_t na = a.numGenes;
    const uint64_t *ma = a.skips;
    // Cells far off the diagonal cannot be on an optimal path: the cost of one alignment (genes
    // matched in order, the rest inserted or deleted) bounds the distance, and every step off the
    // diagonal costs indels. Skipping those cells leaves every answer exactly as the full table
    // would give it (each kept cell on the optimal path sees the same candidates).
    std::ptrdiff_t dlo = 0, dhi = 0;
    for (size_t l = 0; l < kLanes; ++l) {
        const size_t m = std::min(na, nb[l]);
        double upper = 0.0;
        for (size_t k = 0; k < m; ++k)
            upper += std::min(laneSub<SmallMasks>(ic, ic.tableRow(ia[k]), ma[k], ib[l][k], b[l]->skips[k]),
                              2.0 * indel);
        upper += static_cast<double>(std::max(na, nb[l]) - m) * indel;
        std::ptrdiff_t lo, hi;
        bandFor(na, nb[l], upper, indel, lo, hi);
        if (l == 0 || lo < dlo) dlo = lo;
        if (l == 0 || hi > dhi) dhi = hi;
    }
    uint32_t *ids = s.ids.data();
    uint64_t *masks = s.masks.data();
    for (size_t j = 0; j < nbMax; ++j)
        for (size_t l = 0; l < kLanes; ++l) {
            const bool real = j < nb[l];
            ids[j * kLanes + l] = real ? ib[l][j] : 0;
            masks[j * kLanes + l] = real ? b[l]->skips[j] : 0;
        }
    double *row = s.row.data();
    for (size_t j = 0; j <= nbMax; ++j)
        for (size_t l = 0; l < kLanes; ++l) row[j * kLanes + l] = static_cast<double>(j) * indel;
#if NASACCEL_AVX2_LANES
    if (SmallMasks && haveAvx2()) {
        bandRowsAvx2(ic, ia, a, nbMax, dlo, dhi, indel, ids, masks, row);
    } else
#endif
    {
    const double *skipTable = ic.skipTable();
    const double skipCost = ic.skipCost();
    const double inf = std::numeric_limits<double>::infinity();
    const auto ibMax = static_cast<std::ptrdiff_t>(nbMax);
    for (size_t i = 1; i <= na; ++i) {
        const auto si = static_cast<std::ptrdiff_t>(i);
        const std::ptrdiff_t jlo = std::max<std::ptrdiff_t>(1, si + dlo), jhi = std::min(ibMax, si + dhi);
        // Column 0 always holds its true value (i indels), the left neighbour of column 1.
        double diag[kLanes], left[kLanes];
        for (size_t l = 0; l < kLanes; ++l) {
            diag[l] = row[static_cast<size_t>(jlo - 1) * kLanes + l];
            left[l] = jlo == 1 ? static_cast<double>(i) * indel : inf;
            row[l] = static_cast<double>(i) * indel;
        }
        if (jlo > jhi) continue;
        // The column entering the band on this row had no value on the row above.
        if (jhi == si - 1 + dhi + 1 && jhi >= 1)
            for (size_t l = 0; l < kLanes; ++l) row[static_cast<size_t>(jhi) * kLanes + l] = inf;
        const double *trow = ic.tableRow(ia[i - 1]);
        const uint64_t mask = ma[i - 1];
        for (size_t j = static_cast<size_t>(jlo); j <= static_cast<size_t>(jhi); ++j) {
            double *r = row + j * kLanes;
            const uint32_t *id = ids + (j - 1) * kLanes;
            const uint64_t *mk = masks + (j - 1) * kLanes;
            for (size_t l = 0; l < kLanes; ++l) {
                const uint64_t d = mask ^ mk[l];
                double sub;
                if (SmallMasks) {
                    sub = trow[id[l]] + skipTable[d];
                } else {
                    sub = trow[id[l]];
                    if (d) sub += skipCost * static_cast<double>(popcount64(d));
                }
                const double up = r[l];
                const double v = cell(diag[l], sub, up, left[l], indel);
                diag[l] = up;
                r[l] = v;
                left[l] = v;
            }
        }
    }
    }
    for (size_t l = 0; l < kLanes; ++l) out[l] = row[nb[l] * kLanes + l];
}

// Distances from genome a (ids ia) to genomes bList[j] for j in [begin, end), written to out[j - begin].
void rowDistances(const InternedCosts &ic, const uint32_t *ia, const GenomeView &a,
                  const std::vector<GenomeView> &bList, size_t list, size_t begin, size_t end, double indel,
                  LaneScratch &s, double *out) {
    size_t j = begin;
    for (; j + kLanes <= end; j += kLanes) {
        const uint32_t *ib[kLanes];
        const GenomeView *b[kLanes];
        for (size_t l = 0; l < kLanes; ++l) {
            ib[l] = ic.ids(list, j + l);
            b[l] = &bList[j + l];
        }
        if (ic.smallMasks()) laneDistances<true>(ic, ia, a, ib, b, indel, s, out + (j - begin));
        else laneDistances<false>(ic, ia, a, ib, b, indel, s, out + (j - begin));
    }
    for (; j < end; ++j) out[j - begin] = tableDistance(ic, ia, a, ic.ids(list, j), bList[j], indel, s.row.data());
}

double directDistance(const SpaceSpec &spec, const GenomeView &a, const GenomeView &b, double *row) {
    DirectCost c{spec, a, b};
    return rollingDp(a.numGenes, b.numGenes, spec.indelCost(), c, row);
}

size_t maxLength(const std::vector<GenomeView> &v) {
    size_t m = 0;
    for (const auto &g : v) m = std::max(m, g.numGenes);
    return m;
}

double totalLength(const std::vector<GenomeView> &v) {
    double s = 0;
    for (const auto &g : v) s += static_cast<double>(g.numGenes);
    return s;
}

// The table costs K*K*fields to build: worth it only when the DP has more cells than that.
bool tableWorthIt(size_t distinct, double cells) {
    return distinct <= kMaxInterned && static_cast<double>(distinct) * static_cast<double>(distinct) <= cells;
}

}  // namespace

double editDistance(const SpaceSpec &spec, const GenomeView &a, const GenomeView &b) {
    checkFields(spec, a, "a");
    checkFields(spec, b, "b");
    std::vector<double> row(b.numGenes + 1);
    return directDistance(spec, a, b, row.data());
}

std::vector<std::pair<int64_t, int64_t>> alignment(const SpaceSpec &spec, const GenomeView &a, const GenomeView &b) {
    checkFields(spec, a, "a");
    checkFields(spec, b, "b");
    const size_t na = a.numGenes, nb = b.numGenes, w = nb + 1;
    // The traceback keeps the whole table; refuse tables beyond 2 GiB rather than exhaust memory.
    constexpr double kMaxCells = double(1 << 28);
    if (static_cast<double>(na + 1) * static_cast<double>(w) > kMaxCells)
        throw std::invalid_argument("alignment of genomes with " + std::to_string(na) + " and " + std::to_string(nb) +
                                    " genes needs a table of more than 2^28 cells");
    const double indel = spec.indelCost();
    auto sub = [&](size_t i, size_t j) { return spec.substitutionCost(a.gene(i), a.skips[i], b.gene(j), b.skips[j]); };
    std::vector<double> d((na + 1) * w);
    for (size_t j = 0; j <= nb; ++j) d[j] = static_cast<double>(j) * indel;
    for (size_t i = 1; i <= na; ++i) {
        d[i * w] = static_cast<double>(i) * indel;
        for (size_t j = 1; j <= nb; ++j)
            d[i * w + j] = cell(d[(i - 1) * w + j - 1], sub(i - 1, j - 1), d[(i - 1) * w + j], d[i * w + j - 1], indel);
    }
    // Each interior value is exactly one of its candidates, so equality tests are safe here.
    std::vector<std::pair<int64_t, int64_t>> out;
    out.reserve(na + nb);
    size_t i = na, j = nb;
    while (i > 0 || j > 0) {
        const double v = d[i * w + j];
        if (i > 0 && j > 0 && v == d[(i - 1) * w + j - 1] + sub(i - 1, j - 1)) {
            --i, --j;
            out.emplace_back(static_cast<int64_t>(i), static_cast<int64_t>(j));
        } else if (i > 0 && (j == 0 || v == d[(i - 1) * w + j] + indel)) {
            --i;
            out.emplace_back(static_cast<int64_t>(i), -1);
        } else {
            --j;
            out.emplace_back(-1, static_cast<int64_t>(j));
        }
    }
    std::reverse(out.begin(), out.end());
    return out;
}

void distanceMatrix(const SpaceSpec &spec, const std::vector<GenomeView> &a, const std::vector<GenomeView> &b,
                    double *out, int threads) {
    for (const auto &g : a) checkFields(spec, g, "in a");
    for (const auto &g : b) checkFields(spec, g, "in b");
    const size_t n = a.size(), m = b.size();
    if (n == 0 || m == 0) return;
    const size_t width = maxLength(b) + 1;
    const double indel = spec.indelCost();
    InternedCosts ic(spec, {&a, &b});
    if (tableWorthIt(ic.distinct(), totalLength(a) * totalLength(b))) {
        ic.buildTables();
        parallelFor(n, threads, [&](size_t i) {
            LaneScratch scratch(width);  // per row of the matrix, never per pair
            rowDistances(ic, ic.ids(0, i), a[i], b, 1, 0, m, indel, scratch, out + i * m);
        });
    } else {
        parallelFor(n, threads, [&](size_t i) {
            std::vector<double> row(width);
            for (size_t j = 0; j < m; ++j) out[i * m + j] = directDistance(spec, a[i], b[j], row.data());
        });
    }
}

void selfDistanceMatrix(const SpaceSpec &spec, const std::vector<GenomeView> &a, double *out, int threads) {
    for (const auto &g : a) checkFields(spec, g, "in a");
    const size_t n = a.size();
    if (n == 0) return;
    const size_t width = maxLength(a) + 1;
    const double indel = spec.indelCost();
    InternedCosts ic(spec, {&a});
    const double len = totalLength(a);
    if (tableWorthIt(ic.distinct(), len * len / 2)) {
        ic.buildTables();
        parallelFor(n, threads, [&](size_t i) {
            LaneScratch scratch(width);
            out[i * n + i] = 0.0;
            rowDistances(ic, ic.ids(0, i), a[i], a, 0, i + 1, n, indel, scratch, out + i * n + i + 1);
        });
    } else {
        parallelFor(n, threads, [&](size_t i) {
            std::vector<double> row(width);
            out[i * n + i] = 0.0;
            for (size_t j = i + 1; j < n; ++j) out[i * n + j] = directDistance(spec, a[i], a[j], row.data());
        });
    }
    // Mirrored in a second pass: writing columns during the first one would make neighbouring
    // rows (running on different threads) fight over the same cache lines.
    parallelFor(n, threads, [&](size_t i) {
        for (size_t j = 0; j < i; ++j) out[i * n + j] = out[j * n + i];
    }, 16);
}

void distancesTo(const SpaceSpec &spec, const std::vector<GenomeView> &a, const GenomeView &g, double *out,
                 int threads) {
    for (const auto &x : a) checkFields(spec, x, "in a");
    checkFields(spec, g, "g");
    const size_t n = a.size();
    if (n == 0) return;
    const double indel = spec.indelCost();
    InternedCosts ic(spec, {&a}, &g);
    const size_t grain = 64;
    const size_t blocks = (n + grain - 1) / grain;
    if (tableWorthIt(ic.distinct(), totalLength(a) * static_cast<double>(g.numGenes))) {
        ic.buildTables();
        // d(g, x) == d(x, g) to the last bit (the DP is symmetric operand by operand), so g takes the
        // fixed side and the population fills the lanes.
        const size_t width = maxLength(a) + 1;
        parallelFor(blocks, threads, [&](size_t blk) {
            LaneScratch scratch(width);
            const size_t begin = blk * grain, end = std::min(n, begin + grain);
            rowDistances(ic, ic.extraIds(), g, a, 0, begin, end, indel, scratch, out + begin);
        });
    } else {
        parallelFor(blocks, threads, [&](size_t blk) {
            std::vector<double> row(g.numGenes + 1);
            for (size_t i = blk * grain; i < std::min(n, (blk + 1) * grain); ++i)
                out[i] = directDistance(spec, a[i], g, row.data());
        });
    }
}

}  // namespace nasaccel
