// Topology files: the real files in ../shared/topologies (facts stated by the files and their
// SOURCES.md), NCCL XML round trips, writing NCCL XML from topologies of other sources, and
// malformed input, which must be a TopologyFileError naming the file and the line.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "topology/formats.h"

namespace strata::topo {
namespace {

namespace fs = std::filesystem;

fs::path topologiesDir() {
#ifdef STRATA_SHARED_TOPOLOGIES_DIR
  return fs::path(STRATA_SHARED_TOPOLOGIES_DIR);
#else
  // ../shared/topologies relative to the repository root (this file is tests/unit/ in it).
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / ".." / "shared" / "topologies";
#endif
}

#define SKIP_WITHOUT_TOPOLOGIES()                                                                       \
  if (!fs::is_directory(topologiesDir()))                                                               \
  GTEST_SKIP() << "shared topology files not found at " << topologiesDir()                             \
               << " (set STRATA_SHARED_TOPOLOGIES_DIR or check out ../shared next to the repository)"

Topology loadShared(const std::string& file) { return loadTopologyFile((topologiesDir() / file).string()); }

NodeId byBusId(const Topology& t, const std::string& busId) {
  auto id = t.findByBusId(busId);
  EXPECT_TRUE(id.has_value()) << "no node with bus id " << busId;
  return id.value_or(kNoNode);
}

NodeId byName(const Topology& t, const std::string& name) {
  auto id = t.findByName(name);
  EXPECT_TRUE(id.has_value()) << "no node named " << name;
  return id.value_or(kNoNode);
}

int countLinks(const Topology& t, LinkKind kind) {
  return static_cast<int>(std::count_if(t.links().begin(), t.links().end(), [&](const Link& l) { return l.kind == kind; }));
}

bool hasNote(const Topology& t, const std::string& phrase) {
  return std::any_of(t.notes.begin(), t.notes.end(), [&](const std::string& n) { return n.find(phrase) != std::string::npos; });
}

std::string allNotes(const Topology& t) {
  std::string out;
  for (const auto& n : t.notes) out += "\n  " + n;
  return out;
}

// ---- Every shared file, with the counts it states ------------------------------------------

struct FileFacts {
  std::string file;
  FileFormat format;
  size_t cpus, gpus, nics, nicPorts;
  std::optional<size_t> pciSwitches;  // unset where the format's reader decides what counts
  size_t nvSwitches;
};

const std::vector<FileFacts>& sharedFiles() {
  static const std::vector<FileFacts> files = {
      // 4 NUMA nodes, each a synthetic bridge holding 2 GPUs and 2 InfiniBand NICs as bare <pci>.
      {"azure-ndv4-topo.xml", FileFormat::NcclXml, 4, 8, 8, 0, 4, 0},
      // 4 NUMA nodes with one GPU each; one NIC with one <net> (eth0) under the first <cpu>.
      {"azure-ncv4-topo.xml", FileFormat::NcclXml, 4, 4, 1, 1, 0, 0},
      // 2 NUMA nodes, 4 PCIe switches with 2 GPUs + 1 EFA NIC each, all bare <pci>.
      {"aws-p4d-24xl-topo.xml", FileFormat::NcclXml, 2, 8, 4, 0, 4, 0},
      // DGX-2H: 2 packages/NUMA nodes, 16 V100, 12 NVSwitches (the NVLinkBandwidth matrix has 28
      // objects: 16 GPUs + 12 switches), no network OS devices.
      {"hwloc-nvidiaDGX2.v2.xml", FileFormat::HwlocXml, 2, 16, 0, 0, std::nullopt, 12},
  };
  return files;
}

TEST(TopologyFiles, EverySharedFileIsDescribedHere) {
  SKIP_WITHOUT_TOPOLOGIES();
  std::set<std::string> described;
  for (const auto& f : sharedFiles()) described.insert(f.file);
  for (const auto& entry : fs::directory_iterator(topologiesDir())) {
    if (entry.path().extension() != ".xml") continue;
    EXPECT_TRUE(described.count(entry.path().filename().string()))
        << entry.path() << " is new: add its facts to sharedFiles()";
  }
  for (const auto& file : described) EXPECT_TRUE(fs::exists(topologiesDir() / file)) << file;
}

class SharedFile : public testing::TestWithParam<FileFacts> {};

TEST_P(SharedFile, LoadsWithTheCountsItStates) {
  SKIP_WITHOUT_TOPOLOGIES();
  const FileFacts& f = GetParam();
  const Topology t = loadShared(f.file);
  EXPECT_EQ(t.source, "file " + f.file);
  EXPECT_EQ(t.hostCount(), 1u);
  EXPECT_EQ(t.nodesOf(NodeKind::Cpu).size(), f.cpus);
  EXPECT_EQ(t.nodesOf(NodeKind::Gpu).size(), f.gpus);
  EXPECT_EQ(t.nodesOf(NodeKind::Nic).size(), f.nics);
  EXPECT_EQ(t.nodesOf(NodeKind::NicPort).size(), f.nicPorts);
  EXPECT_EQ(t.nodesOf(NodeKind::NvSwitch).size(), f.nvSwitches);
  if (f.pciSwitches) {
    EXPECT_EQ(t.nodesOf(NodeKind::PciSwitch).size(), *f.pciSwitches);
  }
  // GPUs are numbered 0..n-1 without gaps, each hangs under a CPU and has a bus id.
  std::set<int> indices;
  for (NodeId g : t.nodesOf(NodeKind::Gpu)) {
    indices.insert(t.node(g).index);
    EXPECT_NE(t.cpuOf(g), kNoNode) << t.node(g).name;
    EXPECT_FALSE(t.node(g).busId.empty()) << t.node(g).name;
  }
  EXPECT_EQ(indices.size(), f.gpus);
  if (!indices.empty()) {
    EXPECT_EQ(*indices.begin(), 0);
    EXPECT_EQ(*indices.rbegin(), static_cast<int>(f.gpus) - 1);
  }
}

TEST_P(SharedFile, NcclXmlRoundTrip) {
  SKIP_WITHOUT_TOPOLOGIES();
  const FileFacts& f = GetParam();
  if (f.format != FileFormat::NcclXml) GTEST_SKIP() << f.file << " is " << fileFormatName(f.format);
  const Topology original = loadShared(f.file);
  const std::string xml = writeNcclXml(original);
  const Topology back = readNcclXml(xml, f.file + " (rewritten)");
  std::string difference;
  EXPECT_TRUE(back.sameAs(original, &difference)) << difference << "\n" << xml;
  // Writing what was read back gives the same text: the writer is deterministic and complete.
  EXPECT_EQ(writeNcclXml(back), xml);
}

INSTANTIATE_TEST_SUITE_P(Shared, SharedFile, testing::ValuesIn(sharedFiles()), [](const auto& info) {
  std::string name = info.param.file.substr(0, info.param.file.find(".xml"));
  std::replace_if(name.begin(), name.end(), [](char c) { return !isalnum(static_cast<unsigned char>(c)); }, '_');
  return name;
});

// ---- Facts of each file --------------------------------------------------------------------

TEST(TopologyFiles, AzureNdv4) {
  SKIP_WITHOUT_TOPOLOGIES();
  const Topology t = loadShared("azure-ndv4-topo.xml");
  // GPUs are bare <pci> leaves numbered in file order; each shares its NUMA node's synthetic
  // bridge with one other GPU and two NICs, so both NICs are nearest, one PCIe switch away.
  struct Expect {
    int gpu;
    const char* gpuBus;
    const char* numa;
    std::set<std::string> nics;
  };
  const Expect expected[] = {
      {0, "0003:00:00.0", "NUMA0", {"0103:00:00.0", "0104:00:00.0"}},
      {1, "0004:00:00.0", "NUMA0", {"0103:00:00.0", "0104:00:00.0"}},
      {2, "0001:00:00.0", "NUMA1", {"0101:00:00.0", "0102:00:00.0"}},
      {3, "0002:00:00.0", "NUMA1", {"0101:00:00.0", "0102:00:00.0"}},
      {4, "000d:00:00.0", "NUMA2", {"0107:00:00.0", "0108:00:00.0"}},
      {5, "000e:00:00.0", "NUMA2", {"0107:00:00.0", "0108:00:00.0"}},
      {6, "000b:00:00.0", "NUMA3", {"0105:00:00.0", "0106:00:00.0"}},
      {7, "000c:00:00.0", "NUMA3", {"0105:00:00.0", "0106:00:00.0"}},
  };
  for (const Expect& e : expected) {
    SCOPED_TRACE(e.gpuBus);
    const NodeId gpu = byBusId(t, e.gpuBus);
    ASSERT_NE(gpu, kNoNode);
    EXPECT_EQ(t.node(gpu).index, e.gpu);
    EXPECT_EQ(t.node(gpu).name, fmt::format("GPU{}", e.gpu));
    EXPECT_EQ(t.node(gpu).gpuSm, 0);  // not in the file
    EXPECT_EQ(t.node(t.cpuOf(gpu)).name, e.numa);
    std::set<std::string> nearest;
    for (NodeId nic : t.nearestNics(gpu)) {
      nearest.insert(t.node(nic).busId);
      const Path p = t.path(gpu, nic);
      EXPECT_EQ(p.type, PathType::SamePciSwitch) << pathTypeName(p.type);
      EXPECT_EQ(pathCode(p.type, p.nvLanes), "PIX");
      EXPECT_NEAR(p.bandwidthGBps, pciBandwidthGBps(4, 16), 1e-9);  // "16 GT/s" x16
    }
    EXPECT_EQ(nearest, e.nics);
  }
  for (NodeId nic : t.nodesOf(NodeKind::Nic)) EXPECT_EQ(t.node(nic).linkLayer, "InfiniBand");  // class 0x020700
  // The 4 NUMA domains of the AMD EPYC are fully connected at NCCL's AMD figure.
  EXPECT_EQ(countLinks(t, LinkKind::CpuInterconnect), 6);
  for (const Link& l : t.links()) {
    if (l.kind == LinkKind::CpuInterconnect) {
      EXPECT_DOUBLE_EQ(l.bandwidthGBps, 16.0);
    }
  }
  EXPECT_EQ(countLinks(t, LinkKind::NvLink), 0);  // the file has no <gpu>, so no <nvlink>
  EXPECT_EQ(t.path(byBusId(t, "0003:00:00.0"), byBusId(t, "0004:00:00.0")).type, PathType::SamePciSwitch);
  EXPECT_EQ(t.path(byBusId(t, "0003:00:00.0"), byBusId(t, "0001:00:00.0")).type, PathType::CrossSocket);
  EXPECT_TRUE(hasNote(t, "8 GPU(s) known only by PCI class")) << allNotes(t);
  EXPECT_TRUE(hasNote(t, "8 NIC(s) known only by PCI class")) << allNotes(t);
}

TEST(TopologyFiles, AzureNcv4) {
  SKIP_WITHOUT_TOPOLOGIES();
  const Topology t = loadShared("azure-ncv4-topo.xml");
  const char* gpuBus[] = {"0001:00:00.0", "0002:00:00.0", "0003:00:00.0", "0004:00:00.0"};
  const NodeId nic = byName(t, "eth0");
  ASSERT_NE(nic, kNoNode);
  EXPECT_EQ(t.node(nic).kind, NodeKind::Nic);
  EXPECT_EQ(t.node(nic).index, 0);
  EXPECT_TRUE(t.node(nic).busId.empty());  // a <nic> straight under <cpu>: no PCI element
  EXPECT_FALSE(t.node(nic).gpuDirect);     // gdr="0"
  EXPECT_EQ(t.node(t.cpuOf(nic)).name, "NUMA0");
  const NodeId port = byName(t, "eth0:0");
  ASSERT_NE(port, kNoNode);
  EXPECT_EQ(t.node(port).kind, NodeKind::NicPort);
  EXPECT_EQ(t.node(port).index, 0);
  EXPECT_DOUBLE_EQ(t.node(port).speedGbps, 100.0);  // speed="100000" Mb/s
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(gpuBus[i]);
    const NodeId gpu = byBusId(t, gpuBus[i]);
    ASSERT_NE(gpu, kNoNode);
    EXPECT_EQ(t.node(gpu).index, i);
    EXPECT_EQ(t.node(gpu).gpuSm, 80);
    EXPECT_TRUE(t.node(gpu).gpuDirect);
    EXPECT_EQ(t.node(t.cpuOf(gpu)).name, fmt::format("NUMA{}", i));  // one GPU per NUMA node
    EXPECT_EQ(t.nearestNics(gpu), std::vector<NodeId>{nic});
    // GPU0 shares NUMA0's host bridge with the NIC; the others cross the socket interconnect.
    EXPECT_EQ(t.path(gpu, nic).type, i == 0 ? PathType::HostBridge : PathType::CrossSocket);
  }
  // Each GPU's only <nvlink> targets its own bus id: ignored with a note naming the line.
  EXPECT_EQ(countLinks(t, LinkKind::NvLink), 0);
  for (int line : {5, 15, 22, 29})
    EXPECT_TRUE(hasNote(t, fmt::format("line {}: <nvlink> of GPU", line)) && hasNote(t, "own bus id")) << allNotes(t);
  EXPECT_TRUE(hasNote(t, "NIC eth0 hangs directly from NUMA0")) << allNotes(t);
  // link_speed="" and link_width="0": Gen3 x16 assumed, as NCCL does; gen/width stay unknown.
  EXPECT_TRUE(hasNote(t, "4 PCIe link(s) without a known link_speed")) << allNotes(t);
  const NodeId gpu0 = byBusId(t, "0001:00:00.0");
  for (uint32_t li : t.linksOf(gpu0)) {
    const Link& l = t.links()[li];
    EXPECT_EQ(l.kind, LinkKind::Pci);
    EXPECT_EQ(l.pciGen, 0);
    EXPECT_EQ(l.pciWidth, 0);
    EXPECT_DOUBLE_EQ(l.bandwidthGBps, pciBandwidthGBps(3, 16));
  }
}

TEST(TopologyFiles, AwsP4d) {
  SKIP_WITHOUT_TOPOLOGIES();
  const Topology t = loadShared("aws-p4d-24xl-topo.xml");  // comments before and after tags
  // Switch k holds GPUs 2k and 2k+1 (bus 0000:X0:1c.0 and :1d.0) and NIC k (0000:X0:1b.0).
  const char* bus[] = {"10", "20", "90", "a0"};
  for (int sw = 0; sw < 4; ++sw) {
    const NodeId nic = byBusId(t, fmt::format("0000:{}:1b.0", bus[sw]));
    ASSERT_NE(nic, kNoNode);
    EXPECT_EQ(t.node(nic).index, sw);
    EXPECT_EQ(t.node(nic).linkLayer, "Ethernet");  // class 0x020000, as EFA reports itself
    for (const char* fn : {"1c.0", "1d.0"}) {
      const NodeId gpu = byBusId(t, fmt::format("0000:{}:{}", bus[sw], fn));
      ASSERT_NE(gpu, kNoNode);
      SCOPED_TRACE(t.node(gpu).busId);
      EXPECT_EQ(t.node(gpu).index, 2 * sw + (fn[1] == 'd' ? 1 : 0));
      EXPECT_EQ(t.node(t.cpuOf(gpu)).name, sw < 2 ? "NUMA0" : "NUMA1");
      EXPECT_EQ(t.nearestNics(gpu), std::vector<NodeId>{nic});
      const Path p = t.path(gpu, nic);
      EXPECT_EQ(p.type, PathType::SamePciSwitch);
      EXPECT_EQ(pathCode(p.type, p.nvLanes), "PIX");
      EXPECT_EQ(p.hops, 2);
      EXPECT_NEAR(p.bandwidthGBps, pciBandwidthGBps(3, 16), 1e-9);  // "8 GT/s" x16
    }
  }
  // The file has no <gpu> elements, so no NVLink: GPU pairs are PCIe paths.
  EXPECT_EQ(countLinks(t, LinkKind::NvLink), 0);
  const NodeId gpu0 = byBusId(t, "0000:10:1c.0");
  EXPECT_EQ(t.path(gpu0, byBusId(t, "0000:10:1d.0")).type, PathType::SamePciSwitch);  // PIX
  EXPECT_EQ(t.path(gpu0, byBusId(t, "0000:20:1c.0")).type, PathType::SameNuma);       // NODE
  EXPECT_EQ(t.path(gpu0, byBusId(t, "0000:90:1c.0")).type, PathType::CrossSocket);    // SYS
  // Intel family 6 model 85 (Skylake-SP): NCCL's SKL_QPI_BW.
  ASSERT_EQ(countLinks(t, LinkKind::CpuInterconnect), 1);
  for (const Link& l : t.links()) {
    if (l.kind == LinkKind::CpuInterconnect) {
      EXPECT_DOUBLE_EQ(l.bandwidthGBps, 10.0);
    }
  }
  EXPECT_EQ(t.node(byName(t, "NUMA0")).model, "x86_64 GenuineIntel family 6 model 85");
}

TEST(TopologyFiles, HwlocDgx2) {
  SKIP_WITHOUT_TOPOLOGIES();
  const Topology t = loadShared("hwloc-nvidiaDGX2.v2.xml");
  EXPECT_EQ(t.source, "file hwloc-nvidiaDGX2.v2.xml");
  EXPECT_EQ(t.nodesOf(NodeKind::Gpu).size(), 16u);
  EXPECT_EQ(t.nodesOf(NodeKind::NvSwitch).size(), 12u);
  EXPECT_EQ(t.nodesOf(NodeKind::Cpu).size(), 2u);

  // Written as NCCL XML, the picture keeps every GPU (by bus id), NUMA node and NVLink bundle
  // between GPUs and NVSwitches that NCCL XML can express.
  const std::string xml = writeNcclXml(t);
  const Topology nccl = readNcclXml(xml, "dgx2 as NCCL XML");
  EXPECT_EQ(nccl.nodesOf(NodeKind::Gpu).size(), 16u);
  EXPECT_EQ(nccl.nodesOf(NodeKind::Cpu).size(), 2u);
  for (NodeId g : t.nodesOf(NodeKind::Gpu)) {
    const Node& gpu = t.node(g);
    SCOPED_TRACE(gpu.busId);
    const NodeId same = byBusId(nccl, gpu.busId);
    ASSERT_NE(same, kNoNode);
    EXPECT_EQ(nccl.node(same).index, gpu.index);
    EXPECT_EQ(nccl.node(same).gpuSm, gpu.gpuSm);
    auto lanesToSwitches = [](const Topology& topo, NodeId id) {
      int lanes = 0;
      for (uint32_t li : topo.linksOf(id))
        if (topo.links()[li].kind == LinkKind::NvLink && topo.node(topo.otherEnd(li, id)).kind == NodeKind::NvSwitch)
          lanes += topo.links()[li].lanes;
      return lanes;
    };
    EXPECT_EQ(lanesToSwitches(nccl, same), lanesToSwitches(t, g));
  }
  // What NCCL XML cannot hold (NVSwitch-to-NVSwitch trunks) is counted in a comment.
  if (countLinks(t, LinkKind::NvLink) > countLinks(nccl, LinkKind::NvLink)) {
    EXPECT_NE(xml.find("have no NCCL XML form"), std::string::npos);
  }
}

// ---- NCCL XML features the shared files do not use -----------------------------------------

// The shape NCCL's own dumps have on an NVSwitch machine (DGX A100 style), a dual-port NIC, and
// a second socket with two older GPUs NVLinked directly, each bundle listed from both ends.
constexpr const char* kNvSwitchMachine = R"(<?xml version="1.0"?>
<system version="1">
  <cpu numaid="0" affinity="0000ffff" arch="x86_64" vendor="AuthenticAMD" familyid="23" modelid="49">
    <pci busid="0000:01:00.0" class="0x060400" vendor="0x1000" device="0xc010" link_speed="16.0 GT/s PCIe" link_width="16">
      <pcilink target="0000:02:00.0"/>
      <pci busid="0000:07:00.0" class="0x030200" vendor="0x10de" device="0x20b0" link_speed="16.0 GT/s PCIe" link_width="16">
        <gpu dev="0" sm="80" rank="0" gdr="1">
          <nvlink target="0000:c1:00.0" count="2" tclass="0x068000"/>
          <nvlink target="0000:c2:00.0" count="2" tclass="0x068000"/>
          <nvlink target="0000:c3:00.0" count="2" tclass="0x068000"/>
          <nvlink target="0000:c4:00.0" count="2" tclass="0x068000"/>
          <nvlink target="0000:c5:00.0" count="2" tclass="0x068000"/>
          <nvlink target="0000:c6:00.0" count="2" tclass="0x068000"/>
        </gpu>
      </pci>
      <pci busid="0000:0F:00.0" class="0x030200" vendor="0x10de" device="0x20b0" link_speed="16.0 GT/s PCIe" link_width="16">
        <gpu dev="1" sm="80" rank="1" gdr="1">
          <nvlink target="0000:c1:00.0" count="2" tclass="0x068000"/>
          <nvlink target="0000:c2:00.0" count="2" tclass="0x068000"/>
          <nvlink target="0000:c3:00.0" count="2" tclass="0x068000"/>
          <nvlink target="0000:c4:00.0" count="2" tclass="0x068000"/>
          <nvlink target="0000:c5:00.0" count="2" tclass="0x068000"/>
          <nvlink target="0000:c6:00.0" count="2" tclass="0x068000"/>
        </gpu>
      </pci>
      <pci busid="0000:0c:00.0" class="0x020700" vendor="0x15b3" device="0x101b" link_speed="16.0 GT/s PCIe" link_width="16">
        <nic>
          <net name="mlx5_0" dev="0" speed="200000" port="1" latency="0.000000" guid="0x1c34da0300a1b2c3" maxconn="131072" gdr="1" coll="0"/>
          <net name="mlx5_0" dev="1" speed="200000" port="2" latency="0.500000" guid="0x1c34da0300a1b2c4" maxconn="131072" gdr="1" coll="0"/>
        </nic>
      </pci>
    </pci>
  </cpu>
  <cpu numaid="1" affinity="ffff0000" arch="x86_64" vendor="GenuineIntel" familyid="6" modelid="143">
    <pci busid="0000:81:00.0" class="0x030200" link_speed="8.0 GT/s PCIe" link_width="16">
      <gpu dev="2" sm="70" rank="2" gdr="0">
        <nvlink target="0000:82:00.0" count="4" tclass="0x030200"/>
      </gpu>
    </pci>
    <pci busid="0000:82:00.0" class="0x030200" link_speed="8.0 GT/s PCIe" link_width="16">
      <gpu dev="3" sm="70" rank="3" gdr="0">
        <nvlink target="0000:81:00.0" count="4" tclass="0x030200"/>
      </gpu>
    </pci>
  </cpu>
</system>
)";

TEST(NcclXml, NvSwitchesNicPortsAndDirectNvLinks) {
  const Topology t = readNcclXml(kNvSwitchMachine, "nvswitch.xml");
  EXPECT_EQ(t.nodesOf(NodeKind::Gpu).size(), 4u);
  EXPECT_EQ(t.nodesOf(NodeKind::NvSwitch).size(), 6u);  // one per distinct target bus id
  EXPECT_EQ(t.nodesOf(NodeKind::PciSwitch).size(), 1u);
  const NodeId gpu0 = byName(t, "GPU0"), gpu1 = byName(t, "GPU1"), gpu2 = byName(t, "GPU2"), gpu3 = byName(t, "GPU3");
  EXPECT_EQ(t.node(gpu1).busId, "0000:0f:00.0");  // bus ids are lowercased
  EXPECT_EQ(t.node(gpu2).gpuSm, 70);

  // GPU0 <-> GPU1 over 6 NVSwitches x 2 links: NV12 at 6 x NCCL's 2-link A100 bandwidth.
  const Path nvs = t.path(gpu0, gpu1);
  EXPECT_EQ(nvs.type, PathType::NvSwitch);
  EXPECT_EQ(nvs.nvLanes, 12);
  EXPECT_EQ(pathCode(nvs.type, nvs.nvLanes), "NV12");
  EXPECT_NEAR(nvs.bandwidthGBps, 6 * nvlinkBandwidthGBps(80, 2), 1e-9);
  for (NodeId sw : t.nodesOf(NodeKind::NvSwitch)) EXPECT_EQ(t.linksOf(sw).size(), 2u);

  // GPU2 <-> GPU3: listed from both ends, one bundle of 4.
  const Path nv4 = t.path(gpu2, gpu3);
  EXPECT_EQ(nv4.type, PathType::NvLink);
  EXPECT_EQ(pathCode(nv4.type, nv4.nvLanes), "NV4");
  EXPECT_NEAR(nv4.bandwidthGBps, nvlinkBandwidthGBps(70, 4), 1e-9);
  EXPECT_EQ(countLinks(t, LinkKind::NvLink), 6 * 2 + 1);
  EXPECT_EQ(t.path(gpu0, gpu2).type, PathType::CrossSocket);

  // One NIC with two ports; the NIC takes its first net's name and dev.
  ASSERT_EQ(t.nodesOf(NodeKind::Nic).size(), 1u);
  const NodeId nic = t.nodesOf(NodeKind::Nic)[0];
  EXPECT_EQ(t.node(nic).name, "mlx5_0");
  EXPECT_EQ(t.node(nic).index, 0);
  EXPECT_EQ(t.node(nic).linkLayer, "InfiniBand");
  EXPECT_TRUE(t.node(nic).gpuDirect);
  const NodeId port2 = byName(t, "mlx5_0:2");
  ASSERT_NE(port2, kNoNode);
  EXPECT_EQ(t.node(port2).index, 2);
  EXPECT_DOUBLE_EQ(t.node(port2).speedGbps, 200.0);
  EXPECT_EQ(t.node(port2).guid, 0x1c34da0300a1b2c4u);
  EXPECT_EQ(t.path(gpu0, nic).type, PathType::SamePciSwitch);
  EXPECT_EQ(t.nearestNics(gpu0), std::vector<NodeId>{nic});

  // Sapphire Rapids (model 143) meets AMD: the slower of NCCL's two figures.
  for (const Link& l : t.links()) {
    if (l.kind == LinkKind::CpuInterconnect) {
      EXPECT_DOUBLE_EQ(l.bandwidthGBps, 16.0);
    }
  }
  EXPECT_TRUE(hasNote(t, "1 <pcilink> element(s) not understood")) << allNotes(t);

  const std::string xml = writeNcclXml(t);
  const Topology back = readNcclXml(xml, "nvswitch.xml (rewritten)");
  std::string difference;
  EXPECT_TRUE(back.sameAs(t, &difference)) << difference << "\n" << xml;
}

TEST(NcclXml, WritesTopologiesOfOtherSources) {
  // A preset-like picture: no bus ids, a CPU known by its marketing name, H100-like NVLink
  // lanes spread over 4 NVSwitches, a NIC port, and a second host NCCL XML cannot describe.
  Topology t;
  auto node = [](NodeKind kind, int index, const std::string& name) {
    Node n;
    n.kind = kind;
    n.index = index;
    n.name = name;
    return n;
  };
  auto link = [&t](NodeId a, NodeId b, LinkKind kind, double bandwidth, int lanes = 1) {
    Link l;
    l.a = a;
    l.b = b;
    l.kind = kind;
    l.bandwidthGBps = bandwidth;
    l.lanes = lanes;
    if (kind == LinkKind::Pci) {
      l.pciGen = 5;
      l.pciWidth = 16;
    }
    t.addLink(l);
  };
  Node cpu = node(NodeKind::Cpu, 0, "NUMA0");
  cpu.model = "AMD EPYC 9654";
  const NodeId c = t.addNode(cpu);
  const NodeId sw = t.addNode(node(NodeKind::PciSwitch, 0, "PCISW0"));
  link(c, sw, LinkKind::Pci, pciBandwidthGBps(5, 16));
  std::vector<NodeId> switches;
  for (int i = 0; i < 4; ++i) switches.push_back(t.addNode(node(NodeKind::NvSwitch, i, fmt::format("NVSwitch{}", i))));
  const int lanes[] = {5, 4, 4, 5};
  std::vector<NodeId> gpus;
  for (int g = 0; g < 2; ++g) {
    Node gpu = node(NodeKind::Gpu, g, fmt::format("GPU{}", g));
    gpu.gpuSm = 90;
    gpus.push_back(t.addNode(gpu));
    link(sw, gpus.back(), LinkKind::Pci, pciBandwidthGBps(5, 16));
    for (int i = 0; i < 4; ++i) link(gpus.back(), switches[i], LinkKind::NvLink, nvlinkBandwidthGBps(90, lanes[i]), lanes[i]);
  }
  Node nicNode = node(NodeKind::Nic, 0, "mlx5_0");
  nicNode.linkLayer = "InfiniBand";
  nicNode.gpuDirect = true;
  const NodeId nic = t.addNode(nicNode);
  link(sw, nic, LinkKind::Pci, pciBandwidthGBps(5, 16));
  Node port = node(NodeKind::NicPort, 1, "mlx5_0:1");
  port.speedGbps = 400;
  link(nic, t.addNode(port), LinkKind::Net, 50);
  Node otherHost = node(NodeKind::Gpu, 0, "GPU0@1");
  otherHost.host = 1;
  t.addNode(otherHost);

  const std::string xml = writeNcclXml(t);
  const Topology back = readNcclXml(xml, "preset.xml");
  EXPECT_NE(xml.find("host 0 of 2"), std::string::npos) << xml;
  EXPECT_EQ(back.nodesOf(NodeKind::Gpu).size(), 2u);
  EXPECT_EQ(back.nodesOf(NodeKind::NvSwitch).size(), 4u);
  EXPECT_EQ(back.nodesOf(NodeKind::NicPort).size(), 1u);
  const NodeId g0 = byName(back, "GPU0"), g1 = byName(back, "GPU1");
  EXPECT_EQ(back.node(g0).busId.substr(0, 5), "fffe:");  // synthetic bus ids for devices without one
  EXPECT_NE(back.node(g0).busId, back.node(g1).busId);
  const Path p = back.path(g0, g1);
  EXPECT_EQ(pathCode(p.type, p.nvLanes), "NV18");
  EXPECT_NEAR(p.bandwidthGBps, t.path(gpus[0], gpus[1]).bandwidthGBps, 1e-9);
  EXPECT_EQ(back.node(byName(back, "NUMA0")).model, "x86_64 AuthenticAMD");  // vendor from "AMD EPYC"
  const NodeId backNic = byName(back, "mlx5_0");
  ASSERT_NE(backNic, kNoNode);
  EXPECT_TRUE(back.node(backNic).gpuDirect);
  EXPECT_EQ(back.path(g0, backNic).type, PathType::SamePciSwitch);
  EXPECT_DOUBLE_EQ(back.node(byName(back, "mlx5_0:1")).speedGbps, 400.0);
}

TEST(NcclXml, NetNamesKeepTheirOwnTextAndUnnamedNetsTakeTheNics) {
  // Found by fuzzing: a name of its own that begins with ':' was taken for an unnamed port and
  // got the NIC's name put in front, so the rewritten file read back differently.
  const std::string xml = R"(<system version="1">
  <cpu numaid="0" arch="x86_64" vendor="AuthenticAMD">
    <pci busid="0000:01:00.0" class="0x020700" link_speed="" link_width="0">
      <nic>
        <net name="::eth0" dev="0" speed="100000" port="1"/>
        <net dev="1" speed="100000" port="2"/>
      </nic>
    </pci>
  </cpu>
</system>
)";
  const Topology t = readNcclXml(xml, "colon-names.xml");
  EXPECT_NE(byName(t, "::eth0:1"), kNoNode);
  EXPECT_NE(byName(t, "::eth0:2"), kNoNode);  // the unnamed one takes the NIC's (first net's) name
  const std::string written = writeNcclXml(t);
  const Topology back = readNcclXml(written, "colon-names.xml (rewritten)");
  std::string difference;
  EXPECT_TRUE(back.sameAs(t, &difference)) << difference << "\n" << written;
}

// ---- Malformed input -----------------------------------------------------------------------

struct BadInput {
  const char* name;
  std::string text;
  int line;            // 0: the error is about the whole file
  std::string phrase;  // what the message must say
};

std::string nestedPci(int levels) {
  std::string text = "<system version=\"1\">\n<cpu numaid=\"0\">\n";
  for (int i = 0; i < levels; ++i) text += fmt::format("<pci busid=\"{:04x}:{:02x}:00.0\">\n", i >> 8, i & 0xff);
  for (int i = 0; i < levels; ++i) text += "</pci>";
  return text + "\n</cpu>\n</system>\n";
}

std::string nestedUnknown(int levels) {
  std::string text = "<system version=\"1\">\n<cpu numaid=\"0\">\n";
  for (int i = 0; i < levels; ++i) text += "<x>";
  for (int i = 0; i < levels; ++i) text += "</x>";
  return text + "\n</cpu>\n<cpu numaid=\"0\"/>\n</system>\n";
}

std::string binaryGarbage() {
  std::string text;
  uint32_t x = 12345;
  for (int i = 0; i < 4096; ++i) {
    x = x * 1103515245 + 12345;
    const char byte = static_cast<char>((x >> 16) & 0xff);
    text += byte == '\n' ? 'n' : byte;
  }
  text[0] = '\x01';  // not '<' or whitespace, so nothing looks like a root element
  return text;
}

const std::string kCpu = "<cpu numaid=\"0\" arch=\"x86_64\" vendor=\"AuthenticAMD\">\n";

const std::vector<BadInput>& badInputs() {
  static const std::vector<BadInput> cases = {
      {"unclosed_tag", "<system version=\"1\">\n" + kCpu + "  <pci busid=\"0000:01:00.0\" class=\"0x030200\">\n</system>\n",
       4, "XML parse error"},
      {"wrong_root", "<?xml version=\"1.0\"?>\n\n<machine version=\"1\"/>\n", 3,
       "root element <machine> is neither <system> (NCCL topology XML) nor <topology>"},
      {"missing_busid", "<system version=\"1\">\n" + kCpu + "  <pci class=\"0x030200\"/>\n</cpu>\n</system>\n", 3,
       "<pci> is missing required attribute 'busid'"},
      {"bad_busid", "<system version=\"1\">\n" + kCpu + "  <pci busid=\"0000:01:00\" class=\"0x030200\"/>\n</cpu>\n</system>\n",
       3, "busid='0000:01:00' is not a PCI bus id"},
      {"duplicate_busid",
       "<system version=\"1\">\n" + kCpu +
           "  <pci busid=\"0000:01:00.0\" class=\"0x030200\"/>\n  <pci busid=\"0000:01:00.0\" class=\"0x020000\"/>\n</cpu>\n</system>\n",
       4, "duplicate PCI bus id 0000:01:00.0 (first at line 3)"},
      {"bad_number",
       "<system version=\"1\">\n" + kCpu +
           "  <pci busid=\"0000:01:00.0\">\n    <gpu dev=\"zero\" sm=\"80\"/>\n  </pci>\n</cpu>\n</system>\n",
       4, "<gpu> attribute dev='zero' is not a number"},
      {"missing_gpu_dev",
       "<system version=\"1\">\n" + kCpu + "  <pci busid=\"0000:01:00.0\">\n    <gpu sm=\"80\"/>\n  </pci>\n</cpu>\n</system>\n",
       4, "<gpu> is missing required attribute 'dev'"},
      {"nvlink_to_nowhere",
       "<system version=\"1\">\n" + kCpu +
           "  <pci busid=\"0000:01:00.0\">\n    <gpu dev=\"0\" sm=\"80\">\n"
           "      <nvlink target=\"0000:99:00.0\" count=\"4\" tclass=\"0x030200\"/>\n    </gpu>\n  </pci>\n</cpu>\n</system>\n",
       5, "target 0000:99:00.0 matches no GPU in the file and tclass 0x030200 is not an NVSwitch"},
      {"nvswitch_class_on_gpu",
       "<system version=\"1\">\n" + kCpu +
           "  <pci busid=\"0000:01:00.0\">\n    <gpu dev=\"0\" sm=\"80\">\n"
           "      <nvlink target=\"0000:02:00.0\" count=\"4\" tclass=\"0x068000\"/>\n    </gpu>\n  </pci>\n"
           "  <pci busid=\"0000:02:00.0\">\n    <gpu dev=\"1\" sm=\"80\"/>\n  </pci>\n</cpu>\n</system>\n",
       5, "tclass 0x068000 says NVSwitch but target 0000:02:00.0 is a GPU"},
      {"gpu_outside_cpu",
       "<system version=\"1\">\n  <pci busid=\"0000:01:00.0\">\n    <gpu dev=\"0\" sm=\"80\"/>\n  </pci>\n</system>\n", 2,
       "<pci> outside any <cpu>"},
      {"gpu_without_pci", "<system version=\"1\">\n" + kCpu + "  <gpu dev=\"0\" sm=\"80\"/>\n</cpu>\n</system>\n", 3,
       "<gpu> directly under <cpu>"},
      {"duplicate_numaid", "<system version=\"1\">\n<cpu numaid=\"1\"/>\n\n<cpu numaid=\"1\"/>\n</system>\n", 4,
       "duplicate <cpu numaid=\"1\"> (first at line 2)"},
      {"duplicate_gpu_dev",
       "<system version=\"1\">\n" + kCpu +
           "  <pci busid=\"0000:01:00.0\"><gpu dev=\"0\" sm=\"80\"/></pci>\n  <pci busid=\"0000:02:00.0\"><gpu dev=\"0\" sm=\"80\"/></pci>\n"
           "</cpu>\n</system>\n",
       4, "duplicate <gpu dev=\"0\"> (first at line 3)"},
      {"duplicate_net_dev",
       "<system version=\"1\">\n" + kCpu + "  <nic>\n    <net name=\"a\" dev=\"0\"/>\n    <net name=\"b\" dev=\"0\"/>\n  </nic>\n"
           "</cpu>\n</system>\n",
       5, "duplicate <net dev=\"0\"> (first at line 4)"},
      {"gpu_and_nic_in_one_pci",
       "<system version=\"1\">\n" + kCpu + "  <pci busid=\"0000:01:00.0\">\n    <gpu dev=\"0\" sm=\"80\"/>\n    <nic/>\n  </pci>\n"
           "</cpu>\n</system>\n",
       3, "mixes a <gpu> with other devices"},
      {"wrong_version", "<system version=\"2\">\n</system>\n", 1, "unsupported <system> version 2"},
      {"missing_version", "\n<system>\n</system>\n", 2, "<system> is missing required attribute 'version'"},
      {"second_root", "<system version=\"1\"/>\n<system version=\"1\"/>\n", 2, "second root element <system>"},
      {"empty_file", "", 0, "empty file"},
      {"whitespace_only", "  \n\t\n", 0, "no XML root element found"},
      {"binary_garbage", binaryGarbage(), 1, "no XML root element found"},
      // Garbage after a good root: pugixml's error, on the line it stopped (the garbage has no '\n').
      {"binary_after_root", "<system version=\"1\">\n" + binaryGarbage(), 2, "XML parse error"},
      {"json", "\n{\"nodes\": []}\n", 2, "JSON is not a loadable topology format"},
      // 10,000 levels: refused at the bound, with the line of the first <pci> too deep.
      {"deeply_nested_pci", nestedPci(10000), 2 + 65, "<pci> nested deeper than 64 levels"},
      // 10,000 levels of an element the reader skips, then an error after it: no recursion.
      {"deeply_nested_unknown", nestedUnknown(10000), 5, "duplicate <cpu numaid=\"0\">"},
      {"huge_number",
       "<system version=\"1\">\n" + kCpu + "  <pci busid=\"0000:01:00.0\">\n    <gpu dev=\"" + std::string(1 << 20, '7') +
           "\" sm=\"80\"/>\n  </pci>\n</cpu>\n</system>\n",
       4, "is out of range [0, 2147483647]"},
      {"huge_busid",
       "<system version=\"1\">\n" + kCpu + "  <pci busid=\"" + std::string(1 << 20, 'f') + "\"/>\n</cpu>\n</system>\n", 3,
       "is not a PCI bus id"},
      {"bad_hex_class",
       "<system version=\"1\">\n" + kCpu + "  <pci busid=\"0000:01:00.0\" class=\"0xZZ\"/>\n</cpu>\n</system>\n", 3,
       "class='0xZZ' is not a hexadecimal number"},
  };
  return cases;
}

class BadTopologyFile : public testing::TestWithParam<BadInput> {};

TEST_P(BadTopologyFile, IsATopologyFileErrorWithFileLineAndReason) {
  const BadInput& c = GetParam();
  const fs::path path = fs::path(testing::TempDir()) / fmt::format("strata-bad-{}.xml", c.name);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(c.text.data(), static_cast<std::streamsize>(c.text.size()));
  }
  const std::string where = c.line > 0 ? fmt::format("{}:{}: ", path.string(), c.line) : path.string() + ": ";
  try {
    loadTopologyFile(path.string());
    ADD_FAILURE() << "no error for " << c.name;
  } catch (const TopologyFileError& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.file(), path.string());
    EXPECT_EQ(e.line(), c.line) << message;
    EXPECT_EQ(message.rfind(where, 0), 0u) << message;
    EXPECT_NE(message.find(c.phrase), std::string::npos) << message;
    EXPECT_LT(message.size(), where.size() + 300) << "messages quote input only briefly";
  }
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Cases, BadTopologyFile, testing::ValuesIn(badInputs()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(TopologyFiles, UnreadableFile) {
  const std::string path = (fs::path(testing::TempDir()) / "strata-no-such-topology.xml").string();
  try {
    loadTopologyFile(path);
    ADD_FAILURE() << "no error";
  } catch (const TopologyFileError& e) {
    EXPECT_EQ(e.line(), 0);
    EXPECT_EQ(std::string(e.what()), path + ": cannot open: No such file or directory");
  }
}

TEST(TopologyFiles, ReaderAppliedToTheOtherFormatNamesWhatItFound) {
  try {
    readNcclXml("<?xml version=\"1.0\"?>\n<topology version=\"2.0\"/>\n", "<string>");
    ADD_FAILURE() << "no error";
  } catch (const TopologyFileError& e) {
    EXPECT_EQ(std::string(e.what()), "<string>:2: root element is <topology>, expected <system> (NCCL topology XML)");
  }
}

TEST(TopologyFiles, FormatNames) {
  EXPECT_STREQ(fileFormatName(FileFormat::NcclXml), "nccl-xml");
  EXPECT_STREQ(fileFormatName(FileFormat::HwlocXml), "hwloc-xml");
  EXPECT_STREQ(fileFormatName(FileFormat::Json), "json");
}

}  // namespace
}  // namespace strata::topo
