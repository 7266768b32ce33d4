#include "genome/population.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include "common/parallel.h"
#include "common/rng.h"
#include "genome/distance.h"
#include "genome/random.h"

namespace nasaccel {

namespace {

// Children per block: large enough that a block's three allocations are noise, small enough that
// two threads balance well and a block's buffers stay in cache while it is written.
constexpr size_t kChunk = 64;

// Below this many children a batch takes ~0.1 ms on one thread, less than starting a worker costs.
constexpr size_t kMinParallel = 2048;

size_t chunksFor(size_t n) { return (n + kChunk - 1) / kChunk; }

// Buffers of freed populations, kept for the next batch. glibc returns freed heap tops to the
// system, and faulting fresh pages back in (about 2 us per 4 KiB page here) cost more than the
// batch operators themselves; the pool bounds what it keeps, so idle memory stays small.
class BufferPool {
public:
    static BufferPool &instance() {
        static BufferPool *pool = new BufferPool();  // never destroyed: populations may outlive statics
        return *pool;
    }

    void takeBlocks(std::vector<Population::Block> &out) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto &b : out) {
            if (blocks_.empty()) return;
            b = std::move(blocks_.back());
            blocks_.pop_back();
            bytes_ -= bytesOf(b);
            b.genes.clear();
            b.skips.clear();
            b.starts.assign(1, 0);
        }
    }

    std::vector<GenomeView> takeViews(size_t n) {
        std::vector<GenomeView> v;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            // A much larger buffer would tie its memory to a small population, so it stays pooled.
            if (!views_.empty() && views_.back().capacity() >= n && views_.back().capacity() <= 2 * n + 1024) {
                v = std::move(views_.back());
                views_.pop_back();
                bytes_ -= v.capacity() * sizeof(GenomeView);
            }
        }
        v.resize(n);
        return v;
    }

    void give(std::vector<Population::Block> &blocks, std::vector<GenomeView> &views) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto &b : blocks) {
            const size_t sz = bytesOf(b);
            if (bytes_ + sz > kMaxBytes) break;
            bytes_ += sz;
            blocks_.push_back(std::move(b));
        }
        const size_t sz = views.capacity() * sizeof(GenomeView);
        if (sz > 0 && bytes_ + sz <= kMaxBytes) {
            bytes_ += sz;
            views_.push_back(std::move(views));
        }
    }

private:
    static constexpr size_t kMaxBytes = size_t(64) << 20;
    static size_t bytesOf(const Population::Block &b) {
        return b.genes.capacity() * sizeof(int32_t) + b.skips.capacity() * sizeof(uint64_t) +
               b.starts.capacity() * sizeof(size_t);
    }
    std::mutex mutex_;
    std::vector<Population::Block> blocks_;
    std::vector<std::vector<GenomeView>> views_;
    size_t bytes_ = 0;
};

}  // namespace

void Population::Block::append(const GenomeView &g) {
    genes.insert(genes.end(), g.genes, g.genes + g.numGenes * g.numFields);
    skips.insert(skips.end(), g.skips, g.skips + g.numGenes);
    starts.push_back(skips.size());
}

void Population::Block::reserve(size_t genomes, size_t geneCount, size_t numFields) {
    genes.reserve(geneCount * numFields);
    skips.reserve(geneCount);
    starts.reserve(genomes + 1);
}

Population::Population(SpaceSpec spec) : spec_(std::move(spec)) {}

Population::Population(SpaceSpec spec, const std::vector<Genome> &genomes) : spec_(std::move(spec)) {
    if (genomes.size() > kMaxSize)
        throw std::invalid_argument("population of " + std::to_string(genomes.size()) + " genomes exceeds " +
                                    std::to_string(kMaxSize));
    size_t total = 0;
    for (size_t i = 0; i < genomes.size(); ++i) {
        const std::string msg = spec_.check(genomes[i]);
        if (!msg.empty())
            throw std::invalid_argument("genome " + std::to_string(i) + " '" + shortText(genomes[i]) +
                                        "' is invalid: " + msg);
        total += genomes[i].numGenes();
    }
    if (genomes.empty()) return;
    std::vector<Block> blocks(1);
    blocks[0].reserve(genomes.size(), total, spec_.numFields());
    for (const auto &g : genomes) blocks[0].append(g.view());
    adoptBlocks(std::move(blocks));
}

Population::~Population() {
    try {
        BufferPool::instance().give(blocks_, views_);
    } catch (...) {  // the pool only keeps buffers; failing to keep them loses nothing
    }
}

Population::Population(const Population &o) : spec_(o.spec_), blocks_(o.blocks_) { rebuildViews(); }
Population::Population(Population &&o) noexcept
    : spec_(std::move(o.spec_)), blocks_(std::move(o.blocks_)), views_(std::move(o.views_)) {}
Population &Population::operator=(const Population &o) {
    if (this == &o) return *this;
    checkWritable();
    spec_ = o.spec_;
    blocks_ = o.blocks_;
    rebuildViews();
    return *this;
}
Population &Population::operator=(Population &&o) noexcept {
    if (this == &o) return *this;
    try {
        BufferPool::instance().give(blocks_, views_);
    } catch (...) {  // the pool only keeps buffers; failing to keep them loses nothing
    }
    spec_ = std::move(o.spec_);
    blocks_ = std::move(o.blocks_);
    views_ = std::move(o.views_);
    return *this;
}

void Population::rebuildViews() {
    views_.clear();
    size_t total = 0;
    for (const auto &b : blocks_) total += b.size();
    views_.reserve(total);
    const size_t nf = spec_.numFields();
    for (const auto &b : blocks_)
        for (size_t k = 0; k < b.size(); ++k)
            views_.push_back({b.genes.data() + b.starts[k] * nf, b.skips.data() + b.starts[k],
                              b.starts[k + 1] - b.starts[k], nf});
}

void Population::adoptBlocks(std::vector<Block> &&blocks) {
    // Moving a Block moves its vectors' heap buffers, not the data, so earlier views stay valid.
    for (auto &b : blocks)
        if (b.size() > 0) blocks_.push_back(std::move(b));
    rebuildViews();
}

void Population::checkWritable() const {
    if (readers_.load() != 0)
        throw std::runtime_error("population is being read by a batch operation in another thread; "
                                 "add genomes after it returns");
}

void Population::checkIndex(int64_t i, const char *what) const {
    if (i < 0 || static_cast<uint64_t>(i) >= views_.size())
        throw std::out_of_range(std::string(what) + " " + std::to_string(i) + " out of range [0, " +
                                std::to_string(views_.size()) + ")");
}

const GenomeView &Population::view(size_t i) const {
    if (i >= views_.size())
        throw std::out_of_range("index " + std::to_string(i) + " out of range [0, " + std::to_string(views_.size()) +
                                ")");
    return views_[i];
}

Genome Population::get(size_t i) const { return Genome(view(i)); }

void Population::add(const Genome &g) {
    checkWritable();
    if (views_.size() >= kMaxSize)
        throw std::invalid_argument("population already holds " + std::to_string(kMaxSize) + " genomes");
    spec_.validate(g);
    if (blocks_.empty()) blocks_.emplace_back();
    Block &tail = blocks_.back();
    const size_t first = views_.size() - tail.size();  // index of the tail block's first genome
    const int32_t *genes = tail.genes.data();
    const uint64_t *skips = tail.skips.data();
    tail.append(g.view());
    views_.emplace_back();
    // When the tail block grew into new buffers all its views move; otherwise only the new one is set.
    const bool moved = tail.genes.data() != genes || tail.skips.data() != skips;
    const size_t nf = spec_.numFields();
    for (size_t k = moved ? 0 : tail.size() - 1; k < tail.size(); ++k)
        views_[first + k] = {tail.genes.data() + tail.starts[k] * nf, tail.skips.data() + tail.starts[k],
                             tail.starts[k + 1] - tail.starts[k], nf};
}

void Population::extend(const Population &other) {
    checkWritable();
    if (!(other.spec_ == spec_))
        throw std::invalid_argument("cannot extend a population of " + spec_.describe() + " with one of " +
                                    other.spec_.describe());
    if (views_.size() + other.views_.size() > kMaxSize)
        throw std::invalid_argument("extended population would exceed " + std::to_string(kMaxSize) + " genomes");
    std::vector<Block> copies = other.blocks_;  // copied first: other may be this population
    adoptBlocks(std::move(copies));
}

std::vector<std::string> Population::texts() const {
    std::vector<std::string> out;
    out.reserve(views_.size());
    for (const auto &v : views_) out.push_back(Genome(v).toText());
    return out;
}

std::vector<uint64_t> Population::hashes() const {
    std::vector<uint64_t> out;
    out.reserve(views_.size());
    for (const auto &v : views_) out.push_back(Genome(v).hash());
    return out;
}

std::vector<size_t> Population::lengths() const {
    std::vector<size_t> out;
    out.reserve(views_.size());
    for (const auto &v : views_) out.push_back(v.numGenes);
    return out;
}

template <class Chunk>
Population Population::buildBatch(const SpaceSpec &spec, size_t n, int threads, Chunk &&chunk) {
    Population p(spec);
    std::vector<Block> blocks(chunksFor(n));
    BufferPool::instance().takeBlocks(blocks);
    p.views_ = BufferPool::instance().takeViews(n);
    const size_t nf = spec.numFields();
    parallelFor(blocks.size(), n < kMinParallel ? 1 : threads, [&](size_t c) {
        const size_t begin = c * kChunk, end = std::min(n, begin + kChunk);
        Block &b = blocks[c];
        chunk(begin, end, b);
        // The block's buffers are final now, and moving the Block later keeps them where they are.
        for (size_t k = 0; k < b.size(); ++k)
            p.views_[begin + k] = {b.genes.data() + b.starts[k] * nf, b.skips.data() + b.starts[k],
                                   b.starts[k + 1] - b.starts[k], nf};
    });
    p.blocks_ = std::move(blocks);
    return p;
}

Population Population::random(const SpaceSpec &spec, size_t n, uint64_t seed, int threads, double skipProbability) {
    if (n > kMaxSize)
        throw std::invalid_argument("population size " + std::to_string(n) + " exceeds " + std::to_string(kMaxSize));
    if (!(skipProbability >= 0.0 && skipProbability <= 1.0))
        throw std::invalid_argument("skip_probability " + std::to_string(skipProbability) + " is outside [0, 1]");
    return buildBatch(spec, n, threads, [&](size_t begin, size_t end, Block &b) {
        // Lengths are unknown before sampling; reserve for the usual ones and let long spaces grow.
        b.reserve(end - begin, (end - begin) * std::min<size_t>(spec.maxGenes(), 64), spec.numFields());
        for (size_t k = begin; k < end; ++k) {
            Rng rng = Rng::forStream(seed, k);
            b.append(randomGenome(spec, rng, skipProbability).view());
        }
    });
}

Population Population::subset(const std::vector<int64_t> &indices) const {
    for (int64_t i : indices) checkIndex(i, "index");
    return buildBatch(spec_, indices.size(), 1, [&](size_t begin, size_t end, Block &b) {
        size_t total = 0;
        for (size_t k = begin; k < end; ++k) total += views_[static_cast<size_t>(indices[k])].numGenes;
        b.reserve(end - begin, total, spec_.numFields());
        for (size_t k = begin; k < end; ++k) b.append(views_[static_cast<size_t>(indices[k])]);
    });
}

Population Population::mutate(const std::vector<int64_t> &parents, uint64_t seed, const MutationWeights &weights,
                              int threads) const {
    for (int64_t i : parents) checkIndex(i, "parent index");
    const Mutator mutator(spec_, weights);
    const size_t nf = spec_.numFields();
    return buildBatch(spec_, parents.size(), threads, [&](size_t begin, size_t end, Block &b) {
        size_t bound = 0;  // a mutation adds at most one gene
        for (size_t k = begin; k < end; ++k) bound += views_[static_cast<size_t>(parents[k])].numGenes + 1;
        b.reserve(end - begin, bound, nf);
        Genome scratch;  // only for insert and delete; its buffers are reused across the chunk
        for (size_t k = begin; k < end; ++k) {
            Rng rng = Rng::forStream(seed, k);
            const GenomeView &parent = views_[static_cast<size_t>(parents[k])];
            const MutationKind kind = mutator.pick(parent, rng);
            if (keepsLength(kind)) {
                // Copy the parent once, straight into the block, and edit it there.
                const size_t start = b.skips.size();
                b.append(parent);
                applyInPlace(kind, spec_, {b.genes.data() + start * nf, b.skips.data() + start, parent.numGenes, nf},
                             rng);
            } else {
                scratch.assign(parent);
                applyMutation(kind, spec_, scratch, rng);
                b.append(scratch.view());
            }
        }
    });
}

Population Population::crossover(const std::vector<int64_t> &a, const std::vector<int64_t> &b, CrossoverKind kind,
                                 uint64_t seed, int threads) const {
    if (a.size() != b.size())
        throw std::invalid_argument("crossover needs as many first parents as second parents, got " +
                                    std::to_string(a.size()) + " and " + std::to_string(b.size()));
    for (int64_t i : a) checkIndex(i, "first parent index");
    for (int64_t i : b) checkIndex(i, "second parent index");
    return buildBatch(spec_, a.size(), threads, [&](size_t begin, size_t end, Block &out) {
        size_t bound = 0;  // index-based children take one parent's length; aligned ones at most both
        for (size_t k = begin; k < end; ++k) {
            const size_t la = views_[static_cast<size_t>(a[k])].numGenes, lb = views_[static_cast<size_t>(b[k])].numGenes;
            bound += kind == CrossoverKind::Aligned ? std::min(la + lb, spec_.maxGenes()) : std::max(la, lb);
        }
        out.reserve(end - begin, bound, spec_.numFields());
        if (kind == CrossoverKind::OnePoint || kind == CrossoverKind::TwoPoint) {
            // Index-based children have a known length: size the block once and write them in place.
            const size_t nf = spec_.numFields();
            out.genes.resize(bound * nf);
            out.skips.resize(bound);
            size_t used = 0;
            for (size_t k = begin; k < end; ++k) {
                Rng rng = Rng::forStream(seed, k);
                used += writeCrossover(spec_, views_[static_cast<size_t>(a[k])], views_[static_cast<size_t>(b[k])], kind,
                                       rng, out.genes.data() + used * nf, out.skips.data() + used);
                out.starts.push_back(used);
            }
            out.genes.resize(used * nf);
            out.skips.resize(used);
            return;
        }
        for (size_t k = begin; k < end; ++k) {
            Rng rng = Rng::forStream(seed, k);
            appendCrossover(spec_, views_[static_cast<size_t>(a[k])], views_[static_cast<size_t>(b[k])], kind, rng,
                            out.genes, out.skips);
            out.starts.push_back(out.skips.size());
        }
    });
}

void Population::distanceMatrix(const Population &other, double *out, int threads) const {
    if (!(other.spec_ == spec_))
        throw std::invalid_argument("distance between populations of different specs: " + spec_.describe() +
                                    " and " + other.spec_.describe());
    nasaccel::distanceMatrix(spec_, views_, other.views_, out, threads);
}

void Population::selfDistanceMatrix(double *out, int threads) const {
    nasaccel::selfDistanceMatrix(spec_, views_, out, threads);
}

void Population::distancesTo(const Genome &g, double *out, int threads) const {
    spec_.validate(g);
    nasaccel::distancesTo(spec_, views_, g.view(), out, threads);
}

}  // namespace nasaccel
