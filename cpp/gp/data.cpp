#include "gp/data.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_map>

#include "common/bits.h"
#include "common/parallel.h"
#include "genome/distance.h"
#include "gp/wl.h"

namespace nasaccel {

std::string MetricKey::name() const {
    switch (metric) {
        case Metric::Edit: return "edit";
        case Metric::Hamming: return "hamming";
        case Metric::WL: return "wl" + std::to_string(param);
        case Metric::SqEuclidean: return "sqeuclidean";
        case Metric::Histogram: return "histogram";
    }
    return "unknown";
}

KernelData::KernelData(std::optional<Population> genomes, std::vector<double> features, size_t dim)
    : genomes_(std::move(genomes)), features_(std::move(features)), dim_(dim) {
    if (dim_ == 0 && !features_.empty())
        throw std::invalid_argument("features given with dimension 0");
    if (dim_ > 0 && features_.size() % dim_ != 0)
        throw std::invalid_argument("features hold " + std::to_string(features_.size()) +
                                    " values, not a multiple of the dimension " + std::to_string(dim_));
    for (size_t k = 0; k < features_.size(); ++k)
        if (!std::isfinite(features_[k]))
            throw std::invalid_argument("feature value at row " + std::to_string(k / dim_) + ", column " +
                                        std::to_string(k % dim_) + " is not finite");
    const size_t nf = dim_ > 0 ? features_.size() / dim_ : 0;
    if (genomes_ && dim_ > 0 && genomes_->size() != nf)
        throw std::invalid_argument("kernel data has " + std::to_string(genomes_->size()) + " genomes but " +
                                    std::to_string(nf) + " feature rows");
    n_ = genomes_ ? genomes_->size() : nf;
}

const Population &KernelData::genomes() const {
    if (!genomes_) throw std::invalid_argument("kernel data holds no genomes: a genome kernel needs a Population");
    return *genomes_;
}

void KernelData::extend(const KernelData &other) {
    if (hasGenomes() != other.hasGenomes() || dim_ != other.dim_)
        throw std::invalid_argument("kernel data extended by data of another kind (genomes " +
                                    std::to_string(other.hasGenomes()) + " vs " + std::to_string(hasGenomes()) +
                                    ", feature dimension " + std::to_string(other.dim_) + " vs " +
                                    std::to_string(dim_) + ")");
    if (genomes_) genomes_->extend(other.genomes());
    features_.insert(features_.end(), other.features_.begin(), other.features_.end());
    n_ += other.n_;
}

namespace {

std::vector<GenomeView> slice(const Population &p, size_t begin, size_t end) {
    return std::vector<GenomeView>(p.views().begin() + static_cast<std::ptrdiff_t>(begin),
                                   p.views().begin() + static_cast<std::ptrdiff_t>(end));
}

void hammingBlock(const std::vector<GenomeView> &a, const std::vector<GenomeView> &b, uint64_t *out, int threads) {
    const size_t len = a.empty() ? (b.empty() ? 0 : b[0].numGenes) : a[0].numGenes;
    auto check = [&](const std::vector<GenomeView> &v, const char *side) {
        for (size_t i = 0; i < v.size(); ++i)
            if (v[i].numGenes != len)
                throw std::invalid_argument(std::string("the Hamming kernel needs genomes of one length: genome ") +
                                            std::to_string(i) + " of " + side + " has " +
                                            std::to_string(v[i].numGenes) + " genes, not " + std::to_string(len));
    };
    check(a, "the rows");
    check(b, "the columns");
    if (len > 64)
        throw std::invalid_argument("the Hamming kernel supports genomes of at most 64 genes, got " +
                                    std::to_string(len));
    const size_t m = b.size();
    parallelFor(a.size(), threads, [&](size_t i) {
        const GenomeView &x = a[i];
        const size_t nf = x.numFields;
        for (size_t j = 0; j < m; ++j) {
            const GenomeView &y = b[j];
            uint64_t mask = 0;
            for (size_t g = 0; g < len; ++g) {
                bool diff = x.skips[g] != y.skips[g];
                const int32_t *fx = x.gene(g), *fy = y.gene(g);
                for (size_t f = 0; f < nf && !diff; ++f) diff = fx[f] != fy[f];
                if (diff) mask |= uint64_t(1) << g;
            }
            out[i * m + j] = mask;
        }
    }, 16);
}

// Normalised inner product of two label-count vectors; an empty vector (a genome without genes has an empty
// histogram) is a unit vector of its own, orthogonal to every non-empty one, which keeps the matrix PSD.
inline double normalisedDot(double dot, double na, double nb) {
    if (na == 0.0 || nb == 0.0) return na == nb ? 1.0 : 0.0;
    return dot / (na * nb);
}

void featureBlock(const FeatureSet &fa, size_t a0, size_t a1, const FeatureSet &fb, size_t b0, size_t b1, double *out,
                  int threads) {
    // An inverted index of the columns' labels: a row then touches only the columns sharing a label with it.
    // Deep labels are nearly unique, so this costs far less than merging every pair of feature lists. Each
    // row visits its labels in ascending order, as labelDot does, so every sum is labelDot's to the last bit.
    const size_t m = b1 - b0;
    if (m <= 8) {
        // A few columns (a growing set's new points): merging sorted lists costs less than hashing every label.
        parallelFor(a1 - a0, threads, [&](size_t i) {
            const double na = fa.norms[a0 + i];
            for (size_t j = 0; j < m; ++j)
                out[i * m + j] = normalisedDot(labelDot(fa.features[a0 + i], fb.features[b0 + j]), na, fb.norms[b0 + j]);
        }, 256);
        return;
    }
    std::unordered_map<uint64_t, std::vector<std::pair<uint32_t, double>>> postings;
    for (size_t j = 0; j < m; ++j)
        for (const auto &lc : fb.features[b0 + j]) postings[lc.first].emplace_back(static_cast<uint32_t>(j), lc.second);
    parallelFor(a1 - a0, threads, [&](size_t i) {
        double *row = out + i * m;
        std::fill(row, row + m, 0.0);
        for (const auto &lc : fa.features[a0 + i]) {
            auto it = postings.find(lc.first);
            if (it == postings.end()) continue;
            for (const auto &jc : it->second) row[jc.first] += lc.second * jc.second;
        }
        const double na = fa.norms[a0 + i];
        for (size_t j = 0; j < m; ++j) row[j] = normalisedDot(row[j], na, fb.norms[b0 + j]);
    }, 4);
}

void sqEuclideanBlock(const KernelData &a, size_t a0, size_t a1, const KernelData &b, size_t b0, size_t b1,
                      double *out, int threads) {
    if (!a.hasFeatures() || !b.hasFeatures())
        throw std::invalid_argument("kernel data holds no numeric features: RBF and Matern kernels need them");
    if (a.dim() != b.dim())
        throw std::invalid_argument("numeric features of dimension " + std::to_string(a.dim()) + " and " +
                                    std::to_string(b.dim()) + " do not match");
    const size_t m = b1 - b0, d = a.dim();
    parallelFor(a1 - a0, threads, [&](size_t i) {
        const double *x = a.features(a0 + i);
        for (size_t j = 0; j < m; ++j) {
            const double *y = b.features(b0 + j);
            double s = 0.0;
            for (size_t k = 0; k < d; ++k) {
                const double t = x[k] - y[k];
                s += t * t;
            }
            out[i * m + j] = s;
        }
    }, 16);
}

}  // namespace

void FeatureSet::append(FeatureSet &&more) {
    features.insert(features.end(), std::make_move_iterator(more.features.begin()),
                    std::make_move_iterator(more.features.end()));
    norms.insert(norms.end(), more.norms.begin(), more.norms.end());
}

void FeatureSet::truncate(size_t n) {
    if (n < features.size()) features.resize(n);
    if (n < norms.size()) norms.resize(n);
}

FeatureSet featureSet(const MetricKey &key, const Population &p, size_t begin, size_t end, int threads) {
    if (!isFeatureMetric(key.metric)) throw std::invalid_argument("'" + key.name() + "' is not a feature metric");
    const auto views = slice(p, begin, end);
    const CellGraph &cell = p.spec().cellGraph();
    const bool wl = key.metric == Metric::WL;
    FeatureSet out;
    out.features.resize(views.size());
    out.norms.resize(views.size());
    // A few hundred genomes take less time than starting threads (the cache grows one point at a time).
    if (views.size() < 256) threads = 1;
    parallelFor(views.size(), threads, [&](size_t i) {
        out.features[i] = wl ? wlFeatures(views[i], key.param, &cell) : histogramFeatures(views[i]);
        out.norms[i] = std::sqrt(labelDot(out.features[i], out.features[i]));
    }, 64);
    return out;
}

void computeBlock(const MetricKey &key, const KernelData &a, size_t a0, size_t a1, const KernelData &b, size_t b0,
                  size_t b1, MetricMatrix &out, int threads, const FeatureSet *fa, const FeatureSet *fb) {
    const size_t n = a1 - a0, m = b1 - b0;
    out.key = key;
    if (key.metric == Metric::Hamming) {
        out.values.clear();
        out.masks.assign(n * m, 0);
    } else {
        out.masks.clear();
        out.values.assign(n * m, 0.0);
    }
    if (n == 0 || m == 0) return;
    // A few thousand pairs take less time than starting threads (the cache grows one point at a time).
    if (n * m < 4096) threads = 1;
    switch (key.metric) {
        case Metric::Edit: {
            const Population &pa = a.genomes(), &pb = b.genomes();
            if (!(pa.spec() == pb.spec()))
                throw std::invalid_argument("edit distances between genomes of different spaces");
            const auto va = slice(pa, a0, a1);
            Population::ReadGuard ga(pa), gb(pb);
            // A block of a set against itself needs only half the dynamic programmes.
            if (&a == &b && a0 == b0 && a1 == b1) selfDistanceMatrix(pa.spec(), va, out.values.data(), threads);
            else distanceMatrix(pa.spec(), va, slice(pb, b0, b1), out.values.data(), threads);
            break;
        }
        case Metric::Hamming:
            hammingBlock(slice(a.genomes(), a0, a1), slice(b.genomes(), b0, b1), out.masks.data(), threads);
            break;
        case Metric::WL:
        case Metric::Histogram: {
            // Each side reads its genomes as its own spec's graph (a chain, or a cell) for WL.
            FeatureSet la, lb;
            if (fa == nullptr) la = featureSet(key, a.genomes(), a0, a1, threads);
            if (fb == nullptr) lb = featureSet(key, b.genomes(), b0, b1, threads);
            featureBlock(fa ? *fa : la, fa ? a0 : 0, fa ? a1 : n, fb ? *fb : lb, fb ? b0 : 0, fb ? b1 : m,
                         out.values.data(), threads);
            break;
        }
        case Metric::SqEuclidean: sqEuclideanBlock(a, a0, a1, b, b0, b1, out.values.data(), threads); break;
    }
}

namespace {

void checkKeys(const std::vector<MetricKey> &keys) {
    for (const auto &k : keys) {
        const int m = static_cast<int>(k.metric);
        if (m < 0 || m > 4) throw std::invalid_argument("unknown metric " + std::to_string(m));
        if (k.metric == Metric::WL && (k.param < 0 || k.param > 64))
            throw std::invalid_argument("Weisfeiler-Lehman iterations must be in [0, 64], got " +
                                        std::to_string(k.param));
    }
}

// Copies a rows x cols block into a matrix of row length ld at (r0, c0).
void place(const MetricMatrix &blk, size_t rows, size_t cols, MetricMatrix &dst, size_t ld, size_t r0, size_t c0) {
    // Row by row: growing caches copy their whole matrix at every extension.
    for (size_t i = 0; i < rows; ++i) {
        if (dst.key.metric == Metric::Hamming)
            std::copy_n(blk.masks.data() + i * cols, cols, dst.masks.data() + (r0 + i) * ld + c0);
        else
            std::copy_n(blk.values.data() + i * cols, cols, dst.values.data() + (r0 + i) * ld + c0);
    }
}

void placeTransposed(const MetricMatrix &blk, size_t rows, size_t cols, MetricMatrix &dst, size_t ld, size_t r0,
                     size_t c0) {
    // blk is rows x cols; writes its transpose at (r0, c0).
    for (size_t i = 0; i < rows; ++i)
        for (size_t j = 0; j < cols; ++j) {
            if (dst.key.metric == Metric::Hamming) dst.masks[(r0 + j) * ld + c0 + i] = blk.masks[i * cols + j];
            else dst.values[(r0 + j) * ld + c0 + i] = blk.values[i * cols + j];
        }
}

void resize(MetricMatrix &m, size_t rows, size_t cols) {
    if (m.key.metric == Metric::Hamming) m.masks.assign(rows * cols, 0);
    else m.values.assign(rows * cols, 0.0);
}

}  // namespace

DistanceCache::DistanceCache(std::vector<MetricKey> metrics, KernelData x, std::optional<KernelData> y, int threads)
    : keys_(), x_(std::move(x)), y_(std::move(y)) {
    checkKeys(metrics);
    for (const auto &k : metrics)
        if (!has(k)) {
            keys_.push_back(k);
            mats_.emplace_back();
            mats_.back().key = k;
        }
    const KernelData &yy = this->y();
    for (auto &mm : mats_) {
        const FeatureSet *fx = nullptr, *fy = nullptr;
        if (isFeatureMetric(mm.key.metric)) {
            fx = &(xFeat_[mm.key] = featureSet(mm.key, x_.genomes(), 0, x_.size(), threads));
            fy = y_ ? &(yFeat_[mm.key] = featureSet(mm.key, y_->genomes(), 0, y_->size(), threads)) : fx;
        }
        computeBlock(mm.key, x_, 0, x_.size(), yy, 0, yy.size(), mm, threads, fx, fy);
    }
}

bool DistanceCache::has(const MetricKey &key) const {
    for (const auto &k : keys_)
        if (k == key) return true;
    return false;
}

const MetricMatrix &DistanceCache::matrix(const MetricKey &key) const {
    for (const auto &m : mats_)
        if (m.key == key) return m;
    throw std::invalid_argument("the distance cache holds no '" + key.name() +
                                "' matrix: build the cache with the kernel that is evaluated on it");
}

namespace {

// Appends the features of `more` to every kept set of `sets` (one per feature metric), undone on destruction
// unless commit() is called: a failed extension leaves the cache as it was.
class FeatureAppend {
public:
    FeatureAppend(std::map<MetricKey, FeatureSet> &sets, const KernelData &more, int threads) : sets_(sets) {
        for (auto &[key, set] : sets_) {
            sizes_.emplace_back(key, set.size());
            set.append(featureSet(key, more.genomes(), 0, more.size(), threads));
        }
    }
    ~FeatureAppend() {
        if (!done_)
            for (const auto &[key, n] : sizes_) sets_[key].truncate(n);
    }
    void commit() { done_ = true; }
    const FeatureSet *get(const MetricKey &key) { return isFeatureMetric(key.metric) ? &sets_.at(key) : nullptr; }

private:
    std::map<MetricKey, FeatureSet> &sets_;
    std::vector<std::pair<MetricKey, size_t>> sizes_;
    bool done_ = false;
};

}  // namespace

void DistanceCache::extend(const KernelData &more, int threads) {
    if (!symmetric()) throw std::invalid_argument("extend() is for self caches; use extend_rows / extend_columns");
    const size_t n = x_.size(), k = more.size(), t = n + k;
    KernelData grown = x_;
    grown.extend(more);  // checks that the kinds of input match before anything is computed
    FeatureAppend feats(xFeat_, more, threads);
    std::vector<MetricMatrix> next(mats_.size());
    for (size_t q = 0; q < mats_.size(); ++q) {
        MetricMatrix &dst = next[q];
        dst.key = mats_[q].key;
        const FeatureSet *f = feats.get(dst.key);
        resize(dst, t, t);
        place(mats_[q], n, n, dst, t, 0, 0);
        MetricMatrix blk;
        computeBlock(dst.key, grown, 0, n, grown, n, t, blk, threads, f, f);
        place(blk, n, k, dst, t, 0, n);
        placeTransposed(blk, n, k, dst, t, n, 0);
        computeBlock(dst.key, grown, n, t, grown, n, t, blk, threads, f, f);
        place(blk, k, k, dst, t, n, n);
    }
    x_ = std::move(grown);
    mats_ = std::move(next);
    feats.commit();
}

void DistanceCache::extendRows(const KernelData &more, int threads) {
    if (symmetric()) throw std::invalid_argument("extend_rows() is for cross caches; use extend() on a self cache");
    const size_t n = x_.size(), k = more.size(), m = y_->size();
    KernelData grown = x_;
    grown.extend(more);
    FeatureAppend feats(xFeat_, more, threads);
    std::vector<MetricMatrix> next(mats_.size());
    for (size_t q = 0; q < mats_.size(); ++q) {
        MetricMatrix blk;
        const MetricKey key = mats_[q].key;
        computeBlock(key, grown, n, n + k, *y_, 0, m, blk, threads, feats.get(key),
                     isFeatureMetric(key.metric) ? &yFeat_.at(key) : nullptr);
        next[q] = mats_[q];
        next[q].values.insert(next[q].values.end(), blk.values.begin(), blk.values.end());
        next[q].masks.insert(next[q].masks.end(), blk.masks.begin(), blk.masks.end());
    }
    x_ = std::move(grown);
    mats_ = std::move(next);
    feats.commit();
}

void DistanceCache::extendColumns(const KernelData &more, int threads) {
    if (symmetric()) throw std::invalid_argument("extend_columns() is for cross caches; use extend() on a self cache");
    const size_t n = x_.size(), m = y_->size(), k = more.size(), t = m + k;
    KernelData grown = *y_;
    grown.extend(more);
    FeatureAppend feats(yFeat_, more, threads);
    std::vector<MetricMatrix> next(mats_.size());
    for (size_t q = 0; q < mats_.size(); ++q) {
        MetricMatrix &dst = next[q];
        dst.key = mats_[q].key;
        resize(dst, n, t);
        place(mats_[q], n, m, dst, t, 0, 0);
        MetricMatrix blk;
        computeBlock(dst.key, x_, 0, n, grown, m, t, blk, threads,
                     isFeatureMetric(dst.key.metric) ? &xFeat_.at(dst.key) : nullptr, feats.get(dst.key));
        place(blk, n, k, dst, t, 0, m);
    }
    y_ = std::move(grown);
    mats_ = std::move(next);
    feats.commit();
}

}  // namespace nasaccel
