// Live discovery, hwloc XML, machine presets and fabric presets (topology/discovery.h,
// formats.h, presets.h, fabric.h).
#include <dlfcn.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "topology/discovery.h"
#include "topology/fabric.h"
#include "topology/formats.h"
#include "topology/presets.h"
#include "support/scoped_env.h"

namespace strata::topo {
namespace {

// The shared real topology files; empty when not found.
std::string sharedTopology(const std::string& file) {
  std::vector<std::string> dirs;
#ifdef STRATA_SHARED_TOPOLOGIES_DIR
  dirs.push_back(STRATA_SHARED_TOPOLOGIES_DIR);
#endif
  dirs.push_back("../shared/topologies");
  dirs.push_back("../../shared/topologies");  // from a build directory inside the checkout
  for (const std::string& dir : dirs) {
    const std::string path = dir + "/" + file;
    if (std::ifstream(path).good()) return path;
  }
  return "";
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool hasNote(const Topology& t, const std::string& fragment) {
  return std::any_of(t.notes.begin(), t.notes.end(),
                     [&](const std::string& n) { return n.find(fragment) != std::string::npos; });
}

size_t countLinks(const Topology& t, LinkKind kind) {
  return std::count_if(t.links().begin(), t.links().end(), [&](const Link& l) { return l.kind == kind; });
}

using strata::testing::ScopedEnv;

// ---- live discovery -----------------------------------------------------------------------

TEST(TopologyDiscovery, LocalMachineDegradesWithNotes) {
  ScopedEnv noFile("STRATA_TOPO_FILE", nullptr);
  Topology t;
  ASSERT_NO_THROW(t = discoverLocal());
  EXPECT_GE(t.nodesOf(NodeKind::Cpu).size(), 1u);
  void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!nvml) {
    // This build machine: no driver, no GPU.
    EXPECT_EQ(t.nodesOf(NodeKind::Gpu).size(), 0u);
    EXPECT_TRUE(hasNote(t, "NVML not found: NVLink topology unknown"));
  } else {
    dlclose(nvml);
    for (NodeId gpu : t.nodesOf(NodeKind::Gpu)) EXPECT_GT(t.node(gpu).gpuSm, 0) << t.node(gpu).name;
  }
  // Ports come from verbs, or a note says why there are none.
  if (t.nodesOf(NodeKind::NicPort).empty()) {
    EXPECT_TRUE(hasNote(t, "verbs: no RDMA devices") || hasNote(t, "built without libibverbs"));
  }
#ifdef STRATA_HAVE_HWLOC
  EXPECT_EQ(t.source, "hwloc (live)");
  ASSERT_FALSE(t.hwlocXml.empty());
  // Live discovery and the XML it exports give one model (NVML and verbs add facts that hwloc
  // XML lacks, so compare only where they added nothing).
  if (!nvml && t.nodesOf(NodeKind::NicPort).empty()) {
    std::string difference;
    EXPECT_TRUE(readHwlocXml(t.hwlocXml, "<live>").sameAs(t, &difference)) << difference;
  }
#endif
}

TEST(TopologyDiscovery, TopoFileReplacesDiscovery) {
  const std::string path = sharedTopology("aws-p4d-24xl-topo.xml");
  if (path.empty()) GTEST_SKIP() << "shared/topologies/aws-p4d-24xl-topo.xml not found";
  Topology direct;
  try {
    direct = loadTopologyFile(path);
  } catch (const std::exception& e) {
    FAIL() << "the NCCL XML reader (formats_nccl.cc) failed on " << path << ": " << e.what();
  }
  ScopedEnv file("STRATA_TOPO_FILE", path.c_str());
  const Topology t = discoverLocal();
  std::string difference;
  EXPECT_TRUE(t.sameAs(direct, &difference)) << difference;
  EXPECT_EQ(t.nodesOf(NodeKind::Gpu).size(), 8u);  // p4d.24xlarge: 8x A100
  EXPECT_TRUE(hasNote(t, "STRATA_TOPO_FILE=")) << "the override says so";
}

// ---- hwloc XML ----------------------------------------------------------------------------

#ifdef STRATA_HAVE_HWLOC
class Dgx2HwlocXml : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = sharedTopology("hwloc-nvidiaDGX2.v2.xml");
    if (path_.empty()) GTEST_SKIP() << "shared/topologies/hwloc-nvidiaDGX2.v2.xml not found";
    t_ = readHwlocXml(readAll(path_), path_);
  }
  NodeId gpu(int i) const { return t_.nodesOf(NodeKind::Gpu).at(i); }
  std::string path_;
  Topology t_;
};

TEST_F(Dgx2HwlocXml, DevicesAndCpus) {
  const auto cpus = t_.nodesOf(NodeKind::Cpu);
  ASSERT_EQ(cpus.size(), 2u);  // two NUMA nodes, one per Xeon
  for (NodeId cpu : cpus) EXPECT_EQ(t_.node(cpu).model, "Intel(R) Xeon(R) Platinum 8174 CPU @ 3.10GHz");
  ASSERT_EQ(t_.nodesOf(NodeKind::Gpu).size(), 16u);
  EXPECT_EQ(t_.nodesOf(NodeKind::NvSwitch).size(), 12u);
  EXPECT_EQ(t_.nodesOf(NodeKind::Nic).size(), 0u);  // the file lists no NICs
  EXPECT_EQ(t_.node(gpu(0)).busId, "0000:34:00.0");
  EXPECT_EQ(t_.node(gpu(15)).busId, "0000:e7:00.0");
  EXPECT_EQ(t_.node(gpu(0)).model, "Tesla V100-SXM3-32GB-H");
  // 0000:66:00.0 reads as class 0 in the file; hwloc's NVSwitch subtype still names it.
  auto odd = t_.findByBusId("0000:66:00.0");
  ASSERT_TRUE(odd.has_value());
  EXPECT_EQ(t_.node(*odd).kind, NodeKind::NvSwitch);
  // GPUs 0-7 hang under the first socket, 8-15 under the second.
  EXPECT_EQ(t_.cpuOf(gpu(0)), cpus[0]);
  EXPECT_EQ(t_.cpuOf(gpu(8)), cpus[1]);
  EXPECT_EQ(countLinks(t_, LinkKind::CpuInterconnect), 1u);
}

TEST_F(Dgx2HwlocXml, PcieSwitchesCollapseToChips) {
  // GPU0's upstream link: the file says 15.753846 GB/s = PCIe Gen3 x16, through a PLX switch
  // that it shares with GPU1 (bus 32:00.0 above 34:00.0 and 36:00.0).
  for (uint32_t li : t_.linksOf(gpu(0))) {
    const Link& l = t_.links()[li];
    if (l.kind != LinkKind::Pci) continue;
    EXPECT_EQ(l.pciGen, 3);
    EXPECT_EQ(l.pciWidth, 16);
    EXPECT_NEAR(l.bandwidthGBps, 15.753846, 1e-4);
    const Node& sw = t_.node(t_.otherEnd(li, gpu(0)));
    EXPECT_EQ(sw.kind, NodeKind::PciSwitch);
    EXPECT_EQ(sw.busId, "0000:32:00.0");
  }
  // 8 PLX chips carrying two GPUs, 4 chips above them, 2 switches for the NVSwitch management.
  EXPECT_EQ(t_.nodesOf(NodeKind::PciSwitch).size(), 14u);
}

TEST_F(Dgx2HwlocXml, NvlinkMatrix) {
  // NVLinkBandwidth: every V100 has one 25,000 MB/s link to each of the 6 NVSwitches of its
  // baseboard; each switch has 8 GPUs; no switch-to-switch entries.
  EXPECT_EQ(countLinks(t_, LinkKind::NvLink), 96u);
  for (NodeId g : t_.nodesOf(NodeKind::Gpu)) {
    int nvlinks = 0;
    for (uint32_t li : t_.linksOf(g)) {
      const Link& l = t_.links()[li];
      if (l.kind != LinkKind::NvLink) continue;
      ++nvlinks;
      EXPECT_EQ(l.lanes, 1);
      EXPECT_DOUBLE_EQ(l.bandwidthGBps, 25.0);
      EXPECT_EQ(t_.node(t_.otherEnd(li, g)).kind, NodeKind::NvSwitch);
    }
    EXPECT_EQ(nvlinks, 6) << t_.node(g).name;
  }
  for (NodeId sw : t_.nodesOf(NodeKind::NvSwitch)) EXPECT_EQ(t_.linksOf(sw).size(), 8u + 1u);  // + PCIe
  const Path sameBoard = t_.path(gpu(0), gpu(7));
  EXPECT_EQ(sameBoard.type, PathType::NvSwitch);
  EXPECT_EQ(sameBoard.nvLanes, 6);
  EXPECT_DOUBLE_EQ(sameBoard.bandwidthGBps, 150.0);
  EXPECT_EQ(pathCode(sameBoard.type, sameBoard.nvLanes), "NV6");
  const Path otherBoard = t_.path(gpu(0), gpu(8));
  EXPECT_EQ(otherBoard.type, PathType::CrossSocket);
  EXPECT_TRUE(hasNote(t_, "2 separate NVLink domains"));
}

TEST_F(Dgx2HwlocXml, RoundTripAndLoadTopologyFile) {
  const std::string written = writeHwlocXml(t_);
  EXPECT_NE(written.find("NVLinkBandwidth"), std::string::npos);
  const Topology again = readHwlocXml(written, "<written>");
  std::string difference;
  EXPECT_TRUE(again.sameAs(t_, &difference)) << difference;
  // loadTopologyFile tells the formats apart by the root element.
  const Topology loaded = loadTopologyFile(path_);
  EXPECT_TRUE(loaded.sameAs(t_, &difference)) << difference;
}

TEST(TopologyHwlocXml, ErrorsNameTheFile) {
  try {
    readHwlocXml("<topology version=\"2.0\"><object type=", "broken.xml");
    FAIL() << "malformed XML was accepted";
  } catch (const TopologyFileError& e) {
    EXPECT_EQ(e.file(), "broken.xml");
  }
  // Presets carry no hwloc XML to write.
  EXPECT_THROW(writeHwlocXml(machinePreset("dgx-h100")), TopologyFileError);
}
#endif  // STRATA_HAVE_HWLOC

// ---- machine presets ----------------------------------------------------------------------

struct MachineFacts {
  const char* name;
  size_t nics;
  size_t nvswitches;
  int sm;
  int lanes;            // NVLink lanes per GPU, all switches together
  double gpuPairGBps;   // lanes x NCCL's per-lane figure (20.6 GB/s on Hopper, 20.0 on Ampere)
  const char* gpuModel;
};

class MachinePresetTest : public ::testing::TestWithParam<MachineFacts> {};

TEST_P(MachinePresetTest, CountsPathsAndRails) {
  const MachineFacts& f = GetParam();
  const Topology t = machinePreset(f.name);
  EXPECT_EQ(t.source, std::string("preset ") + f.name);
  const auto gpus = t.nodesOf(NodeKind::Gpu);
  const auto nics = t.nodesOf(NodeKind::Nic);
  ASSERT_EQ(gpus.size(), 8u);
  ASSERT_EQ(nics.size(), f.nics);
  EXPECT_EQ(t.nodesOf(NodeKind::NicPort).size(), f.nics);
  EXPECT_EQ(t.nodesOf(NodeKind::NvSwitch).size(), f.nvswitches);
  EXPECT_EQ(t.nodesOf(NodeKind::Cpu).size(), 2u);
  EXPECT_EQ(t.nodesOf(NodeKind::PciSwitch).size(), 12u);  // 4 chips x (1 upstream + 2 downstream)
  for (NodeId g : gpus) {
    EXPECT_EQ(t.node(g).gpuSm, f.sm);
    EXPECT_EQ(t.node(g).model, f.gpuModel);
  }
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 8; ++j) {
      if (i == j) continue;
      const Path p = t.path(gpus[i], gpus[j]);
      EXPECT_EQ(p.type, PathType::NvSwitch) << i << "-" << j;
      EXPECT_EQ(p.nvLanes, f.lanes) << i << "-" << j;
      EXPECT_NEAR(p.bandwidthGBps, f.gpuPairGBps, 1e-6) << i << "-" << j;
    }
    // NIC i is GPU i's own: same PCIe switch, rail i; its neighbour on the chip is PXB; the
    // other socket's NICs are SYS.
    const auto nearest = t.nearestNics(gpus[i]);
    ASSERT_EQ(nearest.size(), 1u) << "GPU" << i;
    EXPECT_EQ(nearest[0], nics[i]) << "GPU" << i;
    EXPECT_EQ(t.path(gpus[i], nics[i]).type, PathType::SamePciSwitch);
    EXPECT_EQ(t.path(gpus[i], nics[i ^ 1]).type, PathType::PciSwitches);
    EXPECT_EQ(t.path(gpus[i], nics[(i + 4) % 8]).type, PathType::CrossSocket);
    EXPECT_EQ(t.node(nics[i]).rail, i);
    EXPECT_TRUE(t.node(nics[i]).gpuDirect);
  }
  EXPECT_EQ(t.cpuOf(gpus[0]), t.nodesOf(NodeKind::Cpu)[0]);
  EXPECT_EQ(t.cpuOf(gpus[7]), t.nodesOf(NodeKind::Cpu)[1]);
}

INSTANTIATE_TEST_SUITE_P(
    Presets, MachinePresetTest,
    ::testing::Values(MachineFacts{"dgx-h100", 8, 4, 90, 18, 18 * 20.6, "H100 SXM5 80GB"},
                      MachineFacts{"hgx-h200", 8, 4, 90, 18, 18 * 20.6, "H200 SXM 141GB"},
                      MachineFacts{"dgx-a100", 8, 6, 80, 12, 12 * 20.0, "A100 SXM4 40GB"},
                      MachineFacts{"hgx-h100-colossus", 9, 4, 90, 18, 18 * 20.6, "H100 SXM5 80GB"}),
    [](const auto& info) {
      std::string name = info.param.name;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

TEST(MachinePresets, FactsAndNames) {
  const Topology h100 = machinePreset("dgx-h100");
  // 5 + 4 + 4 + 5 lanes from every GPU to the 4 NVSwitch chips.
  const NodeId gpu0 = h100.nodesOf(NodeKind::Gpu)[0];
  std::vector<int> lanes;
  for (uint32_t li : h100.linksOf(gpu0))
    if (h100.links()[li].kind == LinkKind::NvLink) lanes.push_back(h100.links()[li].lanes);
  EXPECT_EQ(lanes, (std::vector<int>{5, 4, 4, 5}));
  const Node& nic0 = h100.node(h100.nodesOf(NodeKind::Nic)[0]);
  EXPECT_EQ(nic0.name, "mlx5_0");
  EXPECT_EQ(nic0.speedGbps, 400);
  EXPECT_EQ(nic0.linkLayer, "InfiniBand");
  EXPECT_EQ(h100.node(h100.nodesOf(NodeKind::Cpu)[0]).model, "Intel Xeon Platinum 8480C");
  const Topology a100 = machinePreset("dgx-a100");
  EXPECT_EQ(a100.node(a100.nodesOf(NodeKind::Nic)[0]).speedGbps, 200);
  EXPECT_EQ(a100.node(a100.nodesOf(NodeKind::Cpu)[0]).model, "AMD EPYC 7742");
  // Colossus: the 9th NIC is on no rail, and GPU0's own NIC stays nearest.
  const Topology colossus = machinePreset("hgx-h100-colossus");
  const Node& ninth = colossus.node(colossus.nodesOf(NodeKind::Nic)[8]);
  EXPECT_EQ(ninth.rail, -1);
  EXPECT_EQ(ninth.linkLayer, "Ethernet");

  std::vector<std::string> names;
  for (const PresetInfo& p : machinePresets()) names.push_back(p.name);
  for (const char* want : {"dgx-h100", "hgx-h200", "dgx-a100"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  try {
    machinePreset("dgx-z9000");
    FAIL() << "unknown preset accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("dgx-h100"), std::string::npos) << "lists the known names";
  }
}

// ---- fabric presets -----------------------------------------------------------------------

struct TierCounts {
  uint64_t switches, linksDown, linksUp;
};

void expectTiers(const FabricSummary& s, const std::vector<TierCounts>& want) {
  ASSERT_EQ(s.tiers.size(), want.size());
  for (size_t t = 0; t < want.size(); ++t) {
    EXPECT_EQ(s.tiers[t].switches, want[t].switches) << s.tiers[t].name;
    EXPECT_EQ(s.tiers[t].linksDown, want[t].linksDown) << s.tiers[t].name;
    EXPECT_EQ(s.tiers[t].linksUp, want[t].linksUp) << s.tiers[t].name;
  }
}

bool hasSummaryNote(const FabricSummary& s, const std::string& fragment) {
  return std::any_of(s.notes.begin(), s.notes.end(),
                     [&](const std::string& n) { return n.find(fragment) != std::string::npos; });
}

TEST(FabricPresets, Colossus100k) {
  const FabricSummary s = summarize(fabricPreset("colossus:100k"));
  EXPECT_EQ(s.gpus, 100000u);
  EXPECT_EQ(s.servers, 12500u);
  EXPECT_EQ(s.nics, 100000u);
  // Radix 128, non-blocking: 64 ports down and 64 up below the top, 128 down at the top.
  // leaf: 8 rails x ceil(12,500 servers / 64) = 8 x 196 = 1,568 switches, 100,000 NIC cables
  //       down, 1,568 x 64 = 100,352 up;
  // spine: ceil(100,352 / 64) = 1,568 switches, 1,568 x 64 = 100,352 up;
  // core: ceil(100,352 / 128) = 784 switches.
  expectTiers(s, {{1568, 100000, 100352}, {1568, 100352, 100352}, {784, 100352, 0}});
  EXPECT_DOUBLE_EQ(s.tiers[0].downTbps, 100000 * 0.4);
  // Non-blocking: half the NICs x 400 Gb/s = 50,000 x 0.4 Tb/s.
  EXPECT_DOUBLE_EQ(s.bisectionTbps, 20000.0);
  EXPECT_DOUBLE_EQ(s.bisectionPerGpuGbps, 400.0);
  EXPECT_TRUE(hasSummaryNote(s, "524,288")) << "3 tiers of radix 128: 128^3/4 endpoints";
  EXPECT_TRUE(hasSummaryNote(s, "12,500 NICs outside the compute fabric")) << "the 9th NIC";
}

TEST(FabricPresets, Colossus200kAnd131k) {
  const FabricSummary big = summarize(fabricPreset("colossus:200k"));
  EXPECT_EQ(big.gpus, 200000u);
  EXPECT_EQ(big.servers, 25000u);
  EXPECT_EQ(big.nics, 200000u);
  // leaf: 8 x ceil(25,000 / 64) = 8 x 391 = 3,128; spine: 3,128; core: 3,128 x 64 / 128 = 1,564.
  expectTiers(big, {{3128, 200000, 200192}, {3128, 200192, 200192}, {1564, 200192, 0}});
  EXPECT_DOUBLE_EQ(big.bisectionTbps, 100000 * 0.4);

  const FabricSummary scale = summarize(fabricPreset("colossus:131k"));
  EXPECT_EQ(scale.gpus, 131072u);
  EXPECT_EQ(scale.servers, 16384u);
  // leaf: 8 x 16,384 / 64 = 2,048; spine: 131,072 / 64 = 2,048; core: 131,072 / 128 = 1,024.
  expectTiers(scale, {{2048, 131072, 131072}, {2048, 131072, 131072}, {1024, 131072, 0}});
  EXPECT_DOUBLE_EQ(scale.bisectionTbps, 65536 * 0.4);
}

TEST(FabricPresets, Meta24kIsOversubscribedAbovePods) {
  const Fabric f = fabricPreset("meta-24k");
  EXPECT_FALSE(f.railOptimized);
  const FabricSummary s = summarize(f);
  EXPECT_EQ(s.gpus, 24576u);
  EXPECT_EQ(s.servers, 3072u);
  EXPECT_EQ(s.nics, 24576u);
  // rack: 16 ports down = 2 servers of 8 NICs: 1,536 switches, 16 up each = 24,576;
  // cluster: 192 down, ceil(192 / 7) = 28 up: 24,576 / 192 = 128 switches (16 per pod of 3,072
  //          GPUs), 128 x 28 = 3,584 up;
  // aggregation: ceil(3,584 / 128) = 28 switches.
  expectTiers(s, {{1536, 24576, 24576}, {128, 24576, 3584}, {28, 3584, 0}});
  // Half the GPUs are 4 whole pods: what crosses leaves them through 1:7 uplinks.
  EXPECT_NEAR(s.bisectionTbps, 12288 * 0.4 / 7, 1e-9);
  EXPECT_NEAR(s.bisectionPerGpuGbps, 400.0 / 7, 1e-9);
}

TEST(FabricPresets, SuperPods) {
  const FabricSummary four = summarize(fabricPreset("superpod:4su"));
  EXPECT_EQ(four.servers, 128u);
  EXPECT_EQ(four.gpus, 1024u);
  EXPECT_EQ(four.nics, 1024u);
  // Radix 64: leaf 32 down / 32 up. leaf: 8 rails x 4 units = 32 switches, 32 x 32 = 1,024 up;
  // spine (top): 1,024 / 64 = 16 switches.
  expectTiers(four, {{32, 1024, 1024}, {16, 1024, 0}});
  EXPECT_DOUBLE_EQ(four.bisectionTbps, 512 * 0.4);

  const FabricSummary sixteen = summarize(fabricPreset("superpod:16su"));
  EXPECT_EQ(sixteen.gpus, 4096u);
  // leaf: 8 x 16 = 128, 4,096 up; spine: 4,096 / 32 = 128, 4,096 up; core: 4,096 / 64 = 64.
  expectTiers(sixteen, {{128, 4096, 4096}, {128, 4096, 4096}, {64, 4096, 0}});
  EXPECT_DOUBLE_EQ(sixteen.bisectionTbps, 2048 * 0.4);
  EXPECT_DOUBLE_EQ(sixteen.bisectionPerGpuGbps, 400.0);
  EXPECT_EQ(fabricPreset("superpod:2su").servers, 64u);
}

TEST(FabricPresets, InvalidFabricsThrow) {
  Fabric none = fabricPreset("colossus:100k");
  none.servers = 0;
  EXPECT_THROW(summarize(none), std::invalid_argument);
  Fabric tiny = fabricPreset("superpod:4su");
  tiny.tiers[1].radix = 1;
  EXPECT_THROW(summarize(tiny), std::invalid_argument);
  Fabric tooBig = fabricPreset("colossus:100k");
  tooBig.servers = 70000;  // 560,000 NICs > 128^3/4 = 524,288
  try {
    summarize(tooBig);
    FAIL() << "560,000 NICs on 3 tiers of radix 128 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("524,288"), std::string::npos) << e.what();
  }
  Fabric noTiers = fabricPreset("meta-24k");
  noTiers.tiers.clear();
  EXPECT_THROW(summarize(noTiers), std::invalid_argument);
  EXPECT_THROW(fabricPreset("colossus:1m"), std::invalid_argument);
}

TEST(FabricPresets, ScaleTestSummarizesQuickly) {
  const auto start = std::chrono::steady_clock::now();
  const FabricSummary s = summarize(fabricPreset("colossus:131k"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(s.gpus, 131072u);
  EXPECT_LT(seconds, 1.0);
}

TEST(FabricPresets, ListedPresetsAllSummarize) {
  ASSERT_GE(fabricPresets().size(), 6u);
  for (const PresetInfo& p : fabricPresets()) {
    const Fabric f = fabricPreset(p.name);
    EXPECT_EQ(f.name, p.name);
    EXPECT_NO_THROW(summarize(f)) << p.name;
    EXPECT_NO_THROW(machinePreset(f.serverPreset)) << p.name << " uses " << f.serverPreset;
  }
}

}  // namespace
}  // namespace strata::topo
