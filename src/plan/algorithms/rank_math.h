// Rank arithmetic of the algorithms: pure functions of (rank, size, root, step), shared by every
// builder and tested exhaustively for world sizes 1..33 (tests/unit/test_rank_math.cc), because
// off-by-ones live here. Nothing here knows about schedules.
#pragma once

#include <cstdint>
#include <vector>

namespace strata {

// Position of `rank` counted from `root` (root -> 0), and back. 0 <= rank, root < n.
inline int relativeRank(int rank, int root, int n) { return (rank - root + n) % n; }
inline int absoluteRank(int relative, int root, int n) { return (relative + root) % n; }

// A chain through all n ranks that starts at root: root, root+1, ..., root-1 (mod n).
// `towardRoot` is the neighbour closer to the root (-1 at the root), `awayFromRoot` the farther
// one (-1 at the chain's end). Broadcast flows away from the root, reduce toward it.
struct ChainLinks {
  int towardRoot = -1;
  int awayFromRoot = -1;
};
ChainLinks chainLinks(int rank, int root, int n);

// A binary tree over the ranks relative to root in heap order: relative rank v has children
// 2v+1 and 2v+2 (those < n) and parent (v-1)/2. Depth floor(log2 n), every rank sends at most
// two copies of each chunk in a broadcast, and receives at most two in a reduce.
struct TreeLinks {
  int parent = -1;       // -1 at the root
  int children[2] = {-1, -1};
  int nchildren = 0;
};
TreeLinks binaryTreeLinks(int rank, int root, int n);
// Edges from the root to the deepest rank: floor(log2 n), 0 for n = 1.
int binaryTreeDepth(int n);

}  // namespace strata

// ---- Folding a group of any size onto a power of two (halving-doubling, Swing) ----------------
// n = p + r with p the largest power of two <= n. The first 2r indices pair up as (2v, 2v+1):
// the even one ("extra") folds its data into the odd one and receives the result at the end;
// the odd one plays virtual index v. Indices >= 2r play v = i - r. Pairs are neighbours, so on
// contiguous hosts the fold stays inside a host.
namespace strata {
int largestPowerOfTwoAtMost(int n);  // n >= 1
int log2Exact(int p);                // p a power of two
// Virtual index in [0, p) of group index i, or -1 for an extra.
int foldVirtual(int i, int n);
// Group index that plays virtual index v.
int foldMember(int v, int n);
// The partner in the fold: i+1 for an extra, i-1 for the odd index that absorbs it, else -1.
int foldPartner(int i, int n);

// ---- Swing (De Sensi et al., NSDI'24) on p = 2^L virtual ranks ---------------------------------
// rho(s) = sum_{i<=s} (-2)^i = 1, -1, 3, -5, 11, ...; at step s an even rank talks to v + rho(s),
// an odd one to v - rho(s) (mod p). Distances grow by about 2x per step, alternating direction.
int64_t swingRho(int step);
int swingPeer(int v, int step, int p);
// The blocks of a Swing reduce-scatter, numbered so that every step's sets are contiguous. The
// set of ranks reachable from v through steps s+1..L-1 (whose blocks v keeps after step s) has
// p >> (s+1) members; these sets nest like a binary tree, so a numbering exists in which each
// one is a range. Returns the first block of the range v keeps after step s (0 <= s < L); its
// size is p >> (s+1). At s = L-1 it is v's own, finished block. v sends its peer the peer's range.
uint32_t swingKeptFirst(int v, int step, int p);
}  // namespace strata

// ---- Recursive halving-doubling and recursive doubling on p = 2^L virtual ranks ---------------
// Halving-doubling's reduce-scatter step s pairs v with v ^ (p >> (s+1)): the largest step first,
// so that what v keeps after step s is an aligned range of logical blocks (v's high bits), one
// contiguous message per step; the all-gather runs the steps backwards. Recursive doubling pairs
// v with v ^ (1 << s); any order works, this one keeps the first (most frequent) partners near.
namespace strata {
int halvingDoublingPeer(int v, int step, int p);
// First logical block (of p) of the range v keeps after reduce-scatter step s; it holds
// p >> (s+1) blocks. At s = L-1 it is v's own finished block, v.
uint32_t halvingDoublingKeptFirst(int v, int step, int p);
int recursiveDoublingPeer(int v, int step);

// ---- Double binary tree (NCCL 2.4) -------------------------------------------------------------
// Tree 0 is NCCL's in-order binary tree over ranks 0..n-1: rank r whose lowest set bit is b has
// children r - b/2 and r + b' (the largest b' <= b/2 that stays below n); its interior ranks are
// the even ones, the odd ones are leaves. Tree 1 swaps the roles: for even n it is tree 0
// mirrored (r -> n-1-r); for odd n it is tree 0 of n-1 ranks on ranks 1..n-1 (interior: the odd
// ranks) with rank 0 hung under its root, which has one child only. So every rank is interior in
// at most one tree, and the two trees' reduction work is spread over all ranks.
TreeLinks doubleBinaryTreeLinks(int rank, int n, int tree);
// Edges from rank to its tree's root (0 at the root).
int doubleBinaryTreeDepth(int rank, int n, int tree);
// An upper bound of every rank's depth in either tree: bit_width(n) (floor(log2 n) + 1).
int doubleBinaryTreeMaxDepth(int n);
}  // namespace strata

namespace strata {

// ---- Mixed radix ------------------------------------------------------------------------------
// A group of m ranks seen as numbers in a mixed radix r_0, r_1, ... (least significant first,
// product m): step s involves the r_s ranks that differ from this one only in digit s, whose
// weight is r_0 * ... * r_{s-1}. Radices are m's prime factors, smallest first, with neighbours
// merged while the product stays <= maxRadix: any m gets a bandwidth-optimal halving-doubling
// without folding extra ranks (which doubles their partners' traffic), and the first, largest
// exchanges stay between nearby ranks.
std::vector<int> mixedRadices(int m, int maxRadix);  // empty for m = 1
int largestPrimeFactor(int m);                        // 1 for m = 1
inline int mixedRadixDigit(int i, int weight, int radix) { return (i / weight) % radix; }
inline int mixedRadixPeer(int i, int weight, int radix, int digit) {
  return i + (digit - mixedRadixDigit(i, weight, radix)) * weight;
}
// The range of logical blocks (of m) that rank i keeps after reduce-scatter step s: the radices
// split the current range into r_s parts and digit s picks one. [first, first + size).
struct BlockSpan {
  int first = 0;
  int size = 0;
};
BlockSpan mixedRadixKept(int i, const std::vector<int>& radices, int step);

}  // namespace strata
