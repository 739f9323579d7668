// Paths through the topology model: the widest route, its classification in nvidia-smi's
// vocabulary, nearest NICs and CPU affinity, on small hand-built machines whose answers are
// known.
#include <gtest/gtest.h>

#include "topology/model.h"

namespace strata::topo {
namespace {

// Two sockets; socket s has PCIe switches 2s and 2s+1; switch k holds GPU k and NIC k. GPUs
// 0-3 reach each other through two NVSwitches with 9 lanes each (18 in all).
struct Machine {
  Topology t;
  std::vector<NodeId> cpu, sw, gpu, nic, nvs;
  explicit Machine(bool withNvSwitch = true) {
    for (int s = 0; s < 2; ++s) cpu.push_back(t.addNode({.kind = NodeKind::Cpu, .index = s, .name = "CPU" + std::to_string(s)}));
    t.addLink({cpu[0], cpu[1], LinkKind::CpuInterconnect, 16, 0.5});
    for (int k = 0; k < 4; ++k) {
      sw.push_back(t.addNode({.kind = NodeKind::PciSwitch, .index = k, .name = "SW" + std::to_string(k)}));
      t.addLink({cpu[k / 2], sw[k], LinkKind::Pci, pciBandwidthGBps(5, 16), 0.1, 1, 5, 16});
      gpu.push_back(t.addNode({.kind = NodeKind::Gpu, .index = k, .name = "GPU" + std::to_string(k), .gpuSm = 90}));
      t.addLink({sw[k], gpu[k], LinkKind::Pci, pciBandwidthGBps(5, 16), 0.1, 1, 5, 16});
      nic.push_back(t.addNode({.kind = NodeKind::Nic, .index = k, .name = "NIC" + std::to_string(k)}));
      t.addLink({sw[k], nic[k], LinkKind::Pci, pciBandwidthGBps(5, 16), 0.1, 1, 5, 16});
    }
    if (withNvSwitch) {
      for (int n = 0; n < 2; ++n) {
        nvs.push_back(t.addNode({.kind = NodeKind::NvSwitch, .index = n, .name = "NVS" + std::to_string(n)}));
        for (int k = 0; k < 4; ++k)
          t.addLink({gpu[k], nvs[n], LinkKind::NvLink, nvlinkBandwidthGBps(90, 9), 0.025, 9});
      }
    }
  }
};

TEST(TopologyModel, PathTypesOfATwoSocketServer) {
  Machine m;
  EXPECT_EQ(m.t.path(m.gpu[0], m.gpu[0]).type, PathType::Self);
  Path nv = m.t.path(m.gpu[0], m.gpu[3]);
  EXPECT_EQ(nv.type, PathType::NvSwitch);
  EXPECT_EQ(pathCode(nv.type, nv.nvLanes), "NV18");  // both switches' bundles, in parallel
  EXPECT_NEAR(nv.bandwidthGBps, 18 * 20.6, 1e-9);
  EXPECT_EQ(nv.hops, 2);
  EXPECT_EQ(m.t.path(m.gpu[0], m.nic[0]).type, PathType::SamePciSwitch);
  EXPECT_EQ(m.t.path(m.gpu[0], m.nic[1]).type, PathType::SameNuma);
  EXPECT_EQ(m.t.path(m.gpu[0], m.nic[3]).type, PathType::CrossSocket);
  EXPECT_NEAR(m.t.path(m.gpu[0], m.nic[3]).bandwidthGBps, 16, 1e-9);  // the socket link limits
}

TEST(TopologyModel, GpusForwardOnlyNvLinkTraffic) {
  Machine m(false);
  // Without NVSwitches, GPU0 to NIC1 must not shortcut through GPU1's PCIe link.
  Path p = m.t.path(m.gpu[0], m.nic[1]);
  for (size_t i = 1; i + 1 < p.nodes.size(); ++i) EXPECT_NE(m.t.node(p.nodes[i]).kind, NodeKind::Gpu);
  // A chain GPU0 - GPU1 - GPU2 over NVLink is NVB between its ends.
  m.t.addLink({m.gpu[0], m.gpu[1], LinkKind::NvLink, nvlinkBandwidthGBps(90, 4), 0, 4});
  m.t.addLink({m.gpu[1], m.gpu[2], LinkKind::NvLink, nvlinkBandwidthGBps(90, 4), 0, 4});
  EXPECT_EQ(m.t.path(m.gpu[0], m.gpu[1]).type, PathType::NvLink);
  EXPECT_EQ(pathCode(PathType::NvLink, m.t.path(m.gpu[0], m.gpu[1]).nvLanes), "NV4");
  EXPECT_EQ(m.t.path(m.gpu[0], m.gpu[2]).type, PathType::NvLinkViaGpu);
  EXPECT_EQ(m.t.path(m.gpu[0], m.gpu[3]).type, PathType::CrossSocket);
}

TEST(TopologyModel, NvLinkIsThePathEvenWherePcieIsWider) {
  Machine m(false);
  // Two Volta lanes (40 GB/s) against a Gen5 x16 PCIe route (63 GB/s): nvidia-smi says NV2.
  m.t.addLink({m.gpu[0], m.gpu[1], LinkKind::NvLink, nvlinkBandwidthGBps(70, 2), 0, 2});
  Path p = m.t.path(m.gpu[0], m.gpu[1]);
  EXPECT_EQ(pathCode(p.type, p.nvLanes), "NV2");
  EXPECT_NEAR(p.bandwidthGBps, 40, 1e-9);
}

TEST(TopologyModel, WidestRouteWinsThenFewestHops) {
  Topology t;
  NodeId a = t.addNode({.kind = NodeKind::PciSwitch, .name = "a"});
  NodeId b = t.addNode({.kind = NodeKind::PciSwitch, .name = "b"});
  NodeId c = t.addNode({.kind = NodeKind::PciSwitch, .name = "c"});
  NodeId d = t.addNode({.kind = NodeKind::PciSwitch, .name = "d"});
  t.addLink({a, d, LinkKind::Pci, 5});   // direct but narrow
  t.addLink({a, b, LinkKind::Pci, 20});
  t.addLink({b, d, LinkKind::Pci, 20});
  t.addLink({a, c, LinkKind::Pci, 20});
  t.addLink({c, b, LinkKind::Pci, 30});
  Path p = t.path(a, d);
  EXPECT_EQ(p.bandwidthGBps, 20);
  EXPECT_EQ(p.nodes, (std::vector<NodeId>{a, b, d}));
}

TEST(TopologyModel, NearestNicsAndCpuAffinity) {
  Machine m;
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(m.t.nearestNics(m.gpu[k]), std::vector<NodeId>{m.nic[k]});
    EXPECT_EQ(m.t.cpuOf(m.gpu[k]), m.cpu[k / 2]);
    EXPECT_EQ(m.t.cpuOf(m.nic[k]), m.cpu[k / 2]);
  }
}

TEST(TopologyModel, NetworkPathsBetweenHosts) {
  Topology t;
  NodeId leaf = t.addNode({.kind = NodeKind::NetSwitch, .host = 0, .name = "leaf0", .tier = 0});
  NodeId n0 = t.addNode({.kind = NodeKind::Nic, .host = 0, .name = "h0-nic0"});
  NodeId n1 = t.addNode({.kind = NodeKind::Nic, .host = 1, .name = "h1-nic0"});
  t.addLink({n0, leaf, LinkKind::Net, 50, 0.5});
  t.addLink({n1, leaf, LinkKind::Net, 50, 0.5});
  Path p = t.path(n0, n1);
  EXPECT_EQ(p.type, PathType::Network);
  EXPECT_EQ(pathCode(p.type, 0), "NET");
  EXPECT_DOUBLE_EQ(p.latencyUs, 1.0);
  EXPECT_EQ(t.hostCount(), 2u);
  NodeId lonely = t.addNode({.kind = NodeKind::Gpu, .name = "lonely"});
  EXPECT_EQ(t.path(n0, lonely).type, PathType::None);
}

TEST(TopologyModel, SameAsIgnoresOrderButNotFacts) {
  Machine a, b;
  EXPECT_TRUE(a.t.sameAs(b.t));
  Topology reversed;
  for (auto it = a.t.nodes().rbegin(); it != a.t.nodes().rend(); ++it) reversed.addNode(*it);
  const NodeId n = static_cast<NodeId>(a.t.nodes().size());
  for (Link l : a.t.links()) {
    std::swap(l.a, l.b);
    l.a = n - 1 - l.a;
    l.b = n - 1 - l.b;
    reversed.addLink(l);
  }
  std::string why;
  EXPECT_TRUE(a.t.sameAs(reversed, &why)) << why;
  b.t.node(b.gpu[2]).gpuSm = 80;
  EXPECT_FALSE(a.t.sameAs(b.t, &why));
  EXPECT_NE(why.find("GPU2"), std::string::npos) << why;
}

TEST(TopologyModel, BadLinksAreRefused) {
  Topology t;
  NodeId a = t.addNode({.name = "a"});
  EXPECT_THROW(t.addLink({a, a, LinkKind::Pci, 1}), std::invalid_argument);
  EXPECT_THROW(t.addLink({a, 7, LinkKind::Pci, 1}), std::invalid_argument);
}

TEST(TopologyModel, LinkBandwidthDefaults) {
  EXPECT_NEAR(pciBandwidthGBps(4, 16), 31.5, 0.01);
  EXPECT_NEAR(pciBandwidthGBps(5, 16), 63.0, 0.01);
  EXPECT_NEAR(pciBandwidthGBps(0, 0), pciBandwidthGBps(3, 16), 1e-12);
  EXPECT_NEAR(nvlinkBandwidthGBps(90, 18), 370.8, 1e-9);  // NCCL's H100 figure
  EXPECT_NEAR(nvlinkBandwidthGBps(80, 12), 240.0, 1e-9);
  // NCCL's CPU interconnect table, one place for every source.
  EXPECT_EQ(cpuInterconnectBandwidthGBps("x86_64", "GenuineIntel", 6, 0x55), 10.0);  // Skylake
  EXPECT_EQ(cpuInterconnectBandwidthGBps("x86_64", "GenuineIntel", 6, 0x8F), 22.0);  // Sapphire Rapids
  EXPECT_EQ(cpuInterconnectBandwidthGBps("x86_64", "GenuineIntel", 6, 0x3F), 6.0);   // Haswell
  EXPECT_EQ(cpuInterconnectBandwidthGBps("x86_64", "AuthenticAMD", 23, 49), 16.0);
  EXPECT_EQ(cpuInterconnectBandwidthGBps("aarch64", "", 0, 0), 6.0);
  EXPECT_EQ(cpuInterconnectBandwidthGBps("", "", 0, 0), 10.0);
}

}  // namespace
}  // namespace strata::topo
