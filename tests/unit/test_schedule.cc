// The schedules' rank arithmetic, checked symbolically for every registered algorithm of every
// collective and every world size 1..33, on one host and on several (contiguous and interleaved
// rank numbering), with chunked and with nearly empty buffers: tests/support/symbolic.h runs every
// rank's program against every other's in the executor's order and checks that it never
// deadlocks, that every message is the one its receiver expects, and that every rank ends with
// the collective's result, finalized exactly once.
#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include "core/error.h"
#include "plan/registry.h"
#include "support/param_names.h"
#include "support/sanitizers.h"
#include "support/symbolic.h"

namespace strata {
namespace {

// The layouts a world of n ranks is checked on: one host, hosts of k consecutive ranks, and
// hosts whose ranks are interleaved (rank r on host r mod h).
std::vector<std::shared_ptr<const RankLayout>> layoutsFor(int n) {
  std::vector<std::shared_ptr<const RankLayout>> out = {nullptr};
  for (int k : {2, 3, 4, 8})
    if (n % k == 0 && n > k) {
      out.push_back(std::make_shared<RankLayout>(RankLayout::contiguousHosts(n, k)));
      std::vector<int> hosts(static_cast<size_t>(n));
      for (int r = 0; r < n; ++r) hosts[size_t(r)] = r % (n / k);
      out.push_back(std::make_shared<RankLayout>(RankLayout::fromHostOfRank(hosts)));
    }
  if (n == 5 || n == 7) {  // hosts of different sizes
    std::vector<int> hosts(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r) hosts[size_t(r)] = r < 3 ? 0 : 1;
    out.push_back(std::make_shared<RankLayout>(RankLayout::fromHostOfRank(hosts)));
  }
  return out;
}

std::string layoutName(const std::shared_ptr<const RankLayout>& l) {
  if (!l) return "one host";
  return fmt::format("{} hosts x {}{}", l->nhosts, l->perHost, l->contiguous ? "" : " interleaved");
}

void checkAlgorithm(const AlgorithmInfo& algo, int maxRanks) {
  for (int n : testing::worldSizes(1, maxRanks))
    for (const auto& layout : layoutsFor(n))
      for (size_t perRank : {size_t(24), size_t(0), size_t(1)})
        for (int root : {0, n - 1}) {
          PlanRequest req;
          req.collective = algo.collective;
          req.nranks = n;
          req.root = root;
          req.layout = layout;
          // Reduce-scatter and all-gather need count = n x recvcount; the others any count.
          const bool perRankCount = algo.collective == Collective::ReduceScatter ||
                                    algo.collective == Collective::AllGather;
          req.count = perRankCount ? perRank * size_t(n) : perRank * 37 + 3 * (perRank == 1);
          req.elemBytes = 4;
          req.messageBytes = 32;  // 8 elements: most blocks take several chunks
          req.oneShotMaxBytes = 1 << 20;
          if (!algo.supports(req)) continue;
          const std::string err = testing::SymbolicRun::check(algo, req);
          ASSERT_EQ(err, "") << algo.name << " (" << collectiveName(algo.collective) << ") n=" << n
                             << " " << layoutName(layout) << " count " << req.count << " root "
                             << root;
          if (algo.collective != Collective::Broadcast && algo.collective != Collective::Reduce)
            break;  // the root matters only to these
        }
}

// One test per registered algorithm (named "<collective>_<algorithm>"), so that ctest spreads
// them over the cores. Under AddressSanitizer, whose symbolic values' allocations made the whole
// sweep take minutes, it checks the shape-changing world sizes up to 17 (support/sanitizers.h):
// the executor and process tests run the same builders there on real memory.
class EveryAlgorithm : public ::testing::TestWithParam<const AlgorithmInfo*> {};

TEST_P(EveryAlgorithm, IsCorrectForWorldSizes1To33) {
  checkAlgorithm(*GetParam(), testing::kSanitized ? 17 : 33);
}

std::string algorithmTestName(const ::testing::TestParamInfo<const AlgorithmInfo*>& info) {
  return testing::testNameOf(std::string(collectiveName(info.param->collective)) + "_" + info.param->name);
}

INSTANTIATE_TEST_SUITE_P(Schedule, EveryAlgorithm, ::testing::ValuesIn(allAlgorithms()), algorithmTestName);

// The worlds above give a rail at most 16 hosts, one radix step. The hierarchical radix
// halving-doubling pipelines its all-gather a chunk behind its reduce-scatter and reorders the
// inner steps' phases (allreduce_hierarchical.cc): rails of 34 hosts (radices 2 x 17) check
// that on two steps, with hosts of 2 and 3 ranks, contiguous and interleaved, with many chunks
// and with nearly empty buffers. (Three steps need 245 hosts (5 x 7 x 7): 35 s and 9 GB here,
// too much for every run.)
TEST(Schedule, HierarchicalRadixHalvingDoublingIsCorrectOnSeveralRailSteps) {
  const AlgorithmInfo* algo = nullptr;
  for (const AlgorithmInfo* a : allAlgorithms())
    if (std::string(a->name) == "hier-radix-hd") algo = a;
  ASSERT_NE(algo, nullptr);
  struct World {
    int hosts, perHost;
    bool interleaved;
  };
  for (const World w : {World{34, 2, false}, World{34, 3, true}}) {
    const int n = w.hosts * w.perHost;
    std::shared_ptr<const RankLayout> layout;
    if (w.interleaved) {
      std::vector<int> hosts(static_cast<size_t>(n));
      for (int r = 0; r < n; ++r) hosts[size_t(r)] = r % w.hosts;
      layout = std::make_shared<RankLayout>(RankLayout::fromHostOfRank(hosts));
    } else {
      layout = std::make_shared<RankLayout>(RankLayout::contiguousHosts(n, w.perHost));
    }
    for (size_t count : {size_t(n) * 24 + 5, size_t(3)}) {
      PlanRequest req;
      req.collective = Collective::AllReduce;
      req.nranks = n;
      req.layout = layout;
      req.count = count;
      req.elemBytes = 4;
      req.messageBytes = 32;  // several chunks per block: the pipeline fills and drains
      req.oneShotMaxBytes = 1 << 20;
      ASSERT_TRUE(algo->supports(req)) << n;
      EXPECT_EQ(testing::SymbolicRun::check(*algo, req), "")
          << w.hosts << " hosts x " << w.perHost << (w.interleaved ? " interleaved" : "")
          << " count " << count;
    }
  }
}

// The wide variant on a rail of two steps with a radix above 32 (129 hosts: 3 x 43), with hosts
// of 2 ranks, several chunks and a nearly empty buffer.
TEST(Schedule, HierarchicalWideRadixIsCorrectOnTwoRailSteps) {
  const AlgorithmInfo* algo = nullptr;
  for (const AlgorithmInfo* a : allAlgorithms())
    if (std::string(a->name) == "hier-radix128-hd") algo = a;
  ASSERT_NE(algo, nullptr);
  const int hosts = 129, perHost = 2, n = hosts * perHost;
  for (size_t count : {size_t(n) * 4 + 5, size_t(3)}) {
    PlanRequest req;
    req.collective = Collective::AllReduce;
    req.nranks = n;
    req.layout = std::make_shared<RankLayout>(RankLayout::contiguousHosts(n, perHost));
    req.count = count;
    req.elemBytes = 4;
    req.messageBytes = 32;
    req.oneShotMaxBytes = 1 << 20;
    ASSERT_TRUE(algo->supports(req));
    EXPECT_EQ(testing::SymbolicRun::check(*algo, req), "") << "count " << count;
  }
}

// Every algorithm's schedule for 131,072 ranks (hosts of 8) builds in <= 10 ms and takes <= 1 MiB.
// Lanes may run concurrently only because every channel (peer and direction) belongs to one
// lane: checked here from the steps themselves. And they must be worth having: a hierarchical
// all-reduce keeps its NVLink and NIC phases apart, and a pipelined tree its climb and descent.
TEST(Schedule, LanesKeepEveryChannelInOneLaneAndSeparateTheTiers) {
  for (const AlgorithmInfo* algo : allAlgorithms())
    for (int n = 1; n <= 17; ++n)
      for (const auto& layout : layoutsFor(n)) {
        PlanRequest req;
        req.collective = algo->collective;
        req.nranks = n;
        req.root = n - 1;
        req.layout = layout;
        req.count = size_t(n) * 4096;
        req.elemBytes = 4;
        req.messageBytes = 256;
        req.oneShotMaxBytes = 64;
        if (!algo->supports(req)) continue;
        for (int rank = 0; rank < n; ++rank) {
          req.rank = rank;
          const Schedule s = algo->build(req);
          ASSERT_EQ(s.lanes.of.size(), s.phases.size());
          std::map<std::pair<int, bool>, uint16_t> laneOf;  // (peer, sends) -> lane
          for (size_t p = 0; p < s.phases.size(); ++p) {
            ASSERT_LT(s.lanes.of[p], s.lanes.count);
            for (uint32_t it = 0; it < s.phases[p].iterations; ++it) {
              const StepInstance st = s.step(s.phases[p], it);
              for (auto [peer, sends] : {std::pair{st.sendPeer, true}, std::pair{st.recvPeer, false}}) {
                if (peer < 0 || peer == rank) continue;
                auto [at, fresh] = laneOf.try_emplace({peer, sends}, s.lanes.of[p]);
                ASSERT_EQ(at->second, s.lanes.of[p])
                    << algo->name << " n=" << n << " rank " << rank << " phase " << p << " peer " << peer;
              }
            }
            for (uint32_t q : s.lanes.after[p]) ASSERT_NE(s.lanes.of[q], s.lanes.of[p]);
          }
          const std::string name = algo->name;
          const bool severalHosts = layout && layout->nhosts >= 2 && n / layout->nhosts >= 2;
          if (name.rfind("hier-", 0) == 0 && severalHosts && layout->contiguous && n % layout->nhosts == 0) {
            EXPECT_GE(s.lanes.count, 2) << name << " n=" << n << " " << layoutName(layout);
            EXPECT_TRUE(s.concurrentLanes()) << name << " n=" << n << " " << layoutName(layout);
          }
          if (name == "dbt" && n >= 4 && rank == 1) {
            EXPECT_GE(s.lanes.count, 2) << name << " n=" << n;
            EXPECT_TRUE(s.concurrentLanes()) << name << " n=" << n;
          }
        }
      }
}

TEST(Schedule, EveryScheduleIsCompactAt131072Ranks) {
  const int n = 131072;
  auto layout = std::make_shared<RankLayout>(RankLayout::contiguousHosts(n, 8));
  for (const AlgorithmInfo* algo : allAlgorithms())
    for (int rank : {0, 12345, n - 1}) {
      PlanRequest req;
      req.collective = algo->collective;
      req.nranks = n;
      req.rank = rank;
      req.layout = layout;
      req.count = size_t(n) * 2048;  // 1 GiB of float32
      req.messageBytes = 1 << 20;
      req.oneShotMaxBytes = 1 << 16;
      if (!algo->supports(req)) continue;
      // The fastest of three builds: one preempted by another test on this 2-core machine says
      // nothing about the builder (ASan's CI pass saw 13.4 ms once, in a test whose 60-odd
      // builds take 23-34 ms in all there when the machine is idle). Under a sanitizer its
      // instrumentation is what the clock measures, so only the size is checked.
      double ms = 1e9;
      Schedule s;
      for (int i = 0; i < 3; ++i) {
        const auto start = std::chrono::steady_clock::now();
        s = algo->build(req);
        ms = std::min(ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      }
      if (!testing::kSanitized) EXPECT_LE(ms, 10.0) << algo->name << " rank " << rank;
      EXPECT_LE(s.footprintBytes(), size_t(1) << 20) << algo->name << " rank " << rank;
    }
}

// Cuts count elements into nblocks blocks, in `shards` shards of nblocks / shards blocks (0:
// unsharded), as the builders do.
Schedule cutBuffer(size_t count, uint32_t nblocks, uint32_t shards, size_t align, size_t chunkElems) {
  Schedule s;
  s.count = count;
  s.nblocks = nblocks;
  s.chunkElems = chunkElems;
  if (shards == 0) {
    s.blockElems = blockElemsFor(count, nblocks, align);
  } else {
    s.shardBlocks = nblocks / shards;
    s.shardElems = blockElemsFor(count, shards, align);
    s.blockElems = blockElemsFor(s.shardElems, s.shardBlocks, align);
  }
  return s;
}

TEST(Schedule, RangeChunkElemsSumsTheBlocksOfTheRange) {
  for (size_t count : {0ul, 1ul, 7ul, 64ul, 1000ul, 1003ul})
    for (uint32_t nblocks : {1u, 3u, 8u, 17u})
      for (uint32_t shards : {0u, 1u, 2u, 3u}) {
        const Schedule s = cutBuffer(count, nblocks * std::max(shards, 1u), shards, 4, 5);
        for (uint32_t first = 0; first < s.nblocks; ++first)
          for (uint32_t n = 0; first + n <= s.nblocks; ++n)
            for (size_t c = 0; c < s.chunksPerBlock() + 1; ++c) {
              size_t want = 0, wantAll = 0;
              for (uint32_t b = first; b < first + n; ++b) {
                size_t begin = 0;
                want += s.chunkRange(b, c, &begin);
                wantAll += s.blockSize(b);
              }
              ASSERT_EQ(s.rangeChunkElems(first, n, c), want)
                  << count << " " << s.nblocks << " " << shards << " " << first << " " << n << " " << c;
              ASSERT_EQ(s.rangeElems(first, n), wantAll) << count << " " << s.nblocks << " " << shards;
            }
      }
}

TEST(Schedule, SmallBlocksAreNotRoundedUpToTheAlignment) {
  EXPECT_EQ(blockElemsFor(1 << 28, 131072, 16), 2048u);  // 1 GiB of floats: aligned already
  EXPECT_EQ(blockElemsFor(1000, 8, 16), 128u);           // 125 -> 128: 2.4 % more
  // 1 MiB of floats on 131,072 blocks: rounding 2 up to 16 would leave 7 blocks of 8 empty.
  EXPECT_EQ(blockElemsFor(1 << 18, 131072, 16), 2u);
  EXPECT_EQ(blockElemsFor(200, 8, 16), 25u);
  EXPECT_EQ(blockElemsFor(0, 8, 16), 0u);
}

TEST(Schedule, RankLayoutsNumberHostsByFirstRank) {
  RankLayout l = RankLayout::fromHostOfRank({7, 7, 3, 3});
  EXPECT_TRUE(l.contiguous);
  EXPECT_EQ(l.nhosts, 2);
  EXPECT_EQ(l.perHost, 2);
  RankLayout m = RankLayout::fromHostOfRank({5, 9, 5, 9, 5, 9});
  EXPECT_FALSE(m.contiguous);
  EXPECT_EQ(m.perHost, 3);
  EXPECT_EQ(m.host(1), 1);
  EXPECT_EQ(m.local(4), 2);
  EXPECT_EQ(m.rankOf(1, 2), 5);
  RankLayout u = RankLayout::fromHostOfRank({0, 0, 0, 1});
  EXPECT_EQ(u.perHost, 0);
  EXPECT_EQ(u.nhosts, 2);
}

TEST(Schedule, AffineRuleWrapsNegativeValues) {
  AffineRule r{1, -1, -1};
  EXPECT_EQ(r.eval(0, 0, 5), 4);
  EXPECT_EQ(r.eval(0, 3, 5), 1);
  EXPECT_EQ(r.eval(4, 0, 5), 3);
  EXPECT_EQ((AffineRule{0, 0, -11}).eval(0, 0, 5), 4);
}

TEST(Schedule, ChunkRangesCoverTheBufferExactlyOnce) {
  for (size_t count : {0ul, 1ul, 7ul, 64ul, 1000ul, 100003ul})
    for (uint32_t nblocks : {1u, 2u, 3u, 5u, 8u, 17u})
      for (uint32_t shards : {0u, 1u, 2u, 8u}) {
        const Schedule s = cutBuffer(count, nblocks * std::max(shards, 1u), shards, 16, 100);
        std::vector<int> hits(count, 0);
        for (size_t b = 0; b < s.nblocks; ++b)
          for (size_t c = 0; c < s.chunksPerBlock(); ++c) {
            size_t begin = 0, n = s.chunkRange(b, c, &begin);
            for (size_t i = begin; i < begin + n; ++i) ++hits.at(i);
          }
        for (size_t i = 0; i < count; ++i)
          ASSERT_EQ(hits[i], 1) << count << " " << s.nblocks << " " << shards << " " << i;
      }
}

// A hierarchical schedule cuts one shard per GPU of a host; a buffer with fewer elements than
// blocks must still split evenly over them (it put all of 1 MiB in GPU 0's shard on 131,072
// ranks, so that one rail of eight carried the network's part).
TEST(Schedule, HierarchicalShardsSplitSmallBuffersEvenly) {
  for (size_t bytes : {size_t(4) << 10, size_t(128) << 10, size_t(1) << 20, size_t(1) << 30}) {
    PlanRequest req;
    req.nranks = 131072;
    req.count = bytes / 4;
    req.messageBytes = 1 << 22;
    req.layout = std::make_shared<const RankLayout>(RankLayout::contiguousHosts(req.nranks, 8));
    for (const char* name : {"hier-radix-hd", "hier-radix128-hd", "hier-ring"}) {
      const Schedule s = selectAllReduce(req, name).build(req);
      ASSERT_EQ(s.nblocks, 8 * s.shardBlocks) << name;
      for (uint32_t j = 0; j < 8; ++j)
        EXPECT_EQ(s.rangeElems(j * s.shardBlocks, s.shardBlocks), req.count / 8) << name << " " << bytes << " " << j;
    }
  }
}

TEST(Schedule, RingFootprintDoesNotGrowWithTheWorld) {
  PlanRequest req;
  req.nranks = 131072;
  req.rank = 12345;
  req.count = 1 << 28;
  req.messageBytes = 1 << 17;
  Schedule s = selectAllReduce(req, "ring").build(req);
  EXPECT_EQ(s.phases.size(), 5u);
  EXPECT_EQ(s.groups.size(), 1u);
  EXPECT_LT(s.footprintBytes(), 4096u);
}

TEST(Schedule, SelectionHonoursForcedAndRejectsUnknownOrUnsupported) {
  PlanRequest req;
  req.nranks = 4;
  req.count = 16;
  req.messageBytes = 1 << 17;
  req.oneShotMaxBytes = 1 << 16;
  EXPECT_STREQ(selectAllReduce(req, "ring").name, "ring");
  EXPECT_STREQ(selectAllReduce(req, "oneshot").name, "oneshot");
  EXPECT_STREQ(selectAllReduce(req, "").name, "oneshot");  // 64 bytes: one hand-off wins
  req.count = 1 << 24;
  // Large: a bandwidth-optimal algorithm (ring or a halving-doubling), not the one-shot.
  const std::string large = selectAllReduce(req, "").name;
  EXPECT_TRUE(large == "ring" || large == "hd" || large == "radix-hd") << large;
  EXPECT_THROW(selectAllReduce(req, "oneshot"), Error);  // too large for one message
  EXPECT_THROW(selectAllReduce(req, "bogus"), Error);
}

}  // namespace
}  // namespace strata
