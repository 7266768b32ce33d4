#pragma once
// Mutation and crossover operators on genomes. Every operator draws only from the Rng it is
// given (same seed, same output on every machine) and returns a genome that is valid for the
// spec whenever its inputs are: validity is kept by construction, never by rejection.
//
// Skip masks are relative (bit b = input from offset b+1), so when genes move (insert, delete,
// aligned crossover) each gene keeps its own mask and the bits its new position forbids are cleared.
#include <cstdint>
#include <string>
#include <vector>

#include "common/rng.h"
#include "genome/genome.h"
#include "genome/spec.h"

namespace nasaccel {

enum class MutationKind : int { Point = 0, Insert, Delete, AddSkip, RemoveSkip, MoveSkip };
constexpr size_t kNumMutationKinds = 6;
// "point", "insert", "delete", "add_skip", "remove_skip", "move_skip".
const char *mutationName(MutationKind kind);

// Whether each operator can change the genome (the composite mutation picks only among these).
bool canPointMutate(const SpaceSpec &spec, const GenomeView &g);  // a gene exists and a field has >= 2 values
bool canInsertGene(const SpaceSpec &spec, const GenomeView &g);   // below max_genes
bool canDeleteGene(const SpaceSpec &spec, const GenomeView &g);   // above min_genes
bool canAddSkip(const SpaceSpec &spec, const GenomeView &g);      // some allowed skip bit is clear
bool canRemoveSkip(const SpaceSpec &spec, const GenomeView &g);   // some skip bit is set
bool canMoveSkip(const SpaceSpec &spec, const GenomeView &g);     // a gene has a set bit and a clear allowed bit
bool canApply(MutationKind kind, const SpaceSpec &spec, const GenomeView &g);
// Point, add_skip, remove_skip and move_skip keep the length: they can edit a genome where it lies.
inline bool keepsLength(MutationKind kind) { return kind != MutationKind::Insert && kind != MutationKind::Delete; }

// In-place operators. Each throws std::invalid_argument naming the genome when it does not apply.
// Point: one gene uniformly, one field uniformly among those with size >= 2, set to a different value uniformly.
void pointMutation(const SpaceSpec &spec, Genome &g, Rng &rng);
// Insert: position uniform in [0, n], fields uniform, each allowed skip of the new gene with probability 0.25.
void insertGene(const SpaceSpec &spec, Genome &g, Rng &rng);
// Delete: position uniform in [0, n).
void deleteGene(const SpaceSpec &spec, Genome &g, Rng &rng);
// Add: uniform over the clear allowed (gene, offset) pairs. Remove: uniform over the set pairs.
void addSkip(const SpaceSpec &spec, Genome &g, Rng &rng);
void removeSkip(const SpaceSpec &spec, Genome &g, Rng &rng);
// Move: a set (gene, offset) pair uniformly among genes that have a clear allowed offset, rewired to one
// of that gene's clear allowed offsets uniformly (the gene keeps its number of skips).
void moveSkip(const SpaceSpec &spec, Genome &g, Rng &rng);
void applyMutation(MutationKind kind, const SpaceSpec &spec, Genome &g, Rng &rng);
// A length-keeping operator applied where the genes lie, with the same draws as applyMutation.
// No checks: the caller knows the operator applies (canApply) and the genome fits the spec.
void applyInPlace(MutationKind kind, const SpaceSpec &spec, const GenomeSpan &g, Rng &rng);

// Clears the skip bits that each gene may not set at its position.
void clearInvalidSkips(const SpaceSpec &spec, Genome &g);

struct MutationWeights {
    double point = 1.0, insert = 1.0, del = 1.0, addSkip = 1.0, removeSkip = 1.0, moveSkip = 1.0;

    double get(MutationKind kind) const;
    // Throws std::invalid_argument naming the weight when one is negative, NaN or infinite, or all are zero.
    void validate() const;
    std::string describe() const;
};

// The composite mutation: picks one operator among those applicable to the genome, in proportion
// to the weights, and applies it.
class Mutator {
public:
    explicit Mutator(SpaceSpec spec, MutationWeights weights = {});

    const SpaceSpec &spec() const { return spec_; }
    const MutationWeights &weights() const { return weights_; }
    // Operators applicable to g (whatever their weight), in MutationKind order.
    std::vector<MutationKind> applicable(const Genome &g) const;
    // Draws the operator (one uniform draw among the applicable ones with positive weight). Throws
    // std::invalid_argument naming the genome when there is none. mutateInPlace = pick + applyMutation.
    MutationKind pick(const GenomeView &g, Rng &rng) const;
    MutationKind mutateInPlace(Genome &g, Rng &rng) const;
    Genome mutate(const Genome &g, Rng &rng) const;

private:
    SpaceSpec spec_;
    MutationWeights weights_;
};

enum class CrossoverKind : int { OnePoint = 0, TwoPoint, Uniform, Aligned };
const char *crossoverName(CrossoverKind kind);  // "one_point", "two_point", "uniform", "aligned"
CrossoverKind crossoverKindFromName(const std::string &name);  // throws std::invalid_argument naming it

// One child per call; the parents must be valid for the spec. Genes of the index-based kinds keep
// their position (gene i of a is paired with gene i of b), so the child's length is a parent's length.
// One-point: cut c uniform in [1, m-1] where m = min length (c in [0, m] when m < 2); child = a[:c] + b[c:].
Genome onePointCrossover(const SpaceSpec &spec, const Genome &a, const Genome &b, Rng &rng);
// Two-point (DEAP's cxTwoPoint): 1 <= c1 < c2 <= m uniformly (c1 = 0, c2 = 1 when m = 1);
// child = a[:c1] + b[c1:c2] + a[c2:].
Genome twoPointCrossover(const SpaceSpec &spec, const Genome &a, const Genome &b, Rng &rng);
// Uniform: the child's length is a's or b's with probability 1/2 (no draw when equal); each of the first m
// genes comes from a or b with probability 1/2, the rest from the parent whose length the child has.
Genome uniformCrossover(const SpaceSpec &spec, const Genome &a, const Genome &b, Rng &rng);
// Aligned: walk the optimal weighted-edit-distance alignment; a matched pair gives a's or b's gene with
// probability 1/2, a gap gene is kept with probability 1/2; the length is then repaired into the spec's
// bounds by keeping or dropping gap genes chosen uniformly. Genes appear in alignment order.
Genome alignedCrossover(const SpaceSpec &spec, const Genome &a, const Genome &b, Rng &rng);
Genome crossover(const SpaceSpec &spec, const Genome &a, const Genome &b, CrossoverKind kind, Rng &rng);
// The same child appended to genes/skips (the batch path writes children straight into its blocks);
// returns the child's number of genes. The parents' field counts must match the spec.
size_t appendCrossover(const SpaceSpec &spec, const GenomeView &a, const GenomeView &b, CrossoverKind kind, Rng &rng,
                       std::vector<int32_t> &genes, std::vector<uint64_t> &skips);
// One- and two-point crossover only: the child's length (b's for one point, a's for two points), and the
// same child as appendCrossover written to genes/skips, which must have room for that many genes.
size_t crossoverLength(CrossoverKind kind, const GenomeView &a, const GenomeView &b);
size_t writeCrossover(const SpaceSpec &spec, const GenomeView &a, const GenomeView &b, CrossoverKind kind, Rng &rng,
                      int32_t *genes, uint64_t *skips);

// The genome's text, cut to a readable length, for error messages.
std::string shortText(const Genome &g);

}  // namespace nasaccel
