#pragma once
// The kernel algebra of the GP: base kernels over genomes and numeric encodings, composed with
// sums, products and constants. Hyper-parameters form one flat vector, theta, in log space (as in
// scikit-learn's kernels), with names and bounds; sums and products concatenate their operands'.
//
// A kernel is evaluated on a DistanceCache built for it (it holds every base matrix the kernel's
// leaves read), so changing theta only re-applies the transforms. Every base kernel here has
// k(x, x) equal to a constant that does not depend on x; diagValue() returns it.
#include <memory>
#include <string>
#include <vector>

#include "gp/data.h"

namespace nasaccel {

class Kernel {
public:
    virtual ~Kernel() = default;
    virtual size_t numParams() const = 0;
    virtual void paramNames(const std::string &prefix, std::vector<std::string> &out) const = 0;
    virtual void getTheta(double *out) const = 0;  // log values
    virtual void setTheta(const double *in) = 0;   // log values, finite
    virtual void getBounds(double *lo, double *hi) const = 0;  // log bounds
    virtual void metrics(std::vector<MetricKey> &out) const = 0;
    virtual double diagValue() const = 0;
    virtual std::string describe() const = 0;
    // Row i of the Gram matrix into k[0 .. cols); when grad is not null, grad[q] receives the row of
    // dK/dtheta_q for each of this kernel's parameters q.
    virtual void evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const = 0;

    std::vector<double> theta() const;
    void setThetaVector(const std::vector<double> &theta);  // std::invalid_argument on a bad length or value
    std::vector<std::string> names() const;
    std::vector<MetricKey> requiredMetrics() const;
    // Row-major rows x cols Gram matrix into out; with grad, numParams() matrices one after the other.
    void gram(const DistanceCache &cache, double *out, double *grad, int threads) const;
};

using KernelPtr = std::shared_ptr<Kernel>;

// Bounds and initial value of one positive hyper-parameter, checked on construction.
struct Positive {
    double value, lo, hi;
    Positive(const std::string &what, double value, double lo, double hi);
};

// exp(-d / l) or, with squared, exp(-d^2 / l^2), d the weighted edit distance. Not positive
// semi-definite in general: the GP repairs and reports it.
class EditDistanceKernel : public Kernel {
public:
    EditDistanceKernel(double lengthScale, bool squared, double lo, double hi);
    size_t numParams() const override { return 1; }
    void paramNames(const std::string &prefix, std::vector<std::string> &out) const override;
    void getTheta(double *out) const override;
    void setTheta(const double *in) override;
    void getBounds(double *lo, double *hi) const override;
    void metrics(std::vector<MetricKey> &out) const override { out.push_back({Metric::Edit, 0}); }
    double diagValue() const override { return 1.0; }
    std::string describe() const override;
    void evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const override;
    bool squared() const { return squared_; }

private:
    double l_, lo_, hi_;
    bool squared_;
};

// exp(-sum_g [a_g != b_g] / l_g) over gene positions g of fixed-length genomes: one length scale
// (isotropic) or one per position (ARD). A product of per-position PSD kernels, hence PSD.
class HammingKernel : public Kernel {
public:
    HammingKernel(std::vector<double> lengthScales, double lo, double hi);
    size_t numParams() const override { return l_.size(); }
    void paramNames(const std::string &prefix, std::vector<std::string> &out) const override;
    void getTheta(double *out) const override;
    void setTheta(const double *in) override;
    void getBounds(double *lo, double *hi) const override;
    void metrics(std::vector<MetricKey> &out) const override { out.push_back({Metric::Hamming, 0}); }
    double diagValue() const override { return 1.0; }
    std::string describe() const override;
    void evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const override;

private:
    std::vector<double> l_;
    double lo_, hi_;
};

// Normalised Weisfeiler-Lehman subtree kernel (gp/wl.h): the similarity s = <f_a, f_b> / (|f_a| |f_b|) of the
// feature counts, with no hyper-parameter; or, given a length scale l, an RBF on the normalised feature
// vectors, exp(-|f_a/|f_a| - f_b/|f_b||^2 / (2 l^2)) = exp(-(1 - s) / l^2). The first is PSD as a dot product;
// the second as the exponential of a PSD kernel times a constant.
class WLKernel : public Kernel {
public:
    explicit WLKernel(int iterations);                                        // the similarity s
    WLKernel(int iterations, double lengthScale, double lo, double hi);       // the RBF on the features
    size_t numParams() const override { return rbf_ ? 1 : 0; }
    void paramNames(const std::string &prefix, std::vector<std::string> &out) const override;
    void getTheta(double *out) const override;
    void setTheta(const double *in) override;
    void getBounds(double *lo, double *hi) const override;
    void metrics(std::vector<MetricKey> &out) const override { out.push_back({Metric::WL, iterations_}); }
    double diagValue() const override { return 1.0; }
    std::string describe() const override;
    void evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const override;
    int iterations() const { return iterations_; }
    bool hasLengthScale() const { return rbf_; }
    double lengthScale() const { return l_; }

private:
    int iterations_;
    bool rbf_ = false;
    double l_ = 0.0, lo_ = 0.0, hi_ = 0.0;
};

// Normalised inner product of the gene-value histograms (gp/wl.h): the cosine similarity of what two
// genomes are made of, position-free. No hyper-parameter; PSD as a dot product.
class HistogramKernel : public Kernel {
public:
    size_t numParams() const override { return 0; }
    void paramNames(const std::string &, std::vector<std::string> &) const override {}
    void getTheta(double *) const override {}
    void setTheta(const double *) override {}
    void getBounds(double *, double *) const override {}
    void metrics(std::vector<MetricKey> &out) const override { out.push_back({Metric::Histogram, 0}); }
    double diagValue() const override { return 1.0; }
    std::string describe() const override { return "HistogramKernel()"; }
    void evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const override;
};

// Over numeric encodings, isotropic: RBF exp(-r^2 / (2 l^2)) and Matern 5/2
// (1 + sqrt(5) r / l + 5 r^2 / (3 l^2)) exp(-sqrt(5) r / l), as scikit-learn defines them.
class StationaryKernel : public Kernel {
public:
    enum class Kind { RBF, Matern52 };
    StationaryKernel(Kind kind, double lengthScale, double lo, double hi);
    size_t numParams() const override { return 1; }
    void paramNames(const std::string &prefix, std::vector<std::string> &out) const override;
    void getTheta(double *out) const override;
    void setTheta(const double *in) override;
    void getBounds(double *lo, double *hi) const override;
    void metrics(std::vector<MetricKey> &out) const override { out.push_back({Metric::SqEuclidean, 0}); }
    double diagValue() const override { return 1.0; }
    std::string describe() const override;
    void evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const override;

private:
    Kind kind_;
    double l_, lo_, hi_;
};

class RBFKernel : public StationaryKernel {
public:
    RBFKernel(double lengthScale, double lo, double hi) : StationaryKernel(Kind::RBF, lengthScale, lo, hi) {}
};

class MaternKernel : public StationaryKernel {
public:
    MaternKernel(double lengthScale, double lo, double hi) : StationaryKernel(Kind::Matern52, lengthScale, lo, hi) {}
};

// A constant c everywhere (c * k is Product(Constant(c), k)).
class ConstantKernel : public Kernel {
public:
    ConstantKernel(double value, double lo, double hi);
    size_t numParams() const override { return 1; }
    void paramNames(const std::string &prefix, std::vector<std::string> &out) const override;
    void getTheta(double *out) const override;
    void setTheta(const double *in) override;
    void getBounds(double *lo, double *hi) const override;
    void metrics(std::vector<MetricKey> &) const override {}
    double diagValue() const override { return c_; }
    std::string describe() const override;
    void evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const override;

private:
    double c_, lo_, hi_;
};

class SumKernel : public Kernel {
public:
    SumKernel(KernelPtr a, KernelPtr b);
    size_t numParams() const override { return a_->numParams() + b_->numParams(); }
    void paramNames(const std::string &prefix, std::vector<std::string> &out) const override;
    void getTheta(double *out) const override;
    void setTheta(const double *in) override;
    void getBounds(double *lo, double *hi) const override;
    void metrics(std::vector<MetricKey> &out) const override;
    double diagValue() const override { return a_->diagValue() + b_->diagValue(); }
    std::string describe() const override;
    void evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const override;
    const KernelPtr &first() const { return a_; }
    const KernelPtr &second() const { return b_; }

private:
    KernelPtr a_, b_;
};

class ProductKernel : public Kernel {
public:
    ProductKernel(KernelPtr a, KernelPtr b);
    size_t numParams() const override { return a_->numParams() + b_->numParams(); }
    void paramNames(const std::string &prefix, std::vector<std::string> &out) const override;
    void getTheta(double *out) const override;
    void setTheta(const double *in) override;
    void getBounds(double *lo, double *hi) const override;
    void metrics(std::vector<MetricKey> &out) const override;
    double diagValue() const override { return a_->diagValue() * b_->diagValue(); }
    std::string describe() const override;
    void evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const override;
    const KernelPtr &first() const { return a_; }
    const KernelPtr &second() const { return b_; }

private:
    KernelPtr a_, b_;
};

}  // namespace nasaccel
