// The algorithms' rank arithmetic (src/plan/algorithms/rank_math.h) for every world size 1..33
// and every root: chains and trees reach every rank exactly once, links agree from both ends,
// and the trees have the depth they promise.
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "plan/algorithms/rank_math.h"

namespace strata {
namespace {

TEST(RankMath, RelativeAndAbsoluteRanksAreInverse) {
  for (int n = 1; n <= 33; ++n)
    for (int root = 0; root < n; ++root)
      for (int r = 0; r < n; ++r) {
        const int v = relativeRank(r, root, n);
        ASSERT_GE(v, 0);
        ASSERT_LT(v, n);
        ASSERT_EQ(absoluteRank(v, root, n), r) << n << " " << root << " " << r;
      }
}

TEST(RankMath, ChainFromRootVisitsEveryRankOnce) {
  for (int n = 1; n <= 33; ++n)
    for (int root = 0; root < n; ++root) {
      ASSERT_EQ(chainLinks(root, root, n).towardRoot, -1);
      std::vector<int> seen(size_t(n), 0);
      int r = root, steps = 0;
      while (r != -1) {
        ASSERT_LT(steps, n) << "cycle at n=" << n << " root=" << root;
        ++seen[size_t(r)];
        const ChainLinks l = chainLinks(r, root, n);
        if (l.awayFromRoot != -1) {
          ASSERT_EQ(chainLinks(l.awayFromRoot, root, n).towardRoot, r) << n << " " << root;
        }
        r = l.awayFromRoot;
        ++steps;
      }
      ASSERT_EQ(steps, n);
      for (int x = 0; x < n; ++x) ASSERT_EQ(seen[size_t(x)], 1) << n << " " << root << " " << x;
    }
}

TEST(RankMath, BinaryTreeSpansEveryRankWithMatchingLinksAndLogDepth) {
  for (int n = 1; n <= 33; ++n) {
    const int depth = binaryTreeDepth(n);
    int pow = 1;
    for (int d = 0; d < depth; ++d) pow *= 2;
    ASSERT_LE(pow, n) << n;       // 2^depth <= n < 2^(depth+1)
    ASSERT_GT(2 * pow, n) << n;
    for (int root = 0; root < n; ++root) {
      ASSERT_EQ(binaryTreeLinks(root, root, n).parent, -1);
      int deepest = 0;
      std::vector<int> childOf(size_t(n), 0);
      for (int r = 0; r < n; ++r) {
        const TreeLinks l = binaryTreeLinks(r, root, n);
        ASSERT_LE(l.nchildren, 2);
        if (r != root) {
          ASSERT_NE(l.parent, -1) << n << " " << root << " " << r;
        }
        for (int k = 0; k < l.nchildren; ++k) {
          const int c = l.children[k];
          ASSERT_GE(c, 0);
          ASSERT_LT(c, n);
          ASSERT_EQ(binaryTreeLinks(c, root, n).parent, r) << n << " " << root << " " << c;
          ++childOf[size_t(c)];
        }
        // Walk to the root: no cycle, at most `depth` edges.
        int x = r, edges = 0;
        while (x != root) {
          x = binaryTreeLinks(x, root, n).parent;
          ASSERT_NE(x, -1);
          ASSERT_LE(++edges, depth) << n << " " << root << " " << r;
        }
        deepest = std::max(deepest, edges);
      }
      ASSERT_EQ(deepest, depth) << n << " " << root;
      for (int r = 0; r < n; ++r) ASSERT_EQ(childOf[size_t(r)], r == root ? 0 : 1) << n << " " << r;
    }
  }
}

// The fold of halving-doubling and Swing: every world size 1..33 maps onto p = 2^floor(log2 n)
// virtual ranks, once each, and the extras pair with a participant from both ends.
TEST(RankMath, FoldCoversThePowerOfTwoOnceAndPairsTheExtras) {
  for (int n = 1; n <= 33; ++n) {
    const int p = largestPowerOfTwoAtMost(n);
    ASSERT_TRUE(p <= n && 2 * p > n && (p & (p - 1)) == 0) << n;
    ASSERT_EQ(1 << log2Exact(p), p);
    std::vector<int> seen(size_t(p), 0);
    int extras = 0;
    for (int i = 0; i < n; ++i) {
      const int v = foldVirtual(i, n);
      const int partner = foldPartner(i, n);
      if (v < 0) {
        ++extras;
        ASSERT_GE(partner, 0) << n << " " << i;
        ASSERT_GE(foldVirtual(partner, n), 0) << n << " " << i;
      } else {
        ASSERT_LT(v, p);
        ++seen[size_t(v)];
        ASSERT_EQ(foldMember(v, n), i) << n << " " << i;
      }
      if (partner >= 0) {
        ASSERT_LT(partner, n);
        ASSERT_EQ(foldPartner(partner, n), i) << n << " " << i;
        ASSERT_EQ(std::abs(partner - i), 1);  // neighbours: on one host when hosts are contiguous
      }
    }
    ASSERT_EQ(extras, n - p) << n;
    for (int v = 0; v < p; ++v) ASSERT_EQ(seen[size_t(v)], 1) << n << " " << v;
  }
}

TEST(RankMath, SwingRhoIsTheAlternatingSum) {
  const int64_t want[] = {1, -1, 3, -5, 11, -21, 43, -85};
  for (int s = 0; s < 8; ++s) ASSERT_EQ(swingRho(s), want[s]);
  for (int s = 0; s < 40; ++s) {
    int64_t pow = 1;
    for (int i = 0; i <= s; ++i) pow *= -2;
    ASSERT_EQ(3 * swingRho(s), 1 - pow) << s;
  }
}

// For every power of two up to 2^10 (every p a world of 1..33 folds onto, and more): the peers
// pair up, and the blocks each rank keeps after each step, computed by swingKeptFirst, are exactly
// the ranks reachable from it through the remaining steps (built here by brute force), as one
// range of the block numbering that splits its parent range in two; the last step leaves every
// rank its own block.
TEST(RankMath, SwingPeersPairUpAndKeptBlocksAreTheReachableRanks) {
  for (int L = 0; L <= 10; ++L) {
    const int p = 1 << L;
    // reach[s][v]: ranks reachable from v through steps s..L-1, built from the last step back.
    std::vector<std::vector<std::vector<int>>> reach(size_t(L + 1), std::vector<std::vector<int>>(size_t(p)));
    for (int v = 0; v < p; ++v) reach[size_t(L)][size_t(v)] = {v};
    for (int s = L - 1; s >= 0; --s)
      for (int v = 0; v < p; ++v) {
        const int q = swingPeer(v, s, p);
        ASSERT_GE(q, 0);
        ASSERT_LT(q, p);
        ASSERT_NE(q, v) << p << " " << s << " " << v;
        ASSERT_EQ(swingPeer(q, s, p), v) << p << " " << s << " " << v;
        auto& r = reach[size_t(s)][size_t(v)];
        r = reach[size_t(s + 1)][size_t(v)];
        const auto& other = reach[size_t(s + 1)][size_t(q)];
        r.insert(r.end(), other.begin(), other.end());
      }
    // Block position of each rank's final block.
    std::vector<uint32_t> pos(size_t(p), 0);
    std::vector<int> used(size_t(p), 0);
    for (int v = 0; v < p; ++v) {
      pos[size_t(v)] = L == 0 ? 0 : swingKeptFirst(v, L - 1, p);
      ASSERT_LT(pos[size_t(v)], uint32_t(p));
      ASSERT_EQ(used[size_t(pos[size_t(v)])]++, 0) << p << " " << v;
    }
    for (int s = 0; s < L; ++s)
      for (int v = 0; v < p; ++v) {
        const uint32_t size = uint32_t(p) >> (s + 1);
        const uint32_t first = swingKeptFirst(v, s, p);
        const uint32_t peerFirst = swingKeptFirst(swingPeer(v, s, p), s, p);
        ASSERT_EQ(first % size, 0u);
        ASSERT_EQ(first / (2 * size), peerFirst / (2 * size)) << "halves of one parent range";
        ASSERT_NE(first, peerFirst);
        const auto& kept = reach[size_t(s + 1)][size_t(v)];
        ASSERT_EQ(kept.size(), size_t(size)) << p << " " << s << " " << v;
        for (int w : kept) {
          ASSERT_GE(pos[size_t(w)], first) << p << " " << s << " " << v << " " << w;
          ASSERT_LT(pos[size_t(w)], first + size) << p << " " << s << " " << v << " " << w;
        }
      }
  }
}

}  // namespace
}  // namespace strata

// ---- Halving-doubling, recursive doubling and the double binary tree --------------------------
namespace strata {
namespace {

// Every world 1..33 folds onto p; on p, halving-doubling's peers pair up, the two ends of a step
// keep the two halves of the range they shared, the last step leaves v its own block v, and the
// contributions that reach v's kept range (simulated step by step) are all p ranks'.
TEST(RankMath, HalvingDoublingPeersSplitTheirRangeAndFinishEveryBlock) {
  for (int n = 1; n <= 33; ++n) {
    const int p = largestPowerOfTwoAtMost(n);
    const int L = log2Exact(p);
    ASSERT_EQ(1 << L, p);
    // have[v][b]: ranks whose data v holds for logical block b (only for b in v's kept range).
    std::vector<std::vector<std::vector<int>>> have(
        size_t(p), std::vector<std::vector<int>>(size_t(p), std::vector<int>(size_t(p), 0)));
    for (int v = 0; v < p; ++v)
      for (int b = 0; b < p; ++b) have[size_t(v)][size_t(b)][size_t(v)] = 1;
    uint32_t prevFirst[64] = {}, prevSize = uint32_t(p);
    for (int s = 0; s < L; ++s) {
      const uint32_t size = uint32_t(p) >> (s + 1);
      auto next = have;
      for (int v = 0; v < p; ++v) {
        const int q = halvingDoublingPeer(v, s, p);
        ASSERT_NE(q, v);
        ASSERT_GE(q, 0);
        ASSERT_LT(q, p);
        ASSERT_EQ(halvingDoublingPeer(q, s, p), v) << n << " " << s << " " << v;
        const uint32_t mine = halvingDoublingKeptFirst(v, s, p);
        const uint32_t theirs = halvingDoublingKeptFirst(q, s, p);
        ASSERT_EQ(mine % size, 0u);
        ASSERT_NE(mine, theirs);
        ASSERT_EQ(mine / (2 * size), theirs / (2 * size)) << "halves of one range";
        if (s > 0) {  // inside what v kept the step before
          ASSERT_GE(mine, prevFirst[v]);
          ASSERT_LE(mine + size, prevFirst[v] + prevSize);
        }
        for (uint32_t b = mine; b < mine + size; ++b)
          for (int r = 0; r < p; ++r)
            next[size_t(v)][b][size_t(r)] += have[size_t(q)][b][size_t(r)];
      }
      have = next;
      for (int v = 0; v < p; ++v) prevFirst[v] = halvingDoublingKeptFirst(v, s, p);
      prevSize = size;
    }
    for (int v = 0; v < p; ++v) {
      if (L > 0) {
        ASSERT_EQ(halvingDoublingKeptFirst(v, L - 1, p), uint32_t(v)) << n;
      }
      for (int r = 0; r < p; ++r) ASSERT_EQ(have[size_t(v)][size_t(v)][size_t(r)], 1) << n << " " << v;
    }
  }
}

// Recursive doubling's peers pair up, and after log2(p) exchanges of whole partial sums every
// rank holds every rank's data exactly once.
TEST(RankMath, RecursiveDoublingReachesEveryRankOnce) {
  for (int n = 1; n <= 33; ++n) {
    const int p = largestPowerOfTwoAtMost(n);
    std::vector<std::vector<int>> have(size_t(p), std::vector<int>(size_t(p), 0));
    for (int v = 0; v < p; ++v) have[size_t(v)][size_t(v)] = 1;
    for (int s = 0; s < log2Exact(p); ++s) {
      auto next = have;
      for (int v = 0; v < p; ++v) {
        const int q = recursiveDoublingPeer(v, s);
        ASSERT_LT(q, p);
        ASSERT_NE(q, v);
        ASSERT_EQ(recursiveDoublingPeer(q, s), v);
        for (int r = 0; r < p; ++r) next[size_t(v)][size_t(r)] += have[size_t(q)][size_t(r)];
      }
      have = next;
    }
    for (int v = 0; v < p; ++v)
      for (int r = 0; r < p; ++r) ASSERT_EQ(have[size_t(v)][size_t(r)], 1) << n << " " << v;
  }
}

// Both trees of every world 1..33 (and a few larger): links agree from both ends, every rank is
// reached exactly once from the root, no cycles, depths within doubleBinaryTreeMaxDepth, and
// no rank is interior in both trees.
TEST(RankMath, DoubleBinaryTreesSpanEveryRankAndShareNoInteriorRank) {
  std::vector<int> sizes;
  for (int n = 1; n <= 33; ++n) sizes.push_back(n);
  for (int n : {63, 64, 65, 100, 127, 128, 129, 255, 1000, 1025}) sizes.push_back(n);
  for (int n : sizes) {
    const int maxDepth = doubleBinaryTreeMaxDepth(n);
    std::vector<int> interior(size_t(n), 0);
    for (int t = 0; t < 2; ++t) {
      int roots = 0, root = -1;
      std::vector<int> childOf(size_t(n), 0);
      for (int r = 0; r < n; ++r) {
        const TreeLinks l = doubleBinaryTreeLinks(r, n, t);
        ASSERT_GE(l.nchildren, 0);
        ASSERT_LE(l.nchildren, 2);
        if (l.parent < 0) {
          ++roots;
          root = r;
        } else {
          ASSERT_LT(l.parent, n);
          ASSERT_NE(l.parent, r);
          const TreeLinks up = doubleBinaryTreeLinks(l.parent, n, t);
          int found = 0;
          for (int k = 0; k < up.nchildren; ++k) found += up.children[k] == r;
          ASSERT_EQ(found, 1) << n << " tree " << t << " rank " << r;
        }
        for (int k = 0; k < l.nchildren; ++k) {
          const int c = l.children[k];
          ASSERT_GE(c, 0);
          ASSERT_LT(c, n);
          ASSERT_EQ(doubleBinaryTreeLinks(c, n, t).parent, r) << n << " tree " << t;
          ++childOf[size_t(c)];
        }
        if (l.nchildren > 0) ++interior[size_t(r)];
        // Walk up: reaches the root without a cycle, in as many edges as the depth says.
        int x = r, edges = 0;
        while (doubleBinaryTreeLinks(x, n, t).parent >= 0) {
          x = doubleBinaryTreeLinks(x, n, t).parent;
          ASSERT_LE(++edges, maxDepth) << n << " tree " << t << " rank " << r;
        }
        ASSERT_EQ(doubleBinaryTreeDepth(r, n, t), edges);
      }
      ASSERT_EQ(roots, 1) << n << " tree " << t;
      for (int r = 0; r < n; ++r) ASSERT_EQ(childOf[size_t(r)], r == root ? 0 : 1) << n << " " << r;
    }
    for (int r = 0; r < n; ++r) ASSERT_LE(interior[size_t(r)], 1) << n << " rank " << r;
  }
}

// Radices merge prime factors in ascending order up to the cap: Colossus's 12,500 servers per
// rail take three steps with radices up to 32 and two up to 128 (hier-radix128-hd), 16,384
// servers (colossus:131k) two of 128; the product is always the group size.
TEST(RankMath, MixedRadicesMergeFactorsUpToTheCap) {
  EXPECT_EQ(mixedRadices(1, 32), std::vector<int>{});
  EXPECT_EQ(mixedRadices(12500, 32), (std::vector<int>{20, 25, 25}));
  EXPECT_EQ(mixedRadices(12500, 128), (std::vector<int>{100, 125}));
  EXPECT_EQ(mixedRadices(16384, 32), (std::vector<int>{32, 32, 16}));
  EXPECT_EQ(mixedRadices(16384, 128), (std::vector<int>{128, 128}));
  EXPECT_EQ(mixedRadices(245, 128), (std::vector<int>{35, 7}));
  EXPECT_EQ(mixedRadices(67, 32), std::vector<int>{67});  // a prime above the cap stays whole
  for (int m = 1; m <= 2000; ++m)
    for (int cap : {32, 128}) {
      int product = 1;
      for (int r : mixedRadices(m, cap)) product *= r;
      EXPECT_EQ(product, m) << m << " cap " << cap;
    }
}

}  // namespace
}  // namespace strata
