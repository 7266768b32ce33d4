#include "genome/operators.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "common/bits.h"
#include "genome/distance.h"
#include "genome/random.h"

namespace nasaccel {

namespace {

constexpr double kInsertSkipProbability = 0.25;

// Branch-free bit count: the portable build (no -mpopcnt) turns __builtin_popcountll into a library
// call, which dominated the skip operators' scans over genes.
inline int bitCount(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return static_cast<int>((x * 0x0101010101010101ULL) >> 56);
}

// Exactly Rng::below(n) (same draws, same results) with one division instead of two in the common case:
// below() accepts r when r >= 2^64 mod n, and that bound is below n, so any r >= n is accepted without it.
#if defined(__SIZEOF_INT128__)
__extension__ typedef unsigned __int128 U128;

// r % d without a division for the small d the operators draw from (gene counts, field sizes): with
// M = ceil(2^128 / d), r % d = floor(((M * r) mod 2^128) * d / 2^128) exactly for every 64-bit r
// (Lemire, Kaser & Kurz 2019, "Faster remainder by direct computation"). A 64-bit division costs
// tens of cycles, several of them per child.
struct SmallModuli {
    static constexpr unsigned kSize = 256;
    U128 m[kSize];
    constexpr SmallModuli() : m() {
        for (unsigned d = 1; d < kSize; ++d) m[d] = ~U128(0) / d + 1;
    }
};
constexpr SmallModuli kSmallModuli{};

inline uint64_t remainder(uint64_t r, uint64_t d) {
    if (d >= SmallModuli::kSize) return r % d;
    const U128 low = kSmallModuli.m[d] * r;  // mod 2^128
    const U128 bottom = (static_cast<U128>(static_cast<uint64_t>(low)) * d) >> 64;
    const U128 top = static_cast<U128>(static_cast<uint64_t>(low >> 64)) * d;
    return static_cast<uint64_t>((bottom + top) >> 64);
}
#else
inline uint64_t remainder(uint64_t r, uint64_t d) { return r % d; }
#endif

inline uint64_t below(Rng &rng, uint64_t n) {
    if (n == 0) return rng.below(0);  // throws, as Rng::below does
    for (;;) {
        const uint64_t r = rng.next();
        if (r >= n || r >= (0 - n) % n) return remainder(r, n);
    }
}

// Index of the k-th (0-based) set bit of x; x must have more than k set bits.
int nthSetBit(uint64_t x, uint64_t k) {
    for (; k > 0; --k) x &= x - 1;
    return lowestBit(x);
}

// SpaceSpec::allowedSkipMask inlined: operators ask it for every gene of every child.
inline uint64_t allowedAt(const SpaceSpec &spec, size_t i) {
    const size_t reach = std::min<size_t>(i, static_cast<size_t>(spec.maxSkipOffset()));
    return reach == 0 ? 0 : reach >= 64 ? ~uint64_t(0) : (uint64_t(1) << reach) - 1;
}

inline uint64_t freeSkips(const SpaceSpec &spec, const GenomeView &g, size_t i) { return allowedAt(spec, i) & ~g.skips[i]; }

size_t mutableFieldCount(const SpaceSpec &spec) {
    size_t m = 0;
    for (const auto &f : spec.fields()) m += f.size >= 2;
    return m;
}

void checkShape(const SpaceSpec &spec, const Genome &g) {
    if (g.numGenes() > 0 && g.numFields() != spec.numFields())
        throw std::invalid_argument("genome '" + shortText(g) + "' has " + std::to_string(g.numFields()) +
                                    " fields per gene, the spec has " + std::to_string(spec.numFields()));
}

void checkViewShape(const SpaceSpec &spec, const GenomeView &g, const char *which) {
    if (g.numGenes > 0 && g.numFields != spec.numFields())
        throw std::invalid_argument(std::string("crossover parent ") + which + " has " + std::to_string(g.numFields) +
                                    " fields per gene, the spec has " + std::to_string(spec.numFields()));
}

[[noreturn]] void notApplicable(const char *op, const Genome &g, const std::string &why) {
    throw std::invalid_argument(std::string(op) + " does not apply to genome '" + shortText(g) + "': " + why);
}

// ---- length-keeping operators on a span: the draws here are the operators' definition

void pointInPlace(const SpaceSpec &spec, const GenomeSpan &g, Rng &rng) {
    const size_t i = static_cast<size_t>(below(rng, g.numGenes));
    size_t k = static_cast<size_t>(below(rng, mutableFieldCount(spec))), f = 0;
    for (;; ++f) {
        if (spec.fields()[f].size < 2) continue;
        if (k == 0) break;
        --k;
    }
    const int32_t old = g.gene(i)[f];
    int32_t v = static_cast<int32_t>(below(rng, static_cast<uint64_t>(spec.fields()[f].size - 1)));
    if (v >= old) ++v;  // uniform over the other values
    g.gene(i)[f] = v;
}

void addSkipInPlace(const SpaceSpec &spec, const GenomeSpan &g, Rng &rng) {
    const GenomeView v = g.view();
    uint64_t total = 0;
    for (size_t i = 0; i < g.numGenes; ++i) total += static_cast<uint64_t>(bitCount(freeSkips(spec, v, i)));
    uint64_t k = below(rng, total);
    for (size_t i = 0;; ++i) {
        const uint64_t freeBits = freeSkips(spec, v, i);
        const uint64_t c = static_cast<uint64_t>(bitCount(freeBits));
        if (k < c) {
            g.skips[i] |= uint64_t(1) << nthSetBit(freeBits, k);
            return;
        }
        k -= c;
    }
}

void removeSkipInPlace(const SpaceSpec &, const GenomeSpan &g, Rng &rng) {
    uint64_t total = 0;
    for (size_t i = 0; i < g.numGenes; ++i) total += static_cast<uint64_t>(bitCount(g.skips[i]));
    uint64_t k = below(rng, total);
    for (size_t i = 0;; ++i) {
        const uint64_t m = g.skips[i];
        const uint64_t c = static_cast<uint64_t>(bitCount(m));
        if (k < c) {
            g.skips[i] = m & ~(uint64_t(1) << nthSetBit(m, k));
            return;
        }
        k -= c;
    }
}

void moveSkipInPlace(const SpaceSpec &spec, const GenomeSpan &g, Rng &rng) {
    const GenomeView v = g.view();
    uint64_t total = 0;
    for (size_t i = 0; i < g.numGenes; ++i)
        if (freeSkips(spec, v, i)) total += static_cast<uint64_t>(bitCount(g.skips[i]));
    uint64_t k = below(rng, total);
    for (size_t i = 0;; ++i) {
        const uint64_t freeBits = freeSkips(spec, v, i);
        if (!freeBits) continue;
        const uint64_t m = g.skips[i];
        const uint64_t c = static_cast<uint64_t>(bitCount(m));
        if (k < c) {
            const int from = nthSetBit(m, k);
            const int to = nthSetBit(freeBits, below(rng, static_cast<uint64_t>(bitCount(freeBits))));
            g.skips[i] = (m & ~(uint64_t(1) << from)) | (uint64_t(1) << to);
            return;
        }
        k -= c;
    }
}

// ---- crossover: children are appended to flat buffers

// Appends gene i of src (fields and skip mask) to the flat buffers of a child under construction.
inline void appendFrom(const GenomeView &src, size_t i, std::vector<int32_t> &genes, std::vector<uint64_t> &skips) {
    const int32_t *p = src.gene(i);
    genes.insert(genes.end(), p, p + src.numFields);
    skips.push_back(src.skips[i]);
}

// Appends genes [from, to) of src in one go.
inline void appendRange(const GenomeView &src, size_t from, size_t to, std::vector<int32_t> &genes,
                        std::vector<uint64_t> &skips) {
    if (from >= to) return;
    genes.insert(genes.end(), src.gene(from), src.gene(to));
    skips.insert(skips.end(), src.skips + from, src.skips + to);
}

// Cut points of one- and two-point crossover: the draws are the operators' definition.
size_t onePointCut(const GenomeView &a, const GenomeView &b, Rng &rng) {
    const size_t m = std::min(a.numGenes, b.numGenes);
    return m >= 2 ? 1 + static_cast<size_t>(below(rng, m - 1)) : static_cast<size_t>(below(rng, m + 1));
}

void twoPointCuts(const GenomeView &a, const GenomeView &b, Rng &rng, size_t &c1, size_t &c2) {
    const size_t m = std::min(a.numGenes, b.numGenes);
    c1 = 0, c2 = m;
    if (m >= 2) {
        // The same draw as DEAP's cxTwoPoint: c1 in [1, m], c2 in [1, m-1] shifted past c1.
        c1 = 1 + static_cast<size_t>(below(rng, m));
        c2 = 1 + static_cast<size_t>(below(rng, m - 1));
        if (c2 >= c1) ++c2;
        else std::swap(c1, c2);
    }
}

void onePointInto(const GenomeView &a, const GenomeView &b, Rng &rng, std::vector<int32_t> &genes,
                  std::vector<uint64_t> &skips) {
    const size_t c = onePointCut(a, b, rng);
    appendRange(a, 0, c, genes, skips);
    appendRange(b, c, b.numGenes, genes, skips);
}

void twoPointInto(const GenomeView &a, const GenomeView &b, Rng &rng, std::vector<int32_t> &genes,
                  std::vector<uint64_t> &skips) {
    size_t c1, c2;
    twoPointCuts(a, b, rng, c1, c2);
    // All of a, then b's segment over it: two appends and two copies instead of six appends.
    const size_t g0 = genes.size(), s0 = skips.size();
    appendRange(a, 0, a.numGenes, genes, skips);
    if (c1 < c2) {
        std::copy(b.gene(c1), b.gene(c2), genes.begin() + static_cast<std::ptrdiff_t>(g0 + c1 * a.numFields));
        std::copy(b.skips + c1, b.skips + c2, skips.begin() + static_cast<std::ptrdiff_t>(s0 + c1));
    }
}

void uniformInto(const GenomeView &a, const GenomeView &b, Rng &rng, std::vector<int32_t> &genes,
                 std::vector<uint64_t> &skips) {
    const size_t m = std::min(a.numGenes, b.numGenes);
    const GenomeView &tail = a.numGenes == b.numGenes ? a : (below(rng, 2) ? b : a);
    for (size_t i = 0; i < m; ++i) appendFrom(below(rng, 2) ? b : a, i, genes, skips);
    appendRange(tail, m, tail.numGenes, genes, skips);
}

void alignedInto(const SpaceSpec &spec, const GenomeView &a, const GenomeView &b, Rng &rng,
                 std::vector<int32_t> &genes, std::vector<uint64_t> &skips) {
    const auto pairs = alignment(spec, a, b);
    const size_t steps = pairs.size();
    std::vector<char> keep(steps, 0), fromB(steps, 0);
    std::vector<size_t> gaps;
    size_t length = 0;
    for (size_t t = 0; t < steps; ++t) {
        if (pairs[t].first >= 0 && pairs[t].second >= 0) {
            keep[t] = 1;
            fromB[t] = static_cast<char>(rng.below(2));
        } else {
            keep[t] = static_cast<char>(rng.below(2));
            fromB[t] = pairs[t].first < 0;
            gaps.push_back(t);
        }
        length += static_cast<size_t>(keep[t]);
    }
    // Repair: matched pairs alone are at most min(len a, len b) genes and all steps at least
    // max(len a, len b), so keeping or dropping gap genes always reaches [min_genes, max_genes].
    const bool grow = length < spec.minGenes(), shrink = length > spec.maxGenes();
    if (grow || shrink) {
        std::vector<size_t> candidates;
        for (size_t t : gaps)
            if (static_cast<bool>(keep[t]) == shrink) candidates.push_back(t);
        while (length < spec.minGenes() || length > spec.maxGenes()) {
            if (candidates.empty())  // unreachable for parents within bounds
                throw std::invalid_argument("aligned crossover cannot fit a child of parents with " +
                                            std::to_string(a.numGenes) + " and " + std::to_string(b.numGenes) +
                                            " genes into the spec's length bounds");
            const size_t r = static_cast<size_t>(rng.below(candidates.size()));
            keep[candidates[r]] = grow ? 1 : 0;
            length = grow ? length + 1 : length - 1;
            candidates[r] = candidates.back();
            candidates.pop_back();
        }
    }
    for (size_t t = 0; t < steps; ++t) {
        if (!keep[t]) continue;
        if (fromB[t]) appendFrom(b, static_cast<size_t>(pairs[t].second), genes, skips);
        else appendFrom(a, static_cast<size_t>(pairs[t].first), genes, skips);
    }
}

Genome crossoverGenome(const SpaceSpec &spec, const Genome &a, const Genome &b, CrossoverKind kind, Rng &rng) {
    std::vector<int32_t> genes;
    std::vector<uint64_t> skips;
    appendCrossover(spec, a.view(), b.view(), kind, rng, genes, skips);
    return Genome(spec.numFields(), std::move(genes), std::move(skips));
}

}  // namespace

std::string shortText(const Genome &g) {
    std::string t = g.toText();
    return t.size() > 200 ? t.substr(0, 200) + "..." : t;
}

const char *mutationName(MutationKind kind) {
    switch (kind) {
        case MutationKind::Point: return "point";
        case MutationKind::Insert: return "insert";
        case MutationKind::Delete: return "delete";
        case MutationKind::AddSkip: return "add_skip";
        case MutationKind::RemoveSkip: return "remove_skip";
        case MutationKind::MoveSkip: return "move_skip";
    }
    return "unknown";
}

bool canPointMutate(const SpaceSpec &spec, const GenomeView &g) { return g.numGenes > 0 && mutableFieldCount(spec) > 0; }
bool canInsertGene(const SpaceSpec &spec, const GenomeView &g) { return g.numGenes < spec.maxGenes(); }
bool canDeleteGene(const SpaceSpec &spec, const GenomeView &g) {
    return g.numGenes > spec.minGenes() && g.numGenes > 0;
}
bool canAddSkip(const SpaceSpec &spec, const GenomeView &g) {
    if (!spec.allowsSkips()) return false;
    for (size_t i = 0; i < g.numGenes; ++i)
        if (freeSkips(spec, g, i)) return true;
    return false;
}
bool canRemoveSkip(const SpaceSpec &, const GenomeView &g) {
    for (size_t i = 0; i < g.numGenes; ++i)
        if (g.skips[i]) return true;
    return false;
}
bool canMoveSkip(const SpaceSpec &spec, const GenomeView &g) {
    for (size_t i = 0; i < g.numGenes; ++i)
        if (g.skips[i] && freeSkips(spec, g, i)) return true;
    return false;
}
bool canApply(MutationKind kind, const SpaceSpec &spec, const GenomeView &g) {
    switch (kind) {
        case MutationKind::Point: return canPointMutate(spec, g);
        case MutationKind::Insert: return canInsertGene(spec, g);
        case MutationKind::Delete: return canDeleteGene(spec, g);
        case MutationKind::AddSkip: return canAddSkip(spec, g);
        case MutationKind::RemoveSkip: return canRemoveSkip(spec, g);
        case MutationKind::MoveSkip: return canMoveSkip(spec, g);
    }
    return false;
}

void clearInvalidSkips(const SpaceSpec &spec, Genome &g) {
    const GenomeSpan s = g.span();
    for (size_t i = 0; i < s.numGenes; ++i) s.skips[i] &= allowedAt(spec, i);
}

void pointMutation(const SpaceSpec &spec, Genome &g, Rng &rng) {
    checkShape(spec, g);
    if (g.numGenes() == 0) notApplicable("point mutation", g, "it has no genes");
    if (mutableFieldCount(spec) == 0) notApplicable("point mutation", g, "no field has two or more values");
    pointInPlace(spec, g.span(), rng);
}

void insertGene(const SpaceSpec &spec, Genome &g, Rng &rng) {
    checkShape(spec, g);
    const size_t n = g.numGenes();
    if (!canInsertGene(spec, g.view()))
        notApplicable("insert", g, "it has " + std::to_string(n) + " genes, the maximum is " +
                                       std::to_string(spec.maxGenes()));
    const size_t p = static_cast<size_t>(rng.below(n + 1));
    // A stack buffer for the usual few fields keeps batch mutation free of allocations.
    int32_t small[16];
    std::vector<int32_t> large(spec.numFields() > 16 ? spec.numFields() : 0);
    int32_t *fields = spec.numFields() > 16 ? large.data() : small;
    randomFields(spec, rng, fields);
    const uint64_t mask = spec.allowsSkips() ? randomSkips(spec, p, kInsertSkipProbability, rng) : 0;
    if (g.numFields() == 0) g = Genome(spec.numFields(), {}, {});
    g.insertGene(p, fields, mask);
    clearInvalidSkips(spec, g);  // a no-op today (later genes only gain reach), kept for the invariant
}

void deleteGene(const SpaceSpec &spec, Genome &g, Rng &rng) {
    checkShape(spec, g);
    if (!canDeleteGene(spec, g.view()))
        notApplicable("delete", g, "it has " + std::to_string(g.numGenes()) + " genes, the minimum is " +
                                       std::to_string(spec.minGenes()));
    g.eraseGene(static_cast<size_t>(rng.below(g.numGenes())));
    clearInvalidSkips(spec, g);
}

void addSkip(const SpaceSpec &spec, Genome &g, Rng &rng) {
    checkShape(spec, g);
    if (!canAddSkip(spec, g.view()))
        notApplicable("add_skip", g, spec.allowsSkips() ? "every allowed skip is already set"
                                                        : "the space allows no skips");
    addSkipInPlace(spec, g.span(), rng);
}

void removeSkip(const SpaceSpec &spec, Genome &g, Rng &rng) {
    checkShape(spec, g);
    if (!canRemoveSkip(spec, g.view())) notApplicable("remove_skip", g, "it has no skips");
    removeSkipInPlace(spec, g.span(), rng);
}

void moveSkip(const SpaceSpec &spec, Genome &g, Rng &rng) {
    checkShape(spec, g);
    if (!canMoveSkip(spec, g.view()))
        notApplicable("move_skip", g, "no gene has both a skip and a free allowed offset");
    moveSkipInPlace(spec, g.span(), rng);
}

void applyMutation(MutationKind kind, const SpaceSpec &spec, Genome &g, Rng &rng) {
    switch (kind) {
        case MutationKind::Point: return pointMutation(spec, g, rng);
        case MutationKind::Insert: return insertGene(spec, g, rng);
        case MutationKind::Delete: return deleteGene(spec, g, rng);
        case MutationKind::AddSkip: return addSkip(spec, g, rng);
        case MutationKind::RemoveSkip: return removeSkip(spec, g, rng);
        case MutationKind::MoveSkip: return moveSkip(spec, g, rng);
    }
    throw std::invalid_argument("unknown mutation kind " + std::to_string(static_cast<int>(kind)));
}

void applyInPlace(MutationKind kind, const SpaceSpec &spec, const GenomeSpan &g, Rng &rng) {
    switch (kind) {
        case MutationKind::Point: return pointInPlace(spec, g, rng);
        case MutationKind::AddSkip: return addSkipInPlace(spec, g, rng);
        case MutationKind::RemoveSkip: return removeSkipInPlace(spec, g, rng);
        case MutationKind::MoveSkip: return moveSkipInPlace(spec, g, rng);
        default: break;
    }
    throw std::invalid_argument(std::string("mutation '") + mutationName(kind) + "' changes the length");
}

double MutationWeights::get(MutationKind kind) const {
    switch (kind) {
        case MutationKind::Point: return point;
        case MutationKind::Insert: return insert;
        case MutationKind::Delete: return del;
        case MutationKind::AddSkip: return addSkip;
        case MutationKind::RemoveSkip: return removeSkip;
        case MutationKind::MoveSkip: return moveSkip;
    }
    return 0.0;
}

std::string MutationWeights::describe() const {
    std::ostringstream os;
    os << "MutationWeights(";
    for (size_t k = 0; k < kNumMutationKinds; ++k)
        os << (k ? ", " : "") << mutationName(static_cast<MutationKind>(k)) << "="
           << get(static_cast<MutationKind>(k));
    os << ")";
    return os.str();
}

void MutationWeights::validate() const {
    bool any = false;
    for (size_t k = 0; k < kNumMutationKinds; ++k) {
        const double w = get(static_cast<MutationKind>(k));
        if (!(w >= 0.0) || !std::isfinite(w)) {
            std::ostringstream os;
            os << "mutation weight " << mutationName(static_cast<MutationKind>(k)) << "=" << w
               << " must be finite and >= 0";
            throw std::invalid_argument(os.str());
        }
        any = any || w > 0.0;
    }
    if (!any) throw std::invalid_argument("mutation weights are all zero: " + describe());
}

Mutator::Mutator(SpaceSpec spec, MutationWeights weights) : spec_(std::move(spec)), weights_(weights) {
    weights_.validate();
}

std::vector<MutationKind> Mutator::applicable(const Genome &g) const {
    checkShape(spec_, g);
    std::vector<MutationKind> out;
    for (size_t k = 0; k < kNumMutationKinds; ++k)
        if (canApply(static_cast<MutationKind>(k), spec_, g.view())) out.push_back(static_cast<MutationKind>(k));
    return out;
}

MutationKind Mutator::pick(const GenomeView &g, Rng &rng) const {
    // One scan answers all three skip operators (what canAddSkip, canRemoveSkip and canMoveSkip test).
    bool anyFree = false, anySet = false, anySetAndFree = false;
    if (weights_.addSkip > 0.0 || weights_.removeSkip > 0.0 || weights_.moveSkip > 0.0) {
        for (size_t i = 0; i < g.numGenes; ++i) {
            const uint64_t m = g.skips[i];
            const bool hasFree = freeSkips(spec_, g, i) != 0;
            anyFree = anyFree || hasFree;
            anySet = anySet || m;
            anySetAndFree = anySetAndFree || (m && hasFree);
        }
    }
    const bool applies[kNumMutationKinds] = {
        weights_.point > 0.0 && canPointMutate(spec_, g), weights_.insert > 0.0 && canInsertGene(spec_, g),
        weights_.del > 0.0 && canDeleteGene(spec_, g),    anyFree,
        anySet,                                           anySetAndFree};
    double w[kNumMutationKinds];
    double total = 0.0;
    for (size_t k = 0; k < kNumMutationKinds; ++k) {
        const double wk = weights_.get(static_cast<MutationKind>(k));
        w[k] = wk > 0.0 && applies[k] ? wk : 0.0;
        total += w[k];
    }
    if (!(total > 0.0)) {
        const Genome copy(g);
        std::string names;
        for (MutationKind kind : applicable(copy)) names += (names.empty() ? "" : ", ") + std::string(mutationName(kind));
        throw std::invalid_argument("no mutation with a positive weight applies to genome '" + shortText(copy) +
                                    "' (" + std::to_string(g.numGenes) + " genes; applicable: " +
                                    (names.empty() ? std::string("none") : names) + "; " + weights_.describe() + ")");
    }
    // Inline weighted draw over a fixed array: no allocation per child in batch mutation.
    double x = rng.uniform() * total;
    size_t chosen = kNumMutationKinds;
    for (size_t k = 0; k < kNumMutationKinds; ++k) {
        if (w[k] <= 0.0) continue;
        chosen = k;
        if (x < w[k]) break;
        x -= w[k];
    }
    return static_cast<MutationKind>(chosen);
}

MutationKind Mutator::mutateInPlace(Genome &g, Rng &rng) const {
    checkShape(spec_, g);
    const MutationKind kind = pick(g.view(), rng);
    applyMutation(kind, spec_, g, rng);
    return kind;
}

Genome Mutator::mutate(const Genome &g, Rng &rng) const {
    Genome child = g;
    mutateInPlace(child, rng);
    return child;
}

const char *crossoverName(CrossoverKind kind) {
    switch (kind) {
        case CrossoverKind::OnePoint: return "one_point";
        case CrossoverKind::TwoPoint: return "two_point";
        case CrossoverKind::Uniform: return "uniform";
        case CrossoverKind::Aligned: return "aligned";
    }
    return "unknown";
}

CrossoverKind crossoverKindFromName(const std::string &name) {
    for (int k = 0; k < 4; ++k)
        if (name == crossoverName(static_cast<CrossoverKind>(k))) return static_cast<CrossoverKind>(k);
    std::string shown = name.size() > 100 ? name.substr(0, 100) + "..." : name;
    throw std::invalid_argument("unknown crossover kind '" + shown +
                                "', expected one of 'one_point', 'two_point', 'uniform', 'aligned'");
}

size_t appendCrossover(const SpaceSpec &spec, const GenomeView &a, const GenomeView &b, CrossoverKind kind, Rng &rng,
                       std::vector<int32_t> &genes, std::vector<uint64_t> &skips) {
    checkViewShape(spec, a, "a");
    checkViewShape(spec, b, "b");
    const size_t start = skips.size();
    switch (kind) {
        case CrossoverKind::OnePoint: onePointInto(a, b, rng, genes, skips); break;
        case CrossoverKind::TwoPoint: twoPointInto(a, b, rng, genes, skips); break;
        case CrossoverKind::Uniform: uniformInto(a, b, rng, genes, skips); break;
        case CrossoverKind::Aligned: alignedInto(spec, a, b, rng, genes, skips); break;
        default: throw std::invalid_argument("unknown crossover kind " + std::to_string(static_cast<int>(kind)));
    }
    // Masks travel with their genes; bits the new position forbids are cleared.
    const size_t n = skips.size() - start;
    for (size_t i = 0; i < n; ++i) skips[start + i] &= allowedAt(spec, i);
    return n;
}

size_t crossoverLength(CrossoverKind kind, const GenomeView &a, const GenomeView &b) {
    switch (kind) {
        case CrossoverKind::OnePoint: return b.numGenes;
        case CrossoverKind::TwoPoint: return a.numGenes;
        default: throw std::invalid_argument(std::string("crossover '") + crossoverName(kind) + "' has no fixed length");
    }
}

size_t writeCrossover(const SpaceSpec &spec, const GenomeView &a, const GenomeView &b, CrossoverKind kind, Rng &rng,
                      int32_t *genes, uint64_t *skips) {
    checkViewShape(spec, a, "a");
    checkViewShape(spec, b, "b");
    const size_t nf = spec.numFields();
    size_t n;
    // Plain copies into a buffer sized beforehand: no capacity checks or vector bookkeeping per range.
    auto copyRange = [&](const GenomeView &src, size_t from, size_t to) {
        if (from >= to) return;
        std::memcpy(genes + from * nf, src.gene(from), (to - from) * nf * sizeof(int32_t));
        std::memcpy(skips + from, src.skips + from, (to - from) * sizeof(uint64_t));
    };
    if (kind == CrossoverKind::OnePoint) {
        const size_t c = onePointCut(a, b, rng);
        copyRange(a, 0, c);
        copyRange(b, c, b.numGenes);
        n = b.numGenes;
    } else if (kind == CrossoverKind::TwoPoint) {
        size_t c1, c2;
        twoPointCuts(a, b, rng, c1, c2);
        copyRange(a, 0, c1);
        copyRange(b, c1, c2);
        copyRange(a, c2, a.numGenes);
        n = a.numGenes;
    } else {
        throw std::invalid_argument(std::string("crossover '") + crossoverName(kind) + "' has no fixed length");
    }
    for (size_t i = 0; i < n; ++i) skips[i] &= allowedAt(spec, i);
    return n;
}

Genome onePointCrossover(const SpaceSpec &spec, const Genome &a, const Genome &b, Rng &rng) {
    return crossoverGenome(spec, a, b, CrossoverKind::OnePoint, rng);
}
Genome twoPointCrossover(const SpaceSpec &spec, const Genome &a, const Genome &b, Rng &rng) {
    return crossoverGenome(spec, a, b, CrossoverKind::TwoPoint, rng);
}
Genome uniformCrossover(const SpaceSpec &spec, const Genome &a, const Genome &b, Rng &rng) {
    return crossoverGenome(spec, a, b, CrossoverKind::Uniform, rng);
}
Genome alignedCrossover(const SpaceSpec &spec, const Genome &a, const Genome &b, Rng &rng) {
    return crossoverGenome(spec, a, b, CrossoverKind::Aligned, rng);
}
Genome crossover(const SpaceSpec &spec, const Genome &a, const Genome &b, CrossoverKind kind, Rng &rng) {
    return crossoverGenome(spec, a, b, kind, rng);
}

}  // namespace nasaccel
