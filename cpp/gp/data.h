#pragma once
// Inputs of the GP kernels and the distances between two sets of them, computed once and cached.
//
// A KernelData holds the points of one set: genomes (a Population), a numeric encoding (an n x dim
// matrix), or both, row for row. A DistanceCache holds, for one pair of sets (or one set against
// itself), every base matrix a kernel needs: weighted edit distances, Hamming difference masks,
// Weisfeiler-Lehman similarities, squared Euclidean distances. Fitting hyper-parameters then only
// re-applies each base kernel's cheap transform to these matrices; sets that grow (observations in
// a Bayesian optimisation loop) extend the cache with the new rows and columns only.
//
// Two metrics are normalised inner products of sparse label counts (feature metrics): Weisfeiler-Lehman
// subtree counts of the genome's graph and the histogram of its gene values. A cache keeps the features
// of its points for each, so a growing set computes each genome's features once.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "genome/population.h"
#include "gp/wl.h"

namespace nasaccel {

enum class Metric : int {
    Edit = 0,        // weighted edit distance (genome/distance.h)
    Hamming = 1,     // per pair, a bit mask of the gene positions that differ (fixed-length genomes)
    WL = 2,          // normalised Weisfeiler-Lehman subtree similarity (param = iterations)
    SqEuclidean = 3, // squared Euclidean distance between numeric encodings
    Histogram = 4    // normalised inner product of the gene-value histograms (gp/wl.h)
};

// WL and Histogram: matrices of normalised inner products of feature counts.
inline bool isFeatureMetric(Metric m) { return m == Metric::WL || m == Metric::Histogram; }

struct MetricKey {
    Metric metric = Metric::Edit;
    int param = 0;
    bool operator==(const MetricKey &o) const { return metric == o.metric && param == o.param; }
    bool operator<(const MetricKey &o) const {
        return metric != o.metric ? metric < o.metric : param < o.param;
    }
    std::string name() const;
};

class KernelData {
public:
    KernelData() = default;
    // genomes may be absent; features is row-major n x dim (empty when dim == 0). When both are
    // given they must have the same number of rows.
    KernelData(std::optional<Population> genomes, std::vector<double> features, size_t dim);

    size_t size() const { return n_; }
    bool hasGenomes() const { return genomes_.has_value(); }
    bool hasFeatures() const { return dim_ > 0; }
    const Population &genomes() const;  // std::invalid_argument when absent
    size_t dim() const { return dim_; }
    const double *features(size_t i) const { return features_.data() + i * dim_; }
    // Appends other's rows; other must carry the same kinds of input (and an equal spec / dim).
    void extend(const KernelData &other);

private:
    std::optional<Population> genomes_;
    std::vector<double> features_;
    size_t dim_ = 0, n_ = 0;
};

// One base matrix, row-major rows x cols: doubles, or uint64 masks for Metric::Hamming.
struct MetricMatrix {
    MetricKey key;
    std::vector<double> values;
    std::vector<uint64_t> masks;
};

// The label counts of a feature metric (gp/wl.h) for a set of genomes, and their norms.
struct FeatureSet {
    std::vector<LabelCounts> features;
    std::vector<double> norms;
    size_t size() const { return norms.size(); }
    void append(FeatureSet &&more);
    void truncate(size_t n);
};

// The features of genomes [begin, end) of p for a feature metric: WL (param = iterations) reads each
// genome as p's spec's graph; Histogram counts its gene values.
FeatureSet featureSet(const MetricKey &key, const Population &p, size_t begin, size_t end, int threads);

class DistanceCache {
public:
    // Self cache (y absent): the symmetric matrices of x against itself. Cross cache: x rows, y columns.
    DistanceCache(std::vector<MetricKey> metrics, KernelData x, std::optional<KernelData> y, int threads = 0);

    bool symmetric() const { return !y_.has_value(); }
    size_t rows() const { return x_.size(); }
    size_t cols() const { return y_ ? y_->size() : x_.size(); }
    const KernelData &x() const { return x_; }
    const KernelData &y() const { return y_ ? *y_ : x_; }
    const std::vector<MetricMatrix> &matrices() const { return mats_; }
    bool has(const MetricKey &key) const;
    // std::invalid_argument naming the metric when the cache was built without it.
    const MetricMatrix &matrix(const MetricKey &key) const;

    // Self cache: appends points (new rows and columns). Cross cache: use extendRows / extendColumns.
    void extend(const KernelData &more, int threads = 0);
    void extendRows(const KernelData &more, int threads = 0);
    void extendColumns(const KernelData &more, int threads = 0);

private:
    std::vector<MetricKey> keys_;
    KernelData x_;
    std::optional<KernelData> y_;
    std::vector<MetricMatrix> mats_;
    // Features of the rows (x) and, in a cross cache, of the columns (y), by feature metric.
    std::map<MetricKey, FeatureSet> xFeat_, yFeat_;
};

// Base matrices between rows [a0, a1) of a and rows [b0, b1) of b, row-major, written to out
// (values, or masks for Hamming). For a feature metric, fa / fb may hold the features of every row of
// a / b, which are then not recomputed. Exposed for tests and benchmarks.
void computeBlock(const MetricKey &key, const KernelData &a, size_t a0, size_t a1, const KernelData &b, size_t b0,
                  size_t b1, MetricMatrix &out, int threads, const FeatureSet *fa = nullptr,
                  const FeatureSet *fb = nullptr);

}  // namespace nasaccel
