// The simulator: its fabric graph against topo::summarize, max-min fairness on hand-computed
// cases, ECMP collisions, oversubscription, the 8x H100 ring against NCCL's measured busbw, fast
// mode against full mode for every registered all-reduce algorithm, walking one GPU per server
// against walking every rank, and the 131,072-rank scale.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "plan/registry.h"
#include "sim/fabric_graph.h"
#include "sim/simulator.h"
#include "support/param_names.h"
#include "support/sanitizers.h"
#include "topology/fabric.h"

namespace strata::sim {
namespace {

const AlgorithmInfo& allReduce(const std::string& name) {
  for (const AlgorithmInfo* a : algorithmsFor(Collective::AllReduce))
    if (name == a->name) return *a;
  throw std::runtime_error("no all-reduce algorithm " + name);
}

TEST(FabricGraph, SwitchAndCableCountsMatchTheFabricSummary) {
  for (const char* name : {"superpod:4su", "superpod:16su", "colossus:131k"}) {
    SCOPED_TRACE(name);
    const topo::Fabric fabric = topo::fabricPreset(name);
    const topo::FabricSummary summary = topo::summarize(fabric);
    const FabricGraph g = FabricGraph::fromFabric(fabric);
    EXPECT_EQ(g.ranks(), int64_t(summary.gpus));
    ASSERT_EQ(g.tiers().size(), summary.tiers.size());
    for (size_t t = 0; t < summary.tiers.size(); ++t) {
      EXPECT_EQ(g.tiers()[t].switches, summary.tiers[t].switches) << summary.tiers[t].name;
      EXPECT_EQ(g.tiers()[t].cablesUp, summary.tiers[t].linksUp) << summary.tiers[t].name;
    }
  }
}

TEST(FabricGraph, RoutesClimbOnlyAsHighAsNeeded) {
  // superpod:16su: 3 tiers; a leaf holds 32 servers of one rail, a pod 4 x 32 servers.
  const FabricGraph g = FabricGraph::fromFabric(topo::fabricPreset("superpod:16su"));
  struct Case {
    int64_t src, dst;
    int links, level;
  } cases[] = {
      {0, 5, 2, 0},        // same server: NVLink out and in
      {0, 8, 2, 1},        // server 1, same rail, same leaf: NIC up and down
      {0, 9, 4, 2},        // server 1, other rail: through a spine
      {0, 32 * 8, 4, 2},   // rail 0 of the next leaf in the pod
      {0, 128 * 8, 6, 3},  // the next pod: through the core
  };
  double lastLatency = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("{} -> {}", c.src, c.dst));
    for (Routing routing : {Routing::Ecmp, Routing::Adaptive}) {
      const Route r = g.route(c.src, c.dst, routing, 7);
      EXPECT_EQ(r.count, c.links);
      EXPECT_EQ(r.level, c.level);
      for (uint8_t i = 0; i < r.count; ++i) EXPECT_LT(r.links[i], g.linkCount());
    }
    const double latency = g.route(c.src, c.dst, Routing::Ecmp, 7).latencySec;
    EXPECT_GE(latency, lastLatency);
    lastLatency = latency;
  }
  // Links of distinct routes are distinct where the hardware is: two GPUs' NIC links differ.
  EXPECT_NE(g.route(0, 8, Routing::Ecmp, 1).links[0], g.route(1, 9, Routing::Ecmp, 1).links[0]);
}

TEST(MaxMin, TwoFlowsShareALinkAndABottleneckedFlowLeavesTheRest) {
  // Link 0 (10) carries A and B; link 1 (4) carries B and C: B and C get 2, A the other 8.
  const std::vector<double> rates = maxMinRates({10, 4}, {{0}, {0, 1}, {1}});
  ASSERT_EQ(rates.size(), 3u);
  EXPECT_DOUBLE_EQ(rates[0], 8);
  EXPECT_DOUBLE_EQ(rates[1], 2);
  EXPECT_DOUBLE_EQ(rates[2], 2);
  const std::vector<double> pair = maxMinRates({10}, {{0}, {0}});
  EXPECT_DOUBLE_EQ(pair[0], 5);
  EXPECT_DOUBLE_EQ(pair[1], 5);
}

// Rail 0 of the 32 servers under one leaf sends to rail 0 of the 32 under the next leaf.
std::vector<std::pair<int64_t, int64_t>> leafToLeaf(int servers) {
  std::vector<std::pair<int64_t, int64_t>> flows;
  for (int s = 0; s < servers; ++s) flows.push_back({8 * s, 8 * (s + servers)});
  return flows;
}

TEST(Routing, EcmpCollisionsCostBandwidthThatAdaptiveRoutingKeeps) {
  const FabricGraph g = FabricGraph::fromFabric(topo::fabricPreset("superpod:4su"));
  const auto flows = leafToLeaf(32);
  const std::vector<double> ecmp = steadyRates(g, flows, Routing::Ecmp, 1);
  const std::vector<double> adaptive = steadyRates(g, flows, Routing::Adaptive, 1);
  double ecmpSum = 0, ecmpMin = 1e300;
  for (double r : ecmp) {
    ecmpSum += r;
    ecmpMin = std::min(ecmpMin, r);
  }
  for (double r : adaptive) EXPECT_NEAR(r, g.nicBytesPerSec, 1e-6 * g.nicBytesPerSec);
  // 32 flows hashed onto 32 uplinks collide: some get half a cable or less.
  EXPECT_LE(ecmpMin, 0.5 * g.nicBytesPerSec * 1.0001);
  EXPECT_LT(ecmpSum, 0.9 * 32 * g.nicBytesPerSec);
  std::printf("leaf to leaf, 32 flows: ECMP %.1f %% of adaptive (slowest flow %.1f GB/s)\n",
              100 * ecmpSum / (32 * g.nicBytesPerSec), ecmpMin / 1e9);
}

TEST(Routing, TwoToOneOversubscriptionHalvesCrossLeafBandwidth) {
  auto fabric = [](double oversubscription) {
    topo::Fabric f = topo::fabricPreset("superpod:4su");
    f.name = fmt::format("test 1:{}", oversubscription);
    f.servers = 64;
    f.tiers[0].radix = 48;  // 32 NICs down; 16 (2:1) or 32 (1:1 at radix 64) up
    f.tiers[0].oversubscription = oversubscription;
    if (oversubscription == 1) f.tiers[0].radix = 64;
    return FabricGraph::fromFabric(f);
  };
  const auto flows = leafToLeaf(32);
  const FabricGraph full = fabric(1), half = fabric(2);
  for (Routing routing : {Routing::Adaptive, Routing::Ecmp}) {
    double sumFull = 0, sumHalf = 0;
    for (double r : steadyRates(full, flows, Routing::Adaptive, 3)) sumFull += r;
    for (double r : steadyRates(half, flows, routing, 3)) sumHalf += r;
    if (routing == Routing::Adaptive) EXPECT_NEAR(sumHalf / sumFull, 0.5, 1e-9);
    else EXPECT_LE(sumHalf / sumFull, 0.5 + 1e-9);  // collisions only take away
  }
}

TEST(Simulator, RingOnOneHgxH100MatchesNcclBusBandwidth) {
  const FabricGraph g = FabricGraph::fromMachine("dgx-h100");
  const size_t bytes = size_t(1) << 30;
  const PlanRequest req = planRequestFor(g, bytes);
  for (Mode mode : {Mode::Full, Mode::Fast}) {
    SimOptions o;
    o.mode = mode;
    const SimResult r = simulate(g, req, allReduce("ring"), o);
    const double busbw = r.busBandwidth(bytes, 8);
    std::printf("8x H100 ring all-reduce 1 GiB, %s mode: %.1f GB/s busbw (%s)\n", modeName(mode), busbw / 1e9,
                r.describe().c_str());
    EXPECT_NEAR(busbw / 370e9, 1.0, 0.10);
  }
}

TEST(Simulator, TrafficPerLevelOfATwoServerRing) {
  // 16 ranks on two servers: ranks 7 -> 8 and 15 -> 0 cross the NICs (same rail? no: rail 7 to
  // rail 0, so through a spine); every channel carries 2(n-1)/n of the buffer.
  const FabricGraph g = FabricGraph::fromFabric(topo::fabricPreset("superpod:4su"), 16);
  const size_t bytes = 64 << 20;
  const SimResult r = simulate(g, planRequestFor(g, bytes), allReduce("ring"), {});
  const double perChannel = 2.0 * 15 / 16 * bytes;
  ASSERT_EQ(r.traffic.size(), 3u);
  EXPECT_EQ(r.traffic[0].name, "nvlink");
  EXPECT_NEAR(r.traffic[0].bytes, 14 * perChannel, 1e-6 * perChannel);
  EXPECT_NEAR(r.traffic[1].bytes, 2 * perChannel, 1e-6 * perChannel);
  EXPECT_NEAR(r.traffic[2].bytes, 2 * perChannel, 1e-6 * perChannel);
}

// How far fast mode may stray from full mode: 5 %, but for the known gaps docs/simulator.md
// measures. Swing, rd and hd at 64 KiB - 1 MiB on 1,024 ranks (ECMP collisions that overlap in
// full mode only partly): up to 7.5 % pessimistic, and hier-hd, whose rails run hd, at 1 MiB
// (5.2 %); swing at 256 MiB on 256 ranks 8.2 %. The pipelined hierarchical tree on 256 MiB: 11.2 %
// optimistic (a message's share of a port does not foresee the messages that start after it; it
// was 8.5 % while every step of a lane waited for its clock's turn, which booked some sends late).
// Every other algorithm (the double binary tree too, since ports are shared in time), and any new
// one, must agree within 5 %.
double fastModeTolerance(const std::string& algorithm) {
  if (algorithm == "hier-tree") return 0.12;
  if (algorithm == "swing" || algorithm == "rd" || algorithm == "hd" || algorithm == "hier-hd") return 0.085;
  return 0.05;
}

// Fast mode against full mode for every registered all-reduce algorithm that supports the
// case, on one server and on 1,024 GPUs (4 SuperPOD units, 2 tiers, ECMP), at three sizes. One
// test per algorithm, so that ctest spreads them over the cores.
class FastAgainstFull : public ::testing::TestWithParam<const AlgorithmInfo*> {};

TEST_P(FastAgainstFull, AgreeWithinTolerance) {
  const AlgorithmInfo* algo = GetParam();
  const std::string name = algo->name;
  struct Config {
    const char* name;
    FabricGraph graph;
  };
  // Full mode of the largest size costs minutes at 1,024 ranks for the algorithms that talk
  // to many peers at once; it runs on the first 256 ranks (32 servers, still across spines).
  std::vector<Config> configs;
  configs.push_back({"dgx-h100", FabricGraph::fromMachine("dgx-h100")});
  configs.push_back({"superpod:4su", FabricGraph::fromFabric(topo::fabricPreset("superpod:4su"))});
  configs.push_back({"superpod:4su", FabricGraph::fromFabric(topo::fabricPreset("superpod:4su"), 256)});
  // The mixed-radix exchanges (every rank to 31 others at once) cost 45-55 s per size in full
  // mode on 1,024 ranks, most of this test's time in CI: they compare on 512 (64 servers,
  // still across spines) instead, measured once on 1,024 in docs/simulator.md.
  configs.push_back({"superpod:4su", FabricGraph::fromFabric(topo::fabricPreset("superpod:4su"), 512)});
  const bool manyPeers = name == "radix-hd" || name == "radix-rd";
  std::printf("%-10s %-14s %6s %10s %12s %12s %8s %8s %8s\n", "algorithm", "fabric", "ranks", "bytes", "full s",
              "fast s", "diff %", "full wall", "fast wall");
  int compared = 0;
  auto compareOn = [&](const Config& c) {
    for (size_t bytes : {size_t(64) << 10, size_t(1) << 20, size_t(256) << 20}) {
      if ((bytes >= (size_t(256) << 20)) != (c.graph.ranks() <= 256) && c.graph.ranks() > 8) continue;
      const PlanRequest req = planRequestFor(c.graph, bytes);
      if (!algo->supports(req)) continue;
      SimOptions o;
      o.mode = Mode::Full;
      const SimResult full = simulate(c.graph, req, *algo, o);
      o.mode = Mode::Fast;
      const SimResult fast = simulate(c.graph, req, *algo, o);
      const double diff = (fast.seconds - full.seconds) / full.seconds;
      std::printf("%-10s %-14s %6lld %10zu %12.6g %12.6g %+8.2f %8.2f %8.2f\n", algo->name, c.name,
                  (long long)c.graph.ranks(), bytes, full.seconds, fast.seconds, 100 * diff, full.wallSeconds,
                  fast.wallSeconds);
      std::fflush(stdout);
      EXPECT_LE(std::abs(diff), fastModeTolerance(name)) << name << " on " << c.name << ", " << bytes << " bytes";
      EXPECT_EQ(full.messages, fast.messages);
      ++compared;
    }
  };
  // Under a sanitizer, the full simulations of 512 and 1,024 ranks (and of the many-peer
  // exchanges on 256) cost minutes and walk the same code as the smaller rows: the normal build
  // compares them, and a sanitized build only for an algorithm that supports none of the others.
  const bool sanitized = testing::kSanitized;
  const auto takes = [&](const Config& c) {
    return c.graph.ranks() <= 256 || (c.graph.ranks() == 512) == manyPeers;
  };
  for (const Config& c : configs)
    if (takes(c) && (!sanitized || c.graph.ranks() <= (manyPeers ? 8 : 256))) compareOn(c);
  if (sanitized && compared == 0)
    for (const Config& c : configs)
      if (takes(c) && c.graph.ranks() > 256) compareOn(c);
  // Every algorithm is compared somewhere, the ring everywhere.
  EXPECT_GE(compared, name == "ring" ? (sanitized ? 4 : 6) : 1);
}

std::string algorithmTestName(const ::testing::TestParamInfo<const AlgorithmInfo*>& info) {
  return testing::testNameOf(info.param->name);
}

INSTANTIATE_TEST_SUITE_P(Simulator, FastAgainstFull, ::testing::ValuesIn(algorithmsFor(Collective::AllReduce)),
                         algorithmTestName);

// Fast mode walks GPU 0 of each server for all of them where the schedules and the fabric are
// symmetric under renumbering a server's GPUs in a rotation (SimOptions::serverSymmetry,
// docs/simulator.md "Symmetry"). It must give what walking every rank gives, and fall back
// where either is not symmetric.
TEST(Simulator, ServerSymmetryAgreesWithWalkingEveryRank) {
  const FabricGraph colossus = FabricGraph::fromFabric(topo::fabricPreset("colossus:100k"), 1024);
  const FabricGraph threeServers = FabricGraph::fromFabric(topo::fabricPreset("colossus:100k"), 24);
  const FabricGraph colossus1000 = FabricGraph::fromFabric(topo::fabricPreset("colossus:100k"), 1000);
  const FabricGraph superpod = FabricGraph::fromFabric(topo::fabricPreset("superpod:4su"));
  const FabricGraph dgx = FabricGraph::fromMachine("dgx-h100");
  struct Case {
    const char* what;
    const FabricGraph* graph;
    Routing routing;
    const char* algo;
    size_t bytes;
    uint32_t symmetry;  // expected: 8 walks one rank per server, 1 walks all
    double tolerance;   // relative, on the simulated seconds
  };
  const size_t KiB = 1 << 10, MiB = 1 << 20, GiB = size_t(1) << 30;
  // Sends are booked in time order, so which ranks walk changes little (docs/simulator.md,
  // "Symmetry"): what remains is a walker whose next send starts before its last one, and
  // events at the same time. Up to 0.7 % is seen (hier-tree), 0.02 % for hier-radix-hd.
  const Case cases[] = {
      {"hierarchical, 1 GiB", &colossus, Routing::Adaptive, "hier-radix-hd", GiB, 8, 0.001},
      {"hierarchical, small", &colossus, Routing::Adaptive, "hier-radix-rd", 64 * KiB, 8, 1e-9},
      // 256 MiB: 32 chunks, so that the chunk loop is collapsed (a chunk holds at least 1 MiB of
      // the shard, allreduce_hierarchical.cc).
      {"hierarchical, lanes", &colossus, Routing::Adaptive, "hier-radix-hd", 256 * MiB, 8, 0.01},
      {"hierarchical ring", &colossus, Routing::Adaptive, "hier-ring", 64 * MiB, 8, 1e-9},
      {"pipelined trees", &colossus, Routing::Adaptive, "hier-tree", 64 * MiB, 8, 0.01},
      // 128 KiB does not split evenly over 24 ranks: GPU 0's message sizes stand for all.
      {"uneven split", &threeServers, Routing::Adaptive, "hier-radix-rd", 128 * KiB, 8, 0.002},
      {"lanes, three servers", &threeServers, Routing::Adaptive, "hier-radix-hd", 256 * MiB, 8, 0.01},
      // 512 KiB over 1,000 ranks leaves the last blocks empty: a GPU sends up to 11 % less than
      // GPU 0 of its server through its NIC. The walk takes GPU 0's sizes for all; the traffic
      // is counted per GPU (the check below holds it to 1 %).
      {"uneven, 1,000 ranks", &colossus1000, Routing::Adaptive, "hier-radix-hd", 512 * KiB, 8, 0.01},
      // Fewer elements than blocks (512 for 1,024): each GPU's shard holds 64 elements in its
      // 128 blocks, half of them empty (Schedule.HierarchicalShardsSplitSmallBuffersEvenly).
      {"fewer elements than blocks", &colossus, Routing::Adaptive, "hier-radix-hd", 2 * KiB, 8, 0.01},
      {"uneven, 1,000 ranks, 8 MiB", &colossus1000, Routing::Adaptive, "hier-radix-hd", 8 * MiB, 8, 0.01},
      // Uneven and collapsed: the skipped chunks' traffic is counted with the same weights (the
      // traffic check below). The collapse takes the slowest rank's warm-up period for all;
      // while ports were booked in walk order, which rank was slowest followed the walk, and
      // the times parted by 8 % (1,468.05 against 1,595.26 us). Now 0.004 %.
      {"uneven, 1,000 ranks, 256 MiB", &colossus1000, Routing::Adaptive, "hier-radix-hd", 256 * MiB, 8, 0.01},
      {"one server's ring", &dgx, Routing::Adaptive, "ring", 256 * MiB, 8, 1e-9},
      // Not symmetric: a flat ring leaves each server from its last GPU only; hashed routes
      // collide differently on each rail (found when the first such pattern is solved). Both
      // then walk every rank, so the results are the same to the bit.
      {"flat ring across servers", &colossus, Routing::Adaptive, "ring", MiB, 1, 0},
      // The same on three servers, and under the sanitizers: the walk of each server's GPU 0
      // starts while the other GPUs' schedules are checked on a second thread, and is given up.
      {"flat ring, three servers", &threeServers, Routing::Adaptive, "ring", MiB, 1, 0},
      {"ECMP", &superpod, Routing::Ecmp, "hier-radix-hd", MiB, 1, 0},
  };
  // The 1,024-rank cases cost 18 s under a sanitizer; the small ones walk the same code.
  const bool sanitized = testing::kSanitized;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    if (sanitized && (c.graph == &colossus || c.graph == &colossus1000)) continue;
    const PlanRequest req = planRequestFor(*c.graph, c.bytes);
    SimOptions o;
    o.mode = Mode::Fast;
    o.routing = c.routing;
    const SimResult walkedOnePerServer = simulate(*c.graph, req, allReduce(c.algo), o);
    o.serverSymmetry = false;
    const SimResult everyRank = simulate(*c.graph, req, allReduce(c.algo), o);
    std::printf("%-26s %-14s symmetry %u: %.6g s, every rank %.6g s; wall %.2f s against %.2f s\n", c.what, c.algo,
                walkedOnePerServer.symmetry, walkedOnePerServer.seconds, everyRank.seconds,
                walkedOnePerServer.wallSeconds, everyRank.wallSeconds);
    EXPECT_EQ(walkedOnePerServer.symmetry, c.symmetry);
    EXPECT_EQ(everyRank.symmetry, 1u);
    EXPECT_NEAR(walkedOnePerServer.seconds / everyRank.seconds, 1.0, c.tolerance);
    EXPECT_EQ(walkedOnePerServer.messages, everyRank.messages);
    ASSERT_EQ(walkedOnePerServer.traffic.size(), everyRank.traffic.size());
    for (size_t l = 0; l < everyRank.traffic.size(); ++l)
      EXPECT_NEAR(walkedOnePerServer.traffic[l].bytes, everyRank.traffic[l].bytes,
                  0.01 * everyRank.traffic[l].bytes + 1)
          << everyRank.traffic[l].name;
  }
}

// A schedule that cannot be built is an error for the caller wherever it is built: GPU 0 of a
// server on either of the two threads that build those, another GPU on the thread that checks
// the symmetry while the walk goes on. Never a hang, never a walk's result.
int failingRank = -1;
Schedule buildOrFail(const PlanRequest& r) {
  if (r.rank == failingRank) throw Error(strataInternalError, fmt::format("no schedule for rank {}", r.rank));
  return allReduce("hier-radix-hd").builder(r);
}

TEST(Simulator, ScheduleErrorsOnEitherThreadReachTheCaller) {
  const FabricGraph g = FabricGraph::fromFabric(topo::fabricPreset("colossus:100k"), 64);
  const AlgorithmInfo& real = allReduce("hier-radix-hd");
  const AlgorithmInfo failing{"failing", real.collective, "", real.supports, real.estimateSeconds, buildOrFail};
  const PlanRequest req = planRequestFor(g, size_t(1) << 20);
  SimOptions o;
  o.mode = Mode::Fast;
  // 0 and 32: GPU 0 of a server built by the walking thread and by the second thread; 43 and
  // 63: other GPUs, built by the checking thread.
  for (int rank : {0, 32, 43, 63}) {
    failingRank = rank;
    try {
      simulate(g, req, failing, o);
      ADD_FAILURE() << "rank " << rank << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), fmt::format("no schedule for rank {}", rank));
    }
  }
  failingRank = -1;
  EXPECT_EQ(simulate(g, req, failing, o).symmetry, 8u);
}

TEST(Simulator, HostSharedMemoryModel) {
  CostModel cost;  // 5 GB/s per rank, 1 us per message
  const FabricGraph g = FabricGraph::forHost(cost, 4);
  const size_t bytes = 8 << 20;
  PlanRequest req = planRequestFor(g, bytes);
  req.messageBytes = 128 << 10;
  SimOptions o;
  o.mode = Mode::Full;
  const SimResult full = simulate(g, req, allReduce("ring"), o);
  o.mode = Mode::Fast;
  const SimResult fast = simulate(g, req, allReduce("ring"), o);
  const double wireBound = 2.0 * 3 / 4 * bytes / cost.intraHost.bytesPerSec;
  EXPECT_GT(full.seconds, wireBound);
  EXPECT_LT(full.seconds, 3 * wireBound);
  EXPECT_NEAR(fast.seconds / full.seconds, 1.0, 0.05);
}

// 131,072 ranks in fast mode finish and stay within 8 GiB. How fast (issue #4: <= 60 s) is
// measured by bench/sim-scale.sh on an idle machine, not timed here, where other tests share the
// cores: this test prints the wall time for the record.
TEST(Simulator, FastModeReaches131072Ranks) {
  // Minutes long under a sanitizer, whose builds run the other simulator tests for what they
  // check.
  if (testing::kSanitized) GTEST_SKIP() << "131,072 ranks run in the normal build only";
  const topo::Fabric fabric = topo::fabricPreset("colossus:131k");
  const FabricGraph g = FabricGraph::fromFabric(fabric);
  ASSERT_EQ(g.ranks(), 131072);
  const size_t bytes = size_t(256) << 20;
  const PlanRequest req = planRequestFor(g, bytes);
  // The ring (linear phases, collapsed) and halving-doubling (log-depth tables, the slowest
  // to walk: docs/simulator.md) keep this test within its time; the others run alike.
  int ran = 0;
  for (const AlgorithmInfo* algo : algorithmsFor(Collective::AllReduce)) {
    if (std::string(algo->name) != "ring" && std::string(algo->name) != "hd") continue;
    if (!algo->supports(req)) continue;
    ++ran;
    SimOptions o;
    o.mode = Mode::Fast;
    // As strata-plan simulates it: with the fabric's own routing (adaptive on Colossus).
    o.routing = fabric.adaptiveRouting ? Routing::Adaptive : Routing::Ecmp;
    const SimResult r = simulate(g, req, *algo, o);
    std::printf("colossus:131k %s 256 MiB fast: %s\n", algo->name, r.describe().c_str());
    EXPECT_GT(r.seconds, 0);
    EXPECT_LE(double(r.peakRssBytes), 8.0 * (1ull << 30));
  }
  EXPECT_GE(ran, 1);
}

// The hierarchical all-reduce that wins at 1 GiB on Colossus-like fabrics: 7 concurrent lanes and
// about 140 messages per chunk per rank, the slowest schedule to walk. It gets there by walking
// one GPU per server (docs/simulator.md, "Symmetry" and "Scale"); its speed is measured by
// bench/sim-scale.sh, as above.
TEST(Simulator, HierarchicalAllReduceOfOneGiBReaches131072Ranks) {
  if (testing::kSanitized) GTEST_SKIP() << "131,072 ranks run in the normal build only";
  const topo::Fabric fabric = topo::fabricPreset("colossus:131k");
  const FabricGraph g = FabricGraph::fromFabric(fabric);
  const PlanRequest req = planRequestFor(g, size_t(1) << 30);
  SimOptions o;
  o.mode = Mode::Fast;
  o.routing = Routing::Adaptive;
  const SimResult r = simulate(g, req, allReduce("hier-radix-hd"), o);
  std::printf("colossus:131k hier-radix-hd 1 GiB fast: %s\n", r.describe().c_str());
  EXPECT_EQ(r.symmetry, 8u);
  // The per-server network bound is 2 (m-1)/m x 1 GiB / (8 x 50 GB/s) = 5.37 ms.
  EXPECT_GT(r.seconds, 5.36e-3);
  EXPECT_LT(r.seconds, 2 * 5.37e-3);
  EXPECT_LE(double(r.peakRssBytes), 8.0 * (1ull << 30));
}

}  // namespace
}  // namespace strata::sim
