#include "gp/kernel.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "common/bits.h"
#include "common/parallel.h"

namespace nasaccel {

namespace {

std::string num(double v) {
    std::ostringstream s;
    s.precision(6);
    s << v;
    return s.str();
}

double fromLog(double t, const char *what) {
    if (!std::isfinite(t)) throw std::invalid_argument(std::string("log ") + what + " " + num(t) + " is not finite");
    return std::exp(t);
}

}  // namespace

Positive::Positive(const std::string &what, double v, double l, double h) : value(v), lo(l), hi(h) {
    if (!(std::isfinite(v) && v > 0)) throw std::invalid_argument(what + " must be positive and finite, got " + num(v));
    if (!(std::isfinite(l) && std::isfinite(h) && l > 0 && l <= h))
        throw std::invalid_argument(what + " bounds must satisfy 0 < low <= high < inf, got (" + num(l) + ", " +
                                    num(h) + ")");
}

// ---- Kernel

std::vector<double> Kernel::theta() const {
    std::vector<double> t(numParams());
    getTheta(t.data());
    return t;
}

void Kernel::setThetaVector(const std::vector<double> &theta) {
    if (theta.size() != numParams())
        throw std::invalid_argument("theta has " + std::to_string(theta.size()) + " values, the kernel has " +
                                    std::to_string(numParams()) + " hyper-parameters");
    for (size_t q = 0; q < theta.size(); ++q)
        if (!std::isfinite(theta[q]))
            throw std::invalid_argument("theta[" + std::to_string(q) + "] = " + num(theta[q]) + " is not finite");
    setTheta(theta.data());
}

std::vector<std::string> Kernel::names() const {
    std::vector<std::string> out;
    paramNames("", out);
    return out;
}

std::vector<MetricKey> Kernel::requiredMetrics() const {
    std::vector<MetricKey> out;
    metrics(out);
    return out;
}

void Kernel::gram(const DistanceCache &cache, double *out, double *grad, int threads) const {
    for (const auto &k : requiredMetrics()) cache.matrix(k);  // fail before any thread starts
    const size_t n = cache.rows(), m = cache.cols(), p = numParams();
    // Starting threads costs more than a small matrix's transforms (far more on a loaded machine).
    if (static_cast<double>(n) * static_cast<double>(m) * static_cast<double>(p + 1) < double(1 << 17)) threads = 1;
    parallelFor(n, threads, [&](size_t i) {
        std::vector<double *> rows(grad ? p : 0);
        for (size_t q = 0; q < rows.size(); ++q) rows[q] = grad + q * n * m + i * m;
        evalRow(cache, i, out + i * m, grad ? rows.data() : nullptr);
    }, 8);
}

// ---- EditDistanceKernel

EditDistanceKernel::EditDistanceKernel(double l, bool squared, double lo, double hi)
    : l_(l), lo_(lo), hi_(hi), squared_(squared) {
    Positive("edit-distance length_scale", l, lo, hi);
}

void EditDistanceKernel::paramNames(const std::string &prefix, std::vector<std::string> &out) const {
    out.push_back(prefix + "length_scale");
}
void EditDistanceKernel::getTheta(double *out) const { out[0] = std::log(l_); }
void EditDistanceKernel::setTheta(const double *in) { l_ = fromLog(in[0], "length_scale"); }
void EditDistanceKernel::getBounds(double *lo, double *hi) const {
    lo[0] = std::log(lo_);
    hi[0] = std::log(hi_);
}
std::string EditDistanceKernel::describe() const {
    return std::string("EditDistanceKernel(length_scale=") + num(l_) + (squared_ ? ", squared=True)" : ")");
}

void EditDistanceKernel::evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const {
    const MetricMatrix &mm = cache.matrix({Metric::Edit, 0});
    const size_t m = cache.cols();
    const double *d = mm.values.data() + i * m;
    if (squared_) {
        const double inv = 1.0 / (l_ * l_);
        for (size_t j = 0; j < m; ++j) {
            const double u = d[j] * d[j] * inv;
            k[j] = std::exp(-u);
            if (grad) grad[0][j] = k[j] * 2.0 * u;
        }
    } else {
        const double inv = 1.0 / l_;
        for (size_t j = 0; j < m; ++j) {
            const double u = d[j] * inv;
            k[j] = std::exp(-u);
            if (grad) grad[0][j] = k[j] * u;
        }
    }
}

// ---- HammingKernel

HammingKernel::HammingKernel(std::vector<double> ls, double lo, double hi) : l_(std::move(ls)), lo_(lo), hi_(hi) {
    if (l_.empty()) throw std::invalid_argument("Hamming kernel needs at least one length scale");
    if (l_.size() > 64)
        throw std::invalid_argument("Hamming kernel supports at most 64 gene positions, got " +
                                    std::to_string(l_.size()) + " length scales");
    for (size_t g = 0; g < l_.size(); ++g) Positive("Hamming length_scale[" + std::to_string(g) + "]", l_[g], lo, hi);
}

void HammingKernel::paramNames(const std::string &prefix, std::vector<std::string> &out) const {
    if (l_.size() == 1) out.push_back(prefix + "length_scale");
    else
        for (size_t g = 0; g < l_.size(); ++g) out.push_back(prefix + "length_scale_" + std::to_string(g));
}
void HammingKernel::getTheta(double *out) const {
    for (size_t g = 0; g < l_.size(); ++g) out[g] = std::log(l_[g]);
}
void HammingKernel::setTheta(const double *in) {
    for (size_t g = 0; g < l_.size(); ++g) l_[g] = fromLog(in[g], "length_scale");
}
void HammingKernel::getBounds(double *lo, double *hi) const {
    for (size_t g = 0; g < l_.size(); ++g) {
        lo[g] = std::log(lo_);
        hi[g] = std::log(hi_);
    }
}
std::string HammingKernel::describe() const {
    std::string s = "HammingKernel(length_scale=";
    if (l_.size() == 1) return s + num(l_[0]) + ")";
    s += "[";
    for (size_t g = 0; g < l_.size(); ++g) s += (g ? ", " : "") + num(l_[g]);
    return s + "])";
}

void HammingKernel::evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const {
    const MetricMatrix &mm = cache.matrix({Metric::Hamming, 0});
    const size_t m = cache.cols();
    const uint64_t *d = mm.masks.data() + i * m;
    if (l_.size() == 1) {
        const double inv = 1.0 / l_[0];
        for (size_t j = 0; j < m; ++j) {
            const double u = static_cast<double>(popcount64(d[j])) * inv;
            k[j] = std::exp(-u);
            if (grad) grad[0][j] = k[j] * u;
        }
        return;
    }
    const size_t L = l_.size();
    std::vector<double> w(L);
    for (size_t g = 0; g < L; ++g) w[g] = 1.0 / l_[g];
    for (size_t j = 0; j < m; ++j) {
        if (d[j] >> L) throw std::invalid_argument("genomes have more gene positions than the Hamming kernel's " +
                                                   std::to_string(L) + " length scales");
        double u = 0.0;
        for (uint64_t b = d[j]; b; b &= b - 1) u += w[static_cast<size_t>(lowestBit(b))];
        k[j] = std::exp(-u);
        if (grad)
            for (size_t g = 0; g < L; ++g) grad[g][j] = ((d[j] >> g) & 1) ? k[j] * w[g] : 0.0;
    }
}

// ---- WLKernel

WLKernel::WLKernel(int iterations) : iterations_(iterations) {
    if (iterations < 0 || iterations > 64)
        throw std::invalid_argument("Weisfeiler-Lehman iterations must be in [0, 64], got " + std::to_string(iterations));
}
WLKernel::WLKernel(int iterations, double l, double lo, double hi) : WLKernel(iterations) {
    Positive("Weisfeiler-Lehman length_scale", l, lo, hi);
    rbf_ = true;
    l_ = l;
    lo_ = lo;
    hi_ = hi;
}
void WLKernel::paramNames(const std::string &prefix, std::vector<std::string> &out) const {
    if (rbf_) out.push_back(prefix + "length_scale");
}
void WLKernel::getTheta(double *out) const {
    if (rbf_) out[0] = std::log(l_);
}
void WLKernel::setTheta(const double *in) {
    if (rbf_) l_ = fromLog(in[0], "length_scale");
}
void WLKernel::getBounds(double *lo, double *hi) const {
    if (!rbf_) return;
    lo[0] = std::log(lo_);
    hi[0] = std::log(hi_);
}
std::string WLKernel::describe() const {
    return "WLKernel(iterations=" + std::to_string(iterations_) + (rbf_ ? ", length_scale=" + num(l_) : "") + ")";
}
void WLKernel::evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const {
    const MetricMatrix &mm = cache.matrix({Metric::WL, iterations_});
    const size_t m = cache.cols();
    const double *s = mm.values.data() + i * m;
    if (!rbf_) {
        for (size_t j = 0; j < m; ++j) k[j] = s[j];
        return;
    }
    // exp(-u) with u = (1 - s) / l^2; d k / d log l = 2 u k. Rounding can put s a hair above 1: u >= 0.
    const double inv = 1.0 / (l_ * l_);
    for (size_t j = 0; j < m; ++j) {
        const double u = std::max(0.0, 1.0 - s[j]) * inv;
        k[j] = std::exp(-u);
        if (grad) grad[0][j] = 2.0 * u * k[j];
    }
}

// ---- HistogramKernel

void HistogramKernel::evalRow(const DistanceCache &cache, size_t i, double *k, double *const *) const {
    const MetricMatrix &mm = cache.matrix({Metric::Histogram, 0});
    const size_t m = cache.cols();
    std::copy_n(mm.values.data() + i * m, m, k);
}

// ---- StationaryKernel

StationaryKernel::StationaryKernel(Kind kind, double l, double lo, double hi) : kind_(kind), l_(l), lo_(lo), hi_(hi) {
    Positive(kind == Kind::RBF ? "RBF length_scale" : "Matern length_scale", l, lo, hi);
}
void StationaryKernel::paramNames(const std::string &prefix, std::vector<std::string> &out) const {
    out.push_back(prefix + "length_scale");
}
void StationaryKernel::getTheta(double *out) const { out[0] = std::log(l_); }
void StationaryKernel::setTheta(const double *in) { l_ = fromLog(in[0], "length_scale"); }
void StationaryKernel::getBounds(double *lo, double *hi) const {
    lo[0] = std::log(lo_);
    hi[0] = std::log(hi_);
}
std::string StationaryKernel::describe() const {
    return std::string(kind_ == Kind::RBF ? "RBFKernel" : "MaternKernel") + "(length_scale=" + num(l_) + ")";
}
void StationaryKernel::evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const {
    const MetricMatrix &mm = cache.matrix({Metric::SqEuclidean, 0});
    const size_t m = cache.cols();
    const double *d2 = mm.values.data() + i * m;
    const double inv2 = 1.0 / (l_ * l_);
    if (kind_ == Kind::RBF) {
        for (size_t j = 0; j < m; ++j) {
            const double u = d2[j] * inv2;
            k[j] = std::exp(-0.5 * u);
            if (grad) grad[0][j] = k[j] * u;
        }
        return;
    }
    const double s5 = std::sqrt(5.0);
    for (size_t j = 0; j < m; ++j) {
        const double r = std::sqrt(d2[j] * inv2);
        const double e = std::exp(-s5 * r);
        k[j] = (1.0 + s5 * r + 5.0 / 3.0 * r * r) * e;
        if (grad) grad[0][j] = 5.0 / 3.0 * r * r * (1.0 + s5 * r) * e;
    }
}

// ---- ConstantKernel

ConstantKernel::ConstantKernel(double c, double lo, double hi) : c_(c), lo_(lo), hi_(hi) {
    Positive("constant_value", c, lo, hi);
}
void ConstantKernel::paramNames(const std::string &prefix, std::vector<std::string> &out) const {
    out.push_back(prefix + "constant_value");
}
void ConstantKernel::getTheta(double *out) const { out[0] = std::log(c_); }
void ConstantKernel::setTheta(const double *in) { c_ = fromLog(in[0], "constant_value"); }
void ConstantKernel::getBounds(double *lo, double *hi) const {
    lo[0] = std::log(lo_);
    hi[0] = std::log(hi_);
}
std::string ConstantKernel::describe() const { return num(c_); }
void ConstantKernel::evalRow(const DistanceCache &cache, size_t, double *k, double *const *grad) const {
    const size_t m = cache.cols();
    for (size_t j = 0; j < m; ++j) {
        k[j] = c_;
        if (grad) grad[0][j] = c_;
    }
}

// ---- Sum and product

namespace {
KernelPtr checked(KernelPtr k, const char *which) {
    if (!k) throw std::invalid_argument(std::string("the ") + which + " operand of a kernel combination is None");
    return k;
}
}  // namespace

SumKernel::SumKernel(KernelPtr a, KernelPtr b) : a_(checked(std::move(a), "first")), b_(checked(std::move(b), "second")) {}
void SumKernel::paramNames(const std::string &prefix, std::vector<std::string> &out) const {
    a_->paramNames(prefix + "k1__", out);
    b_->paramNames(prefix + "k2__", out);
}
void SumKernel::getTheta(double *out) const {
    a_->getTheta(out);
    b_->getTheta(out + a_->numParams());
}
void SumKernel::setTheta(const double *in) {
    a_->setTheta(in);
    b_->setTheta(in + a_->numParams());
}
void SumKernel::getBounds(double *lo, double *hi) const {
    a_->getBounds(lo, hi);
    b_->getBounds(lo + a_->numParams(), hi + a_->numParams());
}
void SumKernel::metrics(std::vector<MetricKey> &out) const {
    a_->metrics(out);
    b_->metrics(out);
}
std::string SumKernel::describe() const { return a_->describe() + " + " + b_->describe(); }
void SumKernel::evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const {
    const size_t m = cache.cols();
    std::vector<double> tmp(m);
    a_->evalRow(cache, i, tmp.data(), grad);
    b_->evalRow(cache, i, k, grad ? grad + a_->numParams() : nullptr);
    for (size_t j = 0; j < m; ++j) k[j] += tmp[j];
}

ProductKernel::ProductKernel(KernelPtr a, KernelPtr b)
    : a_(checked(std::move(a), "first")), b_(checked(std::move(b), "second")) {}
void ProductKernel::paramNames(const std::string &prefix, std::vector<std::string> &out) const {
    a_->paramNames(prefix + "k1__", out);
    b_->paramNames(prefix + "k2__", out);
}
void ProductKernel::getTheta(double *out) const {
    a_->getTheta(out);
    b_->getTheta(out + a_->numParams());
}
void ProductKernel::setTheta(const double *in) {
    a_->setTheta(in);
    b_->setTheta(in + a_->numParams());
}
void ProductKernel::getBounds(double *lo, double *hi) const {
    a_->getBounds(lo, hi);
    b_->getBounds(lo + a_->numParams(), hi + a_->numParams());
}
void ProductKernel::metrics(std::vector<MetricKey> &out) const {
    a_->metrics(out);
    b_->metrics(out);
}
std::string ProductKernel::describe() const {
    auto wrap = [](const KernelPtr &k) {
        const std::string s = k->describe();
        return dynamic_cast<const SumKernel *>(k.get()) ? "(" + s + ")" : s;
    };
    return wrap(a_) + " * " + wrap(b_);
}
void ProductKernel::evalRow(const DistanceCache &cache, size_t i, double *k, double *const *grad) const {
    const size_t m = cache.cols(), pa = a_->numParams(), pb = b_->numParams();
    std::vector<double> ka(m), kb(m);
    a_->evalRow(cache, i, ka.data(), grad);
    b_->evalRow(cache, i, kb.data(), grad ? grad + pa : nullptr);
    if (grad) {
        for (size_t q = 0; q < pa; ++q)
            for (size_t j = 0; j < m; ++j) grad[q][j] *= kb[j];
        for (size_t q = 0; q < pb; ++q)
            for (size_t j = 0; j < m; ++j) grad[pa + q][j] *= ka[j];
    }
    for (size_t j = 0; j < m; ++j) k[j] = ka[j] * kb[j];
}

}  // namespace nasaccel
