// The shared all-reduce patterns (src/plan/algorithms/patterns.h) used the way the hierarchical
// algorithm uses them, checked symbolically (tests/support/symbolic.h): over a rail (the ranks of
// one local index on every host, an affine group or an explicit member list) on a block range that
// does not start at 0, reading the output (kFromOutput) after an intra-host reduce-scatter; and on
// the whole world, split into two ranges with the second starting mid-buffer, reading the input.
// Block counts that are not the pattern's preferred multiple are included.
#include <gtest/gtest.h>

#include "plan/algorithms/patterns.h"
#include "plan/registry.h"
#include "support/sanitizers.h"
#include "support/symbolic.h"

namespace strata {
namespace {

struct Pattern {
  const char* name;
  uint32_t (*blocksFor)(int);
  uint32_t (*maxBlocks)(int, uint32_t);
  void (*append)(Schedule&, const RankGroup&, uint32_t, uint32_t, uint8_t);
  uint32_t (*lag)(int);  // chunk lag after which its results are final
};

uint32_t noLag(int) { return 0; }
uint32_t rdBlocks(int) { return 1; }

const Pattern kPatterns[] = {
    {"hd", halvingDoublingBlocksFor, halvingDoublingMaxBlocksPerStep, appendHalvingDoubling, noLag},
    {"rd", rdBlocks, recursiveDoublingMaxBlocksPerStep, appendRecursiveDoubling, noLag},
    {"dbt", doubleBinaryTreeBlocksFor, doubleBinaryTreeMaxBlocksPerStep, appendDoubleBinaryTree,
     doubleBinaryTreeLag},
    {"ring", ringBlocksFor, ringMaxBlocksPerStep, appendRing, noLag},
};

// Which pattern and how many blocks per shard the builders below use (set by the test).
const Pattern* gPattern = nullptr;
uint32_t gExtraBlocks = 0;  // added to the pattern's preferred count (not for the ring)

// Reduce-scatter in the host (ring), the pattern over the rail on this rank's shard, all-gather
// in the host, as allreduce_hierarchical.cc composes them.
Schedule buildHier(const PlanRequest& req) {
  Schedule s = scheduleSkeleton(req, "pattern-hier");
  const RankLayout& l = *req.layout;
  const int k = l.perHost, m = l.nhosts;
  const int host = l.host(req.rank), local = l.local(req.rank);
  const uint32_t shardBlocks = gPattern->blocksFor(m) + gExtraBlocks;
  s.nblocks = uint32_t(k) * shardBlocks;
  s.blockElems = blockElemsFor(req.count, s.nblocks, 1);
  const uint32_t maxBlocks = std::max(shardBlocks, gPattern->maxBlocks(m, shardBlocks));
  s.chunkElems = std::max<size_t>(1, req.messageBytes / req.elemBytes / maxBlocks);
  RankGroup hostGroup, rail;
  hostGroup.size = k;
  hostGroup.self = local;
  rail.size = m;
  rail.self = host;
  if (l.contiguous) {
    hostGroup.base = host * k;
    rail.base = local;
    rail.stride = k;
  } else {
    for (int j = 0; j < k; ++j) hostGroup.members.push_back(l.rankOf(host, j));
    for (int h = 0; h < m; ++h) rail.members.push_back(l.rankOf(h, local));
  }
  const uint32_t shard = uint32_t(local) * shardBlocks;
  if (k == 1) {
    gPattern->append(s, rail, shard, shardBlocks, 0);
    return s;
  }
  s.groups.push_back(hostGroup);
  const uint16_t hostIndex = uint16_t(s.groups.size() - 1);
  appendRingReduceScatter(s, hostIndex, 0, shardBlocks, uint32_t(k), shardBlocks);
  gPattern->append(s, rail, shard, shardBlocks, kFromOutput);
  const size_t before = s.phases.size();
  appendRingAllGather(s, hostIndex, 0, shardBlocks, uint32_t(k), shardBlocks);
  for (size_t i = before; i < s.phases.size(); ++i) s.phases[i].chunkLag = gPattern->lag(m);
  return s;
}

// The whole world, the range cut in two: [0, a) and [a, a + b), each all-reduced by the pattern.
Schedule buildSplit(const PlanRequest& req) {
  Schedule s = scheduleSkeleton(req, "pattern-split");
  const int n = req.nranks;
  const uint32_t b = gPattern->blocksFor(n) + gExtraBlocks;
  const uint32_t a = gPattern == &kPatterns[3] ? b : b + 1;  // the ring needs multiples of n
  s.nblocks = a + b;
  s.blockElems = blockElemsFor(req.count, s.nblocks, 1);
  const uint32_t maxBlocks = std::max(gPattern->maxBlocks(n, a), gPattern->maxBlocks(n, b));
  s.chunkElems = std::max<size_t>(1, req.messageBytes / req.elemBytes / maxBlocks);
  gPattern->append(s, s.groups[0], 0, a, 0);
  // The second range's phases come after the first's; a lagged first pattern is independent of
  // the second (disjoint blocks), so no lag is needed between them.
  gPattern->append(s, s.groups[0], a, b, 0);
  return s;
}

const AlgorithmInfo kHier{"pattern-hier", Collective::AllReduce, "test", nullptr, nullptr,
                          buildHier};
const AlgorithmInfo kSplit{"pattern-split", Collective::AllReduce, "test", nullptr, nullptr,
                           buildSplit};

void check(const AlgorithmInfo& algo, int n, std::shared_ptr<const RankLayout> layout) {
  for (size_t count : {size_t(0), size_t(5), size_t(97), size_t(900)}) {
    PlanRequest req;
    req.nranks = n;
    req.layout = layout;
    req.count = count;
    req.elemBytes = 4;
    req.messageBytes = 32;  // 8 elements: several chunks per block
    const std::string err = testing::SymbolicRun::check(algo, req);
    ASSERT_EQ(err, "") << gPattern->name << " " << algo.name << " n=" << n << " count " << count
                       << " extra blocks " << gExtraBlocks;
  }
}

TEST(Patterns, OverRailsFromTheOutputOnAShardThatStartsMidBuffer) {
  for (const Pattern& p : kPatterns) {
    gPattern = &p;
    for (uint32_t extra : {0u, 1u, 3u}) {
      if (testing::kSanitized && extra == 1) continue;  // all three offsets took 45 s under ASan
      gExtraBlocks = extra;
      for (int hosts : testing::worldSizes(1, 9))
        for (int k : {1, 2, 3}) {
          if (p.append == appendRing && extra % uint32_t(hosts) != 0) continue;
          const int n = hosts * k;
          if (hosts >= 2) {
            check(kHier, n, std::make_shared<RankLayout>(RankLayout::contiguousHosts(n, k)));
            std::vector<int> hostOf(static_cast<size_t>(n));
            for (int r = 0; r < n; ++r) hostOf[size_t(r)] = r % hosts;  // interleaved
            check(kHier, n, std::make_shared<RankLayout>(RankLayout::fromHostOfRank(hostOf)));
          }
        }
    }
  }
}

TEST(Patterns, OnTwoRangesOfTheWholeWorld) {
  for (const Pattern& p : kPatterns) {
    gPattern = &p;
    for (uint32_t extra : {0u, 1u, 2u}) {
      gExtraBlocks = extra;
      for (int n = 1; n <= 17; ++n) {
        if (p.append == appendRing && extra % uint32_t(n) != 0) continue;
        check(kSplit, n, nullptr);
      }
    }
  }
}

// Every message of the flat log-depth algorithms fits one slot: blocks of a step x chunkElems x
// element size <= messageBytes, for slots large enough to hold one element of each block.
TEST(Patterns, FlatAlgorithmsMessagesFitTheSlot) {
  for (const char* name : {"hd", "rd", "dbt"})
    for (int n = 1; n <= 33; ++n)
      for (size_t slot : {size_t(64), size_t(256), size_t(4096)}) {
        PlanRequest req;
        req.nranks = n;
        req.count = 5000;
        req.elemBytes = 4;
        req.messageBytes = slot;
        const AlgorithmInfo& algo = selectAllReduce(req, name);
        for (int r = 0; r < n; ++r) {
          req.rank = r;
          const Schedule s = algo.build(req);
          for (const Phase& p : s.phases)
            for (uint32_t it = 0; it < p.iterations; ++it) {
              const StepInstance st = s.step(p, it);
              if (st.blockCount * req.elemBytes > slot) continue;  // one element per block is the floor
              ASSERT_LE(st.blockCount * s.chunkElems * s.elemBytes, slot)
                  << name << " n=" << n << " rank " << r << " slot " << slot;
            }
        }
      }
}

}  // namespace
}  // namespace strata
