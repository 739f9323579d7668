#include "plan/algorithms/rank_math.h"
#include <algorithm>

namespace strata {

ChainLinks chainLinks(int rank, int root, int n) {
  ChainLinks l;
  const int v = relativeRank(rank, root, n);
  if (v > 0) l.towardRoot = absoluteRank(v - 1, root, n);
  if (v + 1 < n) l.awayFromRoot = absoluteRank(v + 1, root, n);
  return l;
}

TreeLinks binaryTreeLinks(int rank, int root, int n) {
  TreeLinks l;
  const int v = relativeRank(rank, root, n);
  if (v > 0) l.parent = absoluteRank((v - 1) / 2, root, n);
  for (int c = 2 * v + 1; c <= 2 * v + 2; ++c)
    if (c < n) l.children[l.nchildren++] = absoluteRank(c, root, n);
  return l;
}

int binaryTreeDepth(int n) {
  int depth = 0;
  while ((2 << depth) <= n) ++depth;  // the deepest relative rank, n-1, lies at floor(log2 n)
  return depth;
}

}  // namespace strata

namespace strata {

int largestPowerOfTwoAtMost(int n) {
  int p = 1;
  while (p <= n / 2) p *= 2;
  return p;
}

int log2Exact(int p) {
  int l = 0;
  while ((1 << l) < p) ++l;
  return l;
}

int foldVirtual(int i, int n) {
  const int r = n - largestPowerOfTwoAtMost(n);
  if (i >= 2 * r) return i - r;
  return (i % 2 == 1) ? i / 2 : -1;
}

int foldMember(int v, int n) {
  const int r = n - largestPowerOfTwoAtMost(n);
  return v < r ? 2 * v + 1 : v + r;
}

int foldPartner(int i, int n) {
  const int r = n - largestPowerOfTwoAtMost(n);
  if (i >= 2 * r) return -1;
  return (i % 2 == 0) ? i + 1 : i - 1;
}

int64_t swingRho(int step) {
  int64_t sum = 0, term = 1;
  for (int i = 0; i <= step; ++i, term *= -2) sum += term;
  return sum;
}

int swingPeer(int v, int step, int p) {
  const int64_t d = swingRho(step) % p;
  const int64_t q = (v % 2 == 0) ? v + d : v - d;
  return int(((q % p) + p) % p);
}

namespace {
// Which half of the set v holds before step s (the set reachable through steps s..L-1) v keeps
// after it: 0 or 1, the same answer for every member of the half. Why this works: for t >= 1 the
// set reachable from v through steps t..L-1 is {x, x + rho(t)} modulo 2^(t+1) for one even
// residue x (checked exhaustively in tests/unit/test_rank_math.cc against the sets themselves),
// so the even residue names the set; the two halves of a set differ exactly in bit t of it.
int swingHalf(int v, int s, int L) {
  const int t = s + 1;
  if (t == L) return v & 1;
  const int64_t m = int64_t(1) << (t + 1);
  int64_t x = (v % 2 == 0) ? v : v - swingRho(t);
  x = ((x % m) + m) % m;
  return int((x >> t) & 1);
}
}  // namespace

uint32_t swingKeptFirst(int v, int step, int p) {
  const int L = log2Exact(p);
  uint32_t first = 0;
  for (int s = 0; s <= step; ++s) first += uint32_t(swingHalf(v, s, L)) << (L - 1 - s);
  return first;
}

}  // namespace strata

namespace strata {

int halvingDoublingPeer(int v, int step, int p) { return v ^ (p >> (step + 1)); }

uint32_t halvingDoublingKeptFirst(int v, int step, int p) {
  const uint32_t size = uint32_t(p) >> (step + 1);  // a power of two
  return uint32_t(v) & ~(size - 1);
}

int recursiveDoublingPeer(int v, int step) { return v ^ (1 << step); }

namespace {
// NCCL's in-order binary tree over positions 0..m-1 (root 0, whose only child is the largest
// power of two below m).
TreeLinks inOrderTree(int q, int m) {
  TreeLinks l;
  auto add = [&](int c) { l.children[l.nchildren++] = c; };
  if (q == 0) {
    if (m > 1) add(largestPowerOfTwoAtMost(m - 1));
    return l;
  }
  const int bit = q & -q;
  l.parent = (q ^ bit) | (bit << 1);
  if (l.parent >= m) l.parent = q ^ bit;
  if (bit == 1) return l;
  add(q - bit / 2);
  for (int lb = bit / 2; lb >= 1; lb /= 2)
    if (q + lb < m) {
      add(q + lb);
      break;
    }
  return l;
}

TreeLinks mapTree(TreeLinks l, int (*f)(int, int), int n) {
  if (l.parent >= 0) l.parent = f(l.parent, n);
  for (int k = 0; k < l.nchildren; ++k) l.children[k] = f(l.children[k], n);
  return l;
}
}  // namespace

TreeLinks doubleBinaryTreeLinks(int rank, int n, int tree) {
  if (tree == 0 || n == 1) return inOrderTree(rank, n);
  if (n % 2 == 0) {
    auto mirror = [](int x, int m) { return m - 1 - x; };
    return mapTree(inOrderTree(n - 1 - rank, n), mirror, n);
  }
  // Odd n: ranks 1..n-1 as positions 0..n-2 of an in-order tree, rank 0 under its root (rank 1).
  if (rank == 0) {
    TreeLinks l;
    l.parent = 1;
    return l;
  }
  auto shift = [](int x, int) { return x + 1; };
  TreeLinks l = mapTree(inOrderTree(rank - 1, n - 1), shift, n);
  if (rank == 1) {  // the root has one child at most: rank 0 comes first, as the lower
    l.children[1] = l.children[0];
    l.children[0] = 0;
    ++l.nchildren;
  }
  return l;
}

int doubleBinaryTreeDepth(int rank, int n, int tree) {
  int depth = 0;
  for (int x = doubleBinaryTreeLinks(rank, n, tree).parent; x >= 0;
       x = doubleBinaryTreeLinks(x, n, tree).parent)
    ++depth;
  return depth;
}

int doubleBinaryTreeMaxDepth(int n) {
  int bits = 0;
  while ((n >> bits) > 0) ++bits;
  return bits;
}

}  // namespace strata

namespace strata {

int largestPrimeFactor(int m) {
  int largest = 1;
  for (int f = 2; int64_t(f) * f <= m; ++f)
    while (m % f == 0) {
      largest = f;
      m /= f;
    }
  return m > 1 ? std::max(largest, m) : largest;
}

std::vector<int> mixedRadices(int m, int maxRadix) {
  std::vector<int> primes;
  for (int f = 2; int64_t(f) * f <= m; ++f)
    while (m % f == 0) {
      primes.push_back(f);
      m /= f;
    }
  if (m > 1) primes.push_back(m);
  std::vector<int> radices;
  for (int p : primes) {
    if (!radices.empty() && int64_t(radices.back()) * p <= maxRadix) radices.back() *= p;
    else radices.push_back(p);
  }
  return radices;
}

BlockSpan mixedRadixKept(int i, const std::vector<int>& radices, int step) {
  int m = 1;
  for (int r : radices) m *= r;
  BlockSpan span{0, m};
  int weight = 1;
  for (int s = 0; s <= step; ++s) {
    const int r = radices[size_t(s)];
    span.size /= r;
    span.first += mixedRadixDigit(i, weight, r) * span.size;
    weight *= r;
  }
  return span;
}

}  // namespace strata
