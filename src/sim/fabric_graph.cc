// The simulator's link graph: indices, capacities and routes computed from the fabric's
// parameters (docs/simulator.md, "The fabric").
//
// Link indices, in this order (G GPUs, N NICs, L leaves, P pods, u0/u1 uplinks per leaf/spine):
//   [0, G)            GPU -> NVSwitch domain          [G, 2G)          NVSwitch domain -> GPU
//   [2G, 2G+N)        NIC -> leaf (via PCIe)          [2G+N, 2G+2N)    leaf -> NIC
//   leaf cables       up: leaf * u0 + k               down: L * u0 + leaf * u0 + k
//   spine cables      up: spine * u1 + m              down: P * u0 * u1 + spine * u1 + m
//                     (spine = pod * u0 + j, three tiers only)
//   bundles           leaf up [L], leaf down [L], pod up [P], pod down [P] (adaptive routing)
//
// Wiring. Two tiers: the S = ceil(L * u0 / d1) spines form one pod and leaf port k goes to spine
// k mod S (u0 / S parallel cables when S divides u0, as in a SuperPOD of four units). Three
// tiers: a pod is d1 consecutive leaves (rail-optimized: all rails of d1 / rails groups of d0
// servers) with ceil(leaves * u0 / d1) spines, wired the same way; spine j of every pod uplinks
// to plane j of the top tier, whose C_j = ceil(pods with a spine j * u1 / d2) switches each take
// u1 / C_j of its cables (port m to core m mod C_j). These are the switch and cable counts of
// topo::summarize whenever the pods are full.
#include "sim/fabric_graph.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"
#include "topology/presets.h"

namespace strata::sim {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64: a well-spread static hash
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Ports of one switch of tier t, as topo::summarize splits them.
void portsOf(const topo::Fabric& f, size_t t, int64_t* down, int64_t* up) {
  const topo::SwitchTier& tier = f.tiers[t];
  const bool top = t + 1 == f.tiers.size();
  if (top) {
    *down = tier.portsDown > 0 ? tier.portsDown : tier.radix;
    *up = 0;
  } else if (tier.portsDown > 0) {
    *down = tier.portsDown;
    *up = int64_t(std::ceil(tier.portsDown / tier.oversubscription - 1e-9));
  } else {
    *down = int64_t(std::floor(tier.radix * tier.oversubscription / (1 + tier.oversubscription) + 1e-9));
    *up = tier.radix - *down;
  }
}

// NVLink bandwidth of one GPU of a server (the sum over its NVLink links, one direction) and its
// NICs' speed, from a machine preset.
void serverFacts(const topo::Topology& server, double* nvlinkBytesPerSec, double* nicBytesPerSec) {
  *nvlinkBytesPerSec = 0;
  *nicBytesPerSec = 0;
  const auto gpus = server.nodesOf(topo::NodeKind::Gpu);
  STRATA_CHECK(!gpus.empty(), strataInvalidArgument, "server topology '{}' has no GPU", server.source);
  for (uint32_t l : server.linksOf(gpus[0])) {
    const topo::Link& link = server.links()[l];
    if (link.kind == topo::LinkKind::NvLink) *nvlinkBytesPerSec += link.bandwidthGBps * 1e9;
  }
  for (topo::NodeId nic : server.nodesOf(topo::NodeKind::Nic))
    if (server.node(nic).rail >= 0) *nicBytesPerSec = server.node(nic).speedGbps / 8 * 1e9;
  // Without NVLink (PCIe servers, files that leave it out), GPUs talk over the best path
  // between two of them, through PCIe switches or the CPUs.
  if (*nvlinkBytesPerSec <= 0 && gpus.size() > 1)
    *nvlinkBytesPerSec = server.path(gpus[0], gpus[1]).bandwidthGBps * 1e9;
  STRATA_CHECK(*nvlinkBytesPerSec > 0, strataInvalidArgument,
               "server topology '{}': no path between its GPUs", server.source);
}

}  // namespace

const char* routingName(Routing r) { return r == Routing::Ecmp ? "ecmp" : "adaptive"; }

FabricGraph FabricGraph::fromFabric(const topo::Fabric& fabric, int64_t ranks) {
  topo::summarize(fabric);  // throws on an inconsistent fabric
  FabricGraph g;
  g.name_ = fabric.name;
  g.servers_ = int64_t(fabric.servers);
  g.gpusPerServer_ = fabric.gpusPerServer;
  g.nicsPerServer_ = fabric.nicsPerServer;
  g.railOptimized_ = fabric.railOptimized;
  const int64_t allGpus = g.servers_ * g.gpusPerServer_;
  g.ranks_ = ranks > 0 ? ranks : allGpus;
  STRATA_CHECK(g.ranks_ <= allGpus, strataInvalidArgument, "{} ranks on fabric '{}' of {} GPUs",
               g.ranks_, fabric.name, allGpus);
  double nicFromServer = 0;
  serverFacts(topo::machinePreset(fabric.serverPreset), &g.scaleUpBytesPerSec, &nicFromServer);
  g.nicBytesPerSec = fabric.nicGbps / 8 * 1e9;

  g.levels_ = int(fabric.tiers.size());
  STRATA_CHECK(g.levels_ >= 1 && g.levels_ <= 3, strataInvalidArgument,
               "fabric '{}': the simulator models 1 to 3 switch tiers, not {}", fabric.name, g.levels_);
  int64_t down[3] = {0, 0, 0}, up[3] = {0, 0, 0};
  for (int t = 0; t < g.levels_; ++t) portsOf(fabric, size_t(t), &down[t], &up[t]);
  g.d0_ = down[0];
  g.u0_ = up[0];
  if (g.railOptimized_) {
    g.leaves_ = g.nicsPerServer_ * ceilDiv(g.servers_, g.d0_);
  } else {
    const int64_t serversPerLeaf = g.d0_ / g.nicsPerServer_;
    g.leaves_ = ceilDiv(g.servers_, serversPerLeaf);
  }
  g.leafHopSec_ = fabric.tiers[0].latencyUs * 1e-6;
  g.tiers_.push_back({fabric.tiers[0].name, uint64_t(g.leaves_), uint64_t(g.leaves_ * g.u0_),
                      fabric.tiers[0].linkGbps / 8 * 1e9, g.leafHopSec_});
  g.leafCableBytesPerSec_ = fabric.tiers[0].linkGbps / 8 * 1e9;
  g.pod1_ = g.leaves_;
  g.pods_ = 1;
  if (g.levels_ == 2) {
    g.d1_ = down[1];
    g.topSwitches_ = ceilDiv(g.leaves_ * g.u0_, g.d1_);
    STRATA_CHECK(g.topSwitches_ <= g.u0_, strataInvalidArgument,
                 "fabric '{}': {} spines but only {} uplinks per leaf", fabric.name, g.topSwitches_, g.u0_);
    g.spineHopSec_ = fabric.tiers[1].latencyUs * 1e-6;
    g.tiers_.push_back({fabric.tiers[1].name, uint64_t(g.topSwitches_), 0, fabric.tiers[1].linkGbps / 8 * 1e9,
                        g.spineHopSec_});
  } else if (g.levels_ == 3) {
    g.d1_ = down[1];
    g.u1_ = up[1];
    g.d2_ = down[2];
    g.pod1_ = g.d1_;
    g.pods_ = ceilDiv(g.leaves_, g.d1_);
    STRATA_CHECK(g.spinesIn(0) <= g.u0_, strataInvalidArgument, "fabric '{}': more spines than leaf uplinks",
                 fabric.name);
    uint64_t spines = 0;
    std::vector<int64_t> podsWithSpine(size_t(g.u0_), 0);
    for (int64_t p = 0; p < g.pods_; ++p) {
      spines += uint64_t(g.spinesIn(p));
      for (int j = 0; j < g.spinesIn(p); ++j) ++podsWithSpine[size_t(j)];
    }
    uint64_t cores = 0;
    for (int64_t j = 0; j < g.u0_; ++j) {
      const int64_t c = podsWithSpine[size_t(j)] == 0 ? 0 : ceilDiv(podsWithSpine[size_t(j)] * g.u1_, g.d2_);
      STRATA_CHECK(c <= g.u1_, strataInvalidArgument, "fabric '{}': plane {} needs {} cores for {} uplinks",
                   fabric.name, j, c, g.u1_);
      g.coresPerPlane_.push_back(c);
      cores += uint64_t(c);
    }
    g.spineHopSec_ = fabric.tiers[1].latencyUs * 1e-6;
    g.coreHopSec_ = fabric.tiers[2].latencyUs * 1e-6;
    g.spineCableBytesPerSec_ = fabric.tiers[1].linkGbps / 8 * 1e9;
    g.tiers_.push_back({fabric.tiers[1].name, spines, spines * uint64_t(g.u1_), g.spineCableBytesPerSec_,
                        g.spineHopSec_});
    g.tiers_.push_back({fabric.tiers[2].name, cores, 0, fabric.tiers[2].linkGbps / 8 * 1e9, g.coreHopSec_});
  }
  g.finish();
  return g;
}

FabricGraph FabricGraph::fromMachine(const std::string& preset) {
  return fromTopology(topo::machinePreset(preset), preset);
}

FabricGraph FabricGraph::fromTopology(const topo::Topology& server, const std::string& name) {
  FabricGraph g;
  g.name_ = name;
  g.servers_ = 1;
  g.gpusPerServer_ = int(server.nodesOf(topo::NodeKind::Gpu).size());
  STRATA_CHECK(g.gpusPerServer_ > 0, strataInvalidArgument,
               "{} has no GPUs to place ranks on (for CPU ranks, simulate the host instead)", name);
  g.nicsPerServer_ = g.gpusPerServer_;
  g.ranks_ = g.gpusPerServer_;
  serverFacts(server, &g.scaleUpBytesPerSec, &g.nicBytesPerSec);
  g.finish();
  return g;
}

FabricGraph FabricGraph::forHost(const CostModel& cost, int nranks, int perHost) {
  STRATA_CHECK(nranks >= 1, strataInvalidArgument, "{} ranks", nranks);
  if (perHost <= 0) perHost = nranks;
  STRATA_CHECK(nranks % perHost == 0, strataInvalidArgument, "{} ranks are not hosts of {}", nranks, perHost);
  FabricGraph g;
  g.name_ = nranks == perHost ? "host" : fmt::format("{} hosts", nranks / perHost);
  g.host_ = true;
  g.servers_ = nranks / perHost;
  g.gpusPerServer_ = perHost;
  g.nicsPerServer_ = perHost;  // each rank's share of the host's NIC, as the cost model describes it
  g.ranks_ = nranks;
  g.scaleUpBytesPerSec = cost.intraHost.bytesPerSec;
  g.nicBytesPerSec = cost.interHost.bytesPerSec;
  g.scaleUpHopSec = 0;
  g.pcieHopSec = 0;
  g.intraOverheadSec = cost.intraHost.alphaSec;
  g.interOverheadSec = cost.interHost.alphaSec;
  g.reduceBytesPerSec = cost.reduceBytesPerSec;
  g.streamingReduce = false;
  g.finish();
  return g;
}

int FabricGraph::spinesIn(int64_t pod) const {
  if (levels_ == 2) return int(topSwitches_);
  const int64_t leavesInPod = std::min(d1_, leaves_ - pod * d1_);
  return int(ceilDiv(leavesInPod * u0_, d1_));
}

void FabricGraph::finish() {
  gpus_ = uint64_t(servers_) * gpusPerServer_;
  nics_ = uint64_t(servers_) * nicsPerServer_;
  leafCableBase_ = 2 * gpus_ + 2 * nics_;
  spineCableBase_ = leafCableBase_ + (levels_ >= 2 ? 2 * uint64_t(leaves_ * u0_) : 0);
  bundleBase_ = spineCableBase_ + (levels_ == 3 ? 2 * uint64_t(pods_ * u0_ * u1_) : 0);
  linkCount_ = bundleBase_ + (levels_ >= 2 ? 2 * uint64_t(leaves_) : 0) + (levels_ == 3 ? 2 * uint64_t(pods_) : 0);
  STRATA_CHECK(linkCount_ < UINT32_MAX, strataInvalidArgument, "fabric '{}' has too many links to index",
               name_);
}

int64_t FabricGraph::nicOf(int64_t gpu) const {
  const int64_t server = gpu / gpusPerServer_, local = gpu % gpusPerServer_;
  return server * nicsPerServer_ + local * nicsPerServer_ / gpusPerServer_;
}

int64_t FabricGraph::leafOf(int64_t nic) const {
  const int64_t server = nic / nicsPerServer_, rail = nic % nicsPerServer_;
  if (railOptimized_) return (server / d0_) * nicsPerServer_ + rail;
  return server / (d0_ / nicsPerServer_);
}

double FabricGraph::capacity(uint32_t link) const {
  const uint64_t l = link;
  if (l < 2 * gpus_) return scaleUpBytesPerSec;
  if (l < leafCableBase_) return nicBytesPerSec;
  if (l < spineCableBase_) return leafCableBytesPerSec_;
  if (l < bundleBase_) return spineCableBytesPerSec_;
  uint64_t b = l - bundleBase_;
  if (b < 2 * uint64_t(leaves_)) return double(u0_) * leafCableBytesPerSec_;
  b -= 2 * uint64_t(leaves_);
  const int64_t pod = int64_t(b % uint64_t(pods_));
  return double(spinesIn(pod)) * double(u1_) * spineCableBytesPerSec_;
}

int FabricGraph::linkLevel(uint32_t link) const {
  const uint64_t l = link;
  if (l < 2 * gpus_) return 0;
  if (l < leafCableBase_) return 1;
  if (l < spineCableBase_) return 2;
  if (l < bundleBase_) return 3;
  return l - bundleBase_ < 2 * uint64_t(leaves_) ? 2 : 3;
}

std::vector<std::string> FabricGraph::trafficLevels() const {
  std::vector<std::string> names = {host_ ? "shm" : "nvlink", host_ ? "net" : "nic"};
  for (size_t t = 1; t < tiers_.size(); ++t) names.push_back(tiers_[t].name);
  return names;
}

Route FabricGraph::route(int64_t src, int64_t dst, Routing routing, uint64_t flowKey) const {
  STRATA_CHECK(src >= 0 && dst >= 0 && src < ranks_ && dst < ranks_, strataInternalError,
               "route {} -> {} outside {} ranks", src, dst, ranks_);
  Route r;
  auto add = [&](uint64_t link) { r.links[r.count++] = uint32_t(link); };
  if (src == dst) return r;
  if (src / gpusPerServer_ == dst / gpusPerServer_) {
    add(uint64_t(src));
    add(gpus_ + uint64_t(dst));
    r.level = 0;
    r.latencySec = scaleUpHopSec + intraOverheadSec;
    return r;
  }
  const int64_t nicA = nicOf(src), nicB = nicOf(dst);
  add(2 * gpus_ + uint64_t(nicA));
  r.latencySec = 2 * pcieHopSec + interOverheadSec;
  r.level = 1;
  if (levels_ >= 1) {
    const int64_t leafA = leafOf(nicA), leafB = leafOf(nicB);
    r.latencySec += leafHopSec_;
    if (leafA != leafB) {
      STRATA_CHECK(levels_ >= 2, strataInvalidArgument,
                   "fabric '{}' has one tier: rank {} (leaf {}) cannot reach rank {} (leaf {})", name_, src,
                   leafA, dst, leafB);
      const uint64_t h = mix(flowKey ^ mix(uint64_t(src) * 0x100000001b3ull + uint64_t(dst)));
      const int64_t podA = podOf(leafA), podB = podOf(leafB);
      const int64_t sA = spinesIn(podA), sB = spinesIn(podB);
      const uint64_t leafDownBase = leafCableBase_ + uint64_t(leaves_ * u0_);
      const uint64_t leafBundles = bundleBase_;
      r.latencySec += leafHopSec_ + spineHopSec_;
      r.level = 2;
      if (routing == Routing::Adaptive) {
        add(leafBundles + uint64_t(leafA));
        if (podA != podB) {
          add(leafBundles + 2 * uint64_t(leaves_) + uint64_t(podA));
          add(leafBundles + 2 * uint64_t(leaves_) + uint64_t(pods_) + uint64_t(podB));
        }
        add(leafBundles + uint64_t(leaves_) + uint64_t(leafB));
      } else {
        // Up from leaf A to spine j (a spine pod B also has), over one of the parallel cables.
        const int64_t j = int64_t(h % uint64_t(std::min(sA, sB)));
        const int64_t kA = j + sA * int64_t(mix(h + 1) % uint64_t(ceilDiv(u0_ - j, sA)));
        add(leafCableBase_ + uint64_t(leafA * u0_ + kA));
        if (podA != podB) {
          // Spine (podA, j) up to core c of plane j, then down to spine (podB, j).
          const int64_t cores = coresPerPlane_[size_t(j)];
          const int64_t m = int64_t(mix(h + 2) % uint64_t(u1_));
          const int64_t c = m % cores;
          const int64_t mB = c + cores * int64_t(mix(h + 3) % uint64_t(ceilDiv(u1_ - c, cores)));
          add(spineCableBase_ + uint64_t((podA * u0_ + j) * u1_ + m));
          add(spineCableBase_ + uint64_t(pods_ * u0_ * u1_) + uint64_t((podB * u0_ + j) * u1_ + mB));
          r.latencySec += spineHopSec_ + coreHopSec_;
          r.level = 3;
        }
        // Down from spine (podB, j) to leaf B over one of its parallel cables.
        const int64_t kB = j + sB * int64_t(mix(h + 4) % uint64_t(ceilDiv(u0_ - j, sB)));
        add(leafDownBase + uint64_t(leafB * u0_ + kB));
      }
      if (routing == Routing::Adaptive && podA != podB) {
        r.latencySec += spineHopSec_ + coreHopSec_;
        r.level = 3;
      }
    }
  }
  add(2 * gpus_ + nics_ + uint64_t(nicB));
  return r;
}

std::string FabricGraph::describe() const {
  std::string s = fmt::format("{}: {} ranks on {} servers of {} GPUs, scale-up {:.1f} GB/s, NIC {:.1f} GB/s",
                              name_, ranks_, servers_, gpusPerServer_, scaleUpBytesPerSec / 1e9,
                              nicBytesPerSec / 1e9);
  for (const TierShape& t : tiers_)
    s += fmt::format("; {} x{} ({} up-cables of {:.1f} GB/s)", t.name, t.switches, t.cablesUp,
                     t.cableBytesPerSec / 1e9);
  s += fmt::format("; {} links", linkCount_);
  return s;
}

}  // namespace strata::sim
