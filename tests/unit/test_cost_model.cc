// The cost model (plan/cost_model.h): message costs and contention, classes derived from
// topologies and fabrics, the calibration profile and its fit, and NCCL's published model
// (plan/nccl_model.h) against the figures in shared/facts/FABRICS.md.
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "plan/cost_model.h"
#include "plan/nccl_model.h"
#include "topology/fabric.h"
#include "topology/model.h"
#include "topology/presets.h"
#include "support/scoped_env.h"

namespace strata {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the test's temporary directory, removed at the end.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / fmt::format("strata-cost-model-{}-{}", getpid(), counter_++);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

void writeText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

using strata::testing::ScopedEnv;

// The text of the strata::Error that `f` throws, checking its code.
template <typename F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), strataInvalidArgument) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no strata::Error thrown";
  return "";
}

CostProfile sampleProfile() {
  CostProfile p;
  p.machine = "testhost";
  p.date = "2025-01-02T03:04:05Z";
  p.command = "strata-bench --calibrate";
  p.kernelIsa = "avx2";
  p.shm = {"shm", 1.25e-6, 3.5e9};
  p.shmProbe = "2-rank ring";
  p.shmPoints = {{8, 2, 3e-6, 1e-9}, {1 << 20, 8, 4e-4, 5e-5}};
  p.reduceBytesPerSec = 7.5e9;
  p.reduceProbe = "float32 sum";
  p.reducePoints = {{4096, 1, 1e-6, 0}};
  p.cacheBytes = 1 << 20;
  p.shmMemoryBytesPerSec = 1.5e9;
  p.reduceMemoryBytesPerSec = 6e9;
  return p;
}

// ---- Messages and contention ------------------------------------------------------------------

TEST(CostModel, MessageIsAlphaPlusBytesOverBandwidth) {
  CostModel m;
  m.intraHost = {"shm", 2e-6, 4e9};
  m.interHost = {"nic", 5e-6, 50e9};
  EXPECT_DOUBLE_EQ(m.message(0, -1), 2e-6);
  EXPECT_DOUBLE_EQ(m.message(4000, -1), 2e-6 + 4000 / 4e9);
  // Two flows on the link: each gets half the bandwidth, the latency is unchanged.
  EXPECT_DOUBLE_EQ(m.message(4000, -1, 2), 2e-6 + 2 * 4000 / 4e9);
  // Sharing below one flow is one flow.
  EXPECT_DOUBLE_EQ(m.message(4000, -1, 0.5), m.message(4000, -1));
  // Inter-host with no tiers listed: the NIC alone.
  EXPECT_DOUBLE_EQ(m.message(1 << 20, 0), 5e-6 + double(1 << 20) / 50e9);
}

TEST(CostModel, TiersAddHopsAndTaperBandwidth) {
  CostModel m;
  m.interHost = {"nic", 3e-6, 40e9};
  m.tierHopSec = {0.5e-6, 1e-6, 1.5e-6};
  m.tierBandwidthFactor = {1.0, 0.5, 0.25};
  const size_t bytes = 8 << 20;
  EXPECT_DOUBLE_EQ(m.message(bytes, 0), 3e-6 + 0.5e-6 + bytes / 40e9);
  EXPECT_DOUBLE_EQ(m.message(bytes, 1), 3e-6 + 1.5e-6 + bytes / 20e9);
  EXPECT_DOUBLE_EQ(m.message(bytes, 2), 3e-6 + 3e-6 + bytes / 10e9);
  // A rail shared by 4 flows on top of the spine's taper.
  EXPECT_DOUBLE_EQ(m.message(bytes, 1, 4), 3e-6 + 1.5e-6 + 4 * bytes / 20e9);
  // A tier beyond the listed ones costs nothing extra.
  EXPECT_DOUBLE_EQ(m.message(bytes, 5), m.message(bytes, 2));
}

// ---- Topology and fabric ------------------------------------------------------------------------

TEST(CostModelTopology, DgxH100IsNvlinkAndOneNicPerGpu) {
  const topo::Topology t = topo::machinePreset("dgx-h100");
  const CostModel m = fromTopology(t);
  EXPECT_EQ(m.intraHost.name, "nvlink");
  // 18 NVLink4 links per GPU as NCCL models them: 370.8 GB/s (FABRICS.md).
  EXPECT_NEAR(m.intraHost.bytesPerSec / 1e9, 370.8, 0.1);
  EXPECT_NEAR(m.intraHost.bytesPerSec, topo::nvlinkBandwidthGBps(90, 18) * 1e9, 1e3);
  EXPECT_EQ(m.interHost.name, "nic");
  // A 400 Gb/s NIC achieves 46-48 of its 50 GB/s.
  EXPECT_GE(m.interHost.bytesPerSec, 46e9);
  EXPECT_LE(m.interHost.bytesPerSec, 48e9);
  EXPECT_EQ(m.ranksPerNic, 1);
  EXPECT_LT(m.intraHost.alphaSec, m.interHost.alphaSec);
  EXPECT_TRUE(m.tierHopSec.empty());
  EXPECT_NE(m.source.find("dgx-h100"), std::string::npos) << m.source;
}

TEST(CostModelTopology, A100HasHalfTheNicAndLessNvlink) {
  const CostModel h100 = fromTopology(topo::machinePreset("dgx-h100"));
  const CostModel a100 = fromTopology(topo::machinePreset("dgx-a100"));
  EXPECT_EQ(a100.intraHost.name, "nvlink");
  EXPECT_LT(a100.intraHost.bytesPerSec, h100.intraHost.bytesPerSec);
  EXPECT_NEAR(a100.interHost.bytesPerSec, h100.interHost.bytesPerSec / 2, 1e6);  // 200 vs 400 Gb/s
}

topo::Node node(topo::NodeKind kind, int index, const std::string& name) {
  topo::Node n;
  n.kind = kind;
  n.index = index;
  n.name = name;
  return n;
}

TEST(CostModelTopology, PcieGpusSharingANic) {
  using namespace topo;
  Topology t;
  t.source = "hand-built";
  const NodeId cpu = t.addNode(node(NodeKind::Cpu, 0, "CPU0"));
  const NodeId sw = t.addNode(node(NodeKind::PciSwitch, 0, "SW0"));
  t.addLink({cpu, sw, LinkKind::Pci, pciBandwidthGBps(4, 16), 0, 1, 4, 16});
  for (int g = 0; g < 2; ++g) {
    Node gpuNode = node(NodeKind::Gpu, g, "GPU" + std::to_string(g));
    gpuNode.gpuSm = 80;
    const NodeId gpu = t.addNode(gpuNode);
    t.addLink({sw, gpu, LinkKind::Pci, pciBandwidthGBps(4, 16), 0, 1, 4, 16});
  }
  Node nicNode = node(NodeKind::Nic, 0, "NIC0");
  nicNode.speedGbps = 100;
  const NodeId nic = t.addNode(nicNode);
  t.addLink({sw, nic, LinkKind::Pci, pciBandwidthGBps(4, 16), 0, 1, 4, 16});

  const CostModel m = fromTopology(t);
  EXPECT_EQ(m.intraHost.name, "pcie");
  EXPECT_NEAR(m.intraHost.bytesPerSec, pciBandwidthGBps(4, 16) * 1e9, 1e3);
  EXPECT_EQ(m.ranksPerNic, 2);
  EXPECT_LT(m.interHost.bytesPerSec, 100e9 / 8);  // below line rate
  EXPECT_GT(m.interHost.bytesPerSec, 0.9 * 100e9 / 8);
  // Both GPUs sending at once through the one NIC: half each.
  EXPECT_DOUBLE_EQ(m.message(1 << 20, 0, m.ranksPerNic) - m.interHost.alphaSec,
                   2 * (m.message(1 << 20, 0) - m.interHost.alphaSec));
}

TEST(CostModelTopology, HostWithoutGpusUsesSharedMemory) {
  using namespace topo;
  Topology t;
  t.addNode(node(NodeKind::Cpu, 0, "CPU0"));
  const CostModel m = fromTopology(t);
  EXPECT_EQ(m.intraHost.name, CostModel::defaultHost().intraHost.name);
  EXPECT_DOUBLE_EQ(m.intraHost.bytesPerSec, CostModel::defaultHost().intraHost.bytesPerSec);
  EXPECT_DOUBLE_EQ(m.reduceBytesPerSec, CostModel::defaultHost().reduceBytesPerSec);
}

TEST(CostModelFabric, ColossusTiersAreNonBlocking) {
  const topo::Fabric f = topo::fabricPreset("colossus:100k");
  const CostModel m = fromFabric(f);
  EXPECT_EQ(m.intraHost.name, "nvlink");
  EXPECT_NEAR(m.interHost.bytesPerSec, f.nicGbps / 8 * 1e9 * 0.94, 1e6);
  ASSERT_EQ(m.tierHopSec.size(), f.tiers.size());
  ASSERT_EQ(m.tierBandwidthFactor.size(), f.tiers.size());
  // Leaf: one switch; spine: leaf-spine-leaf; core: leaf-spine-core-spine-leaf.
  const double hop = f.tiers[0].latencyUs * 1e-6;
  double sum = 0;
  const int hops[] = {1, 3, 5};
  for (size_t t = 0; t < f.tiers.size(); ++t) {
    sum += m.tierHopSec[t];
    EXPECT_NEAR(sum, hops[t] * hop, 1e-12) << "tier " << t;
    EXPECT_DOUBLE_EQ(m.tierBandwidthFactor[t], 1.0);
  }
  EXPECT_EQ(m.ranksPerNic, 1);
}

TEST(CostModelFabric, MetaOversubscriptionSlowsTheTopTier) {
  const topo::Fabric f = topo::fabricPreset("meta-24k");
  const CostModel m = fromFabric(f);
  ASSERT_EQ(m.tierBandwidthFactor.size(), 3u);
  EXPECT_DOUBLE_EQ(m.tierBandwidthFactor[0], 1.0);
  EXPECT_DOUBLE_EQ(m.tierBandwidthFactor[1], 1.0 / f.tiers[0].oversubscription);
  EXPECT_DOUBLE_EQ(m.tierBandwidthFactor[2], 1.0 / (f.tiers[0].oversubscription * f.tiers[1].oversubscription));
  // Above the pods (1:7) a large message takes about 7x as long as inside one.
  const size_t bytes = 256 << 20;
  EXPECT_NEAR(m.message(bytes, 2) / m.message(bytes, 1), 7.0, 0.05);
}

// ---- Calibration profile ----------------------------------------------------------------------

TEST(CostProfile, RoundTripThroughAFile) {
  TempDir dir;
  const std::string path = dir.file("nested/dir/cost-profile.json");
  const CostProfile p = sampleProfile();
  writeCostProfile(p, path);
  const CostProfile q = readCostProfile(path);
  EXPECT_EQ(q.machine, p.machine);
  EXPECT_EQ(q.date, p.date);
  EXPECT_EQ(q.command, p.command);
  EXPECT_EQ(q.kernelIsa, p.kernelIsa);
  EXPECT_DOUBLE_EQ(q.shm.alphaSec, p.shm.alphaSec);
  EXPECT_DOUBLE_EQ(q.shm.bytesPerSec, p.shm.bytesPerSec);
  EXPECT_DOUBLE_EQ(q.reduceBytesPerSec, p.reduceBytesPerSec);
  EXPECT_EQ(q.shmProbe, p.shmProbe);
  ASSERT_EQ(q.shmPoints.size(), p.shmPoints.size());
  for (size_t i = 0; i < p.shmPoints.size(); ++i) {
    EXPECT_DOUBLE_EQ(q.shmPoints[i].bytes, p.shmPoints[i].bytes);
    EXPECT_DOUBLE_EQ(q.shmPoints[i].messages, p.shmPoints[i].messages);
    EXPECT_DOUBLE_EQ(q.shmPoints[i].seconds, p.shmPoints[i].seconds);
    EXPECT_DOUBLE_EQ(q.shmPoints[i].knownSeconds, p.shmPoints[i].knownSeconds);
  }
  ASSERT_EQ(q.reducePoints.size(), 1u);

  const CostModel m = loadHostModel(path);
  EXPECT_DOUBLE_EQ(m.intraHost.alphaSec, 1.25e-6);
  EXPECT_DOUBLE_EQ(m.intraHost.bytesPerSec, 3.5e9);
  EXPECT_DOUBLE_EQ(m.reduceBytesPerSec, 7.5e9);
  EXPECT_EQ(m.cacheBytes, size_t(1) << 20);
  EXPECT_DOUBLE_EQ(m.memoryIntraBytesPerSec, 1.5e9);
  EXPECT_DOUBLE_EQ(m.memoryReduceBytesPerSec, 6e9);
  EXPECT_NE(m.source.find(path), std::string::npos) << m.source;
  // What the profile does not measure stays built-in.
  EXPECT_DOUBLE_EQ(m.interHost.bytesPerSec, builtInHostModel().interHost.bytesPerSec);
  EXPECT_EQ(loadHostModel("").source, builtInHostModel().source);
}

TEST(CostProfile, BadProfilesNameTheFileAndTheProblem) {
  TempDir dir;
  const std::string missing = dir.file("missing.json");
  EXPECT_NE(errorOf([&] { readCostProfile(missing); }).find(missing), std::string::npos);

  struct Case {
    const char* name;
    std::string text;
    const char* expected;  // part of the message
  };
  const std::string good = costProfileToJson(sampleProfile());
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  const Case cases[] = {
      {"not-json.json", "{ this is not json", "not JSON"},
      {"array.json", "[1, 2]", "not a JSON object"},
      {"format.json", replaced("\"strata-cost-profile\"", "\"something-else\""), "format"},
      {"version.json", replaced("\"version\": 1", "\"version\": 99"), "version"},
      {"negative.json", replaced("\"bytes_per_s\": 3500000000.0", "\"bytes_per_s\": -1"), "shm.bytes_per_s"},
      {"zero-reduce.json", replaced("\"bytes_per_s\": 7500000000.0", "\"bytes_per_s\": 0"), "reduce.bytes_per_s"},
      {"no-alpha.json", replaced("\"alpha_s\"", "\"alpha\""), "shm.alpha_s"},
      {"string.json", replaced("\"alpha_s\": 1.25e-06", "\"alpha_s\": \"fast\""), "shm.alpha_s"},
      {"point.json", replaced("\"seconds\": 0.0004", "\"seconds\": -2"), "shm.points[1].seconds"},
  };
  for (const Case& c : cases) {
    const std::string path = dir.file(c.name);
    writeText(path, c.text);
    const std::string what = errorOf([&] { loadHostModel(path); });
    EXPECT_NE(what.find(path), std::string::npos) << c.name << ": " << what;
    EXPECT_NE(what.find(c.expected), std::string::npos) << c.name << ": " << what;
  }
  // The unmodified text parses: the cases above fail for their one change.
  writeText(dir.file("good.json"), good);
  EXPECT_NO_THROW(loadHostModel(dir.file("good.json")));
}

TEST(CostProfile, PathLookupOrder) {
  TempDir dir;
  const std::string cacheHome = dir.file("cache");
  ScopedEnv noProfile("STRATA_COST_PROFILE", nullptr);
  ScopedEnv xdg("XDG_CACHE_HOME", cacheHome.c_str());
  const std::string cached = cacheHome + "/strata/cost-profile.json";
  EXPECT_EQ(cacheCostProfilePath(), cached);
  EXPECT_EQ(costProfilePathInUse(), "");  // no file yet: built-in defaults
  writeCostProfile(sampleProfile(), cached);
  EXPECT_EQ(costProfilePathInUse(), cached);
  {
    // An explicit path wins, even when it does not exist (loading it then fails loudly).
    ScopedEnv named("STRATA_COST_PROFILE", dir.file("elsewhere.json").c_str());
    EXPECT_EQ(costProfilePathInUse(), dir.file("elsewhere.json"));
  }
  {
    ScopedEnv noXdg("XDG_CACHE_HOME", nullptr);
    ScopedEnv home("HOME", dir.file("home").c_str());
    EXPECT_EQ(cacheCostProfilePath(), dir.file("home") + "/.cache/strata/cost-profile.json");
  }
}

TEST(CostProfile, FitRecoversAlphaAndBandwidth) {
  const double alpha = 1.7e-6, bandwidth = 4.2e9;
  std::vector<MeasuredPoint> points;
  for (double bytes = 8; bytes <= 64e6; bytes *= 4) {
    const double messages = 2 * std::max(1.0, std::ceil(bytes / 2 / 131072));
    const double known = bytes / 2 / 9e9;  // a reduction the fit must not attribute to the link
    points.push_back({bytes, messages, alpha * messages + bytes / bandwidth + known, known});
  }
  const AlphaBetaFit fit = fitAlphaBeta(points);
  EXPECT_NEAR(fit.alphaSec, alpha, alpha * 1e-6);
  EXPECT_NEAR(fit.bytesPerSec, bandwidth, bandwidth * 1e-6);
  EXPECT_LT(fit.maxRelativeError, 1e-6);

  // Noise of +-5 % alternating: the fit stays within it.
  for (size_t i = 0; i < points.size(); ++i) points[i].seconds *= i % 2 ? 1.05 : 0.95;
  const AlphaBetaFit noisy = fitAlphaBeta(points);
  EXPECT_NEAR(noisy.alphaSec, alpha, alpha * 0.1);
  EXPECT_NEAR(noisy.bytesPerSec, bandwidth, bandwidth * 0.1);
  EXPECT_LT(noisy.maxRelativeError, 0.1);
}

TEST(CostProfile, FitClampsANegativeAlpha) {
  // Pure bandwidth with a negative offset would fit a negative alpha.
  std::vector<MeasuredPoint> points;
  for (double bytes = 1e3; bytes <= 1e8; bytes *= 10) points.push_back({bytes, 1, bytes / 2e9 - 1e-7, 0});
  const AlphaBetaFit fit = fitAlphaBeta(points);
  EXPECT_EQ(fit.alphaSec, 0);
  EXPECT_GT(fit.bytesPerSec, 0);
  EXPECT_THROW(fitAlphaBeta({}), Error);
}

TEST(CostProfile, FitFindsTheCacheAndMemoryRegimes) {
  // 8 GB/s up to 1 MiB, 1.5 GB/s beyond, alpha 0.2 us: the split and both rates come back.
  const double alpha = 0.2e-6, cache = 8e9, memory = 1.5e9;
  std::vector<MeasuredPoint> points;
  for (double bytes = 4; bytes <= 64 << 20; bytes *= 4)
    points.push_back({bytes, 2, alpha * 2 + bytes / (bytes <= (1 << 20) ? cache : memory), 0});
  const CacheMemoryFit fit = fitCacheAndMemory(points);
  EXPECT_DOUBLE_EQ(fit.splitBytes, 1 << 20);
  EXPECT_NEAR(fit.cache.alphaSec, alpha, alpha * 1e-6);
  EXPECT_NEAR(fit.cache.bytesPerSec, cache, cache * 1e-6);
  EXPECT_NEAR(fit.memoryBytesPerSec, memory, memory * 1e-3);
  EXPECT_LT(fit.maxRelativeError, 1e-3);
  // One line does much worse: that is why the second regime is kept.
  EXPECT_GT(fitAlphaBeta(points).maxRelativeError, 0.5);
  // A forced split is taken as given.
  EXPECT_DOUBLE_EQ(fitCacheAndMemory(points, 4 << 20).splitBytes, 4 << 20);
  // A single regime stays single.
  std::vector<MeasuredPoint> line;
  for (double bytes = 4; bytes <= 64 << 20; bytes *= 4) line.push_back({bytes, 2, alpha * 2 + bytes / cache, 0});
  EXPECT_EQ(fitCacheAndMemory(line).memoryBytesPerSec, 0);

  CostModel m;
  m.intraHost = {"shm", alpha, cache};
  m.reduceBytesPerSec = 20e9;
  m.cacheBytes = 1 << 20;
  m.memoryIntraBytesPerSec = memory;
  m.memoryReduceBytesPerSec = 5e9;
  EXPECT_DOUBLE_EQ(m.forWorkingSet(1 << 20).intraHost.bytesPerSec, cache);
  EXPECT_DOUBLE_EQ(m.forWorkingSet(2 << 20).intraHost.bytesPerSec, memory);
  EXPECT_DOUBLE_EQ(m.forWorkingSet(2 << 20).reduceBytesPerSec, 5e9);
  EXPECT_DOUBLE_EQ(m.forWorkingSet(2 << 20).intraHost.alphaSec, alpha);
}

// ---- NCCL's model -------------------------------------------------------------------------------

nccl::AllReduceCase colossusCase(size_t bytes, int nranks) {
  return nccl::caseFromModel(fromFabric(topo::fabricPreset("colossus:100k")), bytes, nranks, 8);
}

TEST(NcclModel, SmallAllReduceLatenciesMatchFabricsFacts) {
  // FABRICS.md: with 8 GPUs per node a small all-reduce costs tree LL 85 us at 1,024 GPUs,
  // 145 us at 100,000, 175 us at 1,000,000; ring LL 2.5 ms at 1,024 and 243 ms at 100,000.
  using nccl::Algorithm;
  using nccl::Protocol;
  auto us = [](Algorithm a, int n) { return nccl::allReduce(a, Protocol::LL, colossusCase(8, n)).seconds * 1e6; };
  EXPECT_NEAR(us(Algorithm::Tree, 1024), 85, 85 * 0.02);
  EXPECT_NEAR(us(Algorithm::Tree, 100000), 145, 145 * 0.02);
  EXPECT_NEAR(us(Algorithm::Tree, 1000000), 175, 175 * 0.02);
  EXPECT_NEAR(us(Algorithm::Ring, 1024), 2500, 2500 * 0.02);
  EXPECT_NEAR(us(Algorithm::Ring, 100000), 243000, 243000 * 0.01);
  // Latency is linear in ranks for the ring, logarithmic in nodes for the tree.
  EXPECT_GT(us(Algorithm::Ring, 2048) / us(Algorithm::Ring, 1024), 1.9);
  EXPECT_LT(us(Algorithm::Tree, 2048) - us(Algorithm::Tree, 1024), 2 * 5.0 + 1e-9);
}

TEST(NcclModel, BandwidthTermAndPicks) {
  using nccl::Algorithm;
  using nccl::Protocol;
  // One node of 8 H100: 1 GiB by ring Simple moves 2(n-1)/n of it at the NVLink bus bandwidth.
  const CostModel node = fromTopology(topo::machinePreset("dgx-h100"));
  nccl::AllReduceCase one = nccl::caseFromModel(node, size_t(1) << 30, 8, 8);
  const nccl::Estimate ring = nccl::allReduce(Algorithm::Ring, Protocol::Simple, one);
  const double busBw = node.intraHost.bytesPerSec;
  EXPECT_NEAR(ring.seconds - ring.latencySec, double(one.bytes) * 2 * 7 / 8 / busBw, 1e-9);
  EXPECT_NEAR(ring.latencySec, (8.4 + 14 * 3.4) * 1e-6, 1e-12);  // base + 2(n-1) NVLink hops
  // Large on one node: ring Simple; small at scale: tree LL.
  const nccl::Estimate big = nccl::bestAllReduce(one);
  EXPECT_EQ(big.algorithm, Algorithm::Ring);
  EXPECT_EQ(big.protocol, Protocol::Simple);
  const nccl::Estimate small = nccl::bestAllReduce(colossusCase(8, 100000));
  EXPECT_EQ(small.algorithm, Algorithm::Tree);
  EXPECT_EQ(small.protocol, Protocol::LL);
  // The pick is the minimum of the six.
  for (const nccl::Estimate& e : nccl::allReduceEstimates(colossusCase(size_t(64) << 20, 1024)))
    EXPECT_LE(nccl::bestAllReduce(colossusCase(size_t(64) << 20, 1024)).seconds, e.seconds);
  // Across nodes the NIC (about 47 GB/s per GPU) bounds the bus bandwidth.
  const nccl::Estimate wide = nccl::allReduce(Algorithm::Ring, Protocol::Simple, colossusCase(size_t(1) << 30, 1024));
  EXPECT_LT(wide.algBwGBps, 48.0 * 1024 / 2046 + 1e-9);
  EXPECT_EQ(nccl::allReduce(Algorithm::Ring, Protocol::LL, colossusCase(8, 1)).seconds, 0);
}

}  // namespace
}  // namespace strata
