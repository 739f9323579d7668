// The simulator's link graph (docs/simulator.md): every directional link of a fabric, identified
// by an index computed from the positions of its ends, never stored one by one, so that a
// 131,072-GPU fabric costs a few hundred bytes here and routes are computed on the fly.
//
// Per GPU: an NVLink port into its server's NVSwitch domain (out and in), and a NIC link (GPU ->
// PCIe -> NIC -> leaf, and back; the PCIe hop is folded into it since one GPU feeds each NIC and
// the NIC is the narrower of the two). Above the NICs a folded Clos of the fabric's switch tiers:
// rail-optimized leaves (NIC i of a server on a leaf of rail i), pods of tier-1 switches, and at
// the top a tier of planes (tier-1 switch j of every pod uplinks to plane j). Every uplink cable
// is two links. Equal-cost choices are taken by a static hash of the flow (ECMP), or, with
// adaptive routing, a flow is spread evenly over all of them, which the graph models as one
// bundle link per switch group with the summed capacity (exact for an even spread).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "plan/cost_model.h"
#include "topology/fabric.h"
#include "topology/model.h"

namespace strata::sim {

enum class Routing : uint8_t {
  Ecmp,      // static hash of (src, dst, seed) over the equal-cost uplinks: collisions are real
  Adaptive,  // packet spraying (Spectrum-X, IB adaptive routing): even split over all of them
};
const char* routingName(Routing r);

// A path: its links in order, the highest level it climbs, and the latency of a message on it
// (link and switch latencies plus the per-message software overhead of its class).
struct Route {
  static constexpr int kMaxLinks = 6;
  std::array<uint32_t, kMaxLinks> links{};
  uint8_t count = 0;
  // 0: same server (scale-up only); 1: same leaf; 2: through tier 1 (spine); 3: through tier 2.
  int8_t level = 0;
  double latencySec = 0;
};

class FabricGraph {
 public:
  // A whole fabric whose servers are its `serverPreset`; ranks are placed server-major (rank =
  // server * gpusPerServer + local GPU); `ranks` > 0 keeps only the first ones (routes and switch
  // indices stay those of the whole fabric).
  static FabricGraph fromFabric(const topo::Fabric& fabric, int64_t ranks = 0);
  // One server of a machine preset ("dgx-h100"): its GPUs over NVSwitch, no network.
  static FabricGraph fromMachine(const std::string& preset);
  // One server described by a topology (a preset, an NCCL or hwloc XML file), named `name`.
  static FabricGraph fromTopology(const topo::Topology& server, const std::string& name);
  // This machine's shared memory as the cost model describes it: `nranks` processes, `perHost`
  // per host (0: all on one), intra-host links of intraHost's bandwidth, hosts joined by one
  // non-blocking switch through per-rank links of interHost's bandwidth.
  static FabricGraph forHost(const CostModel& cost, int nranks, int perHost = 0);

  const std::string& name() const { return name_; }
  int64_t ranks() const { return ranks_; }
  int gpusPerServer() const { return gpusPerServer_; }
  int64_t serversUsed() const { return (ranks_ + gpusPerServer_ - 1) / gpusPerServer_; }
  bool isHost() const { return host_; }

  uint64_t linkCount() const { return linkCount_; }
  double capacity(uint32_t link) const;  // bytes per second, one direction
  // Which traffic level a link's bytes count for (see trafficLevels()).
  int linkLevel(uint32_t link) const;
  // The route of one flow from rank src to rank dst; `flowKey` seeds the ECMP hash (the
  // simulator passes one per channel: a connection keeps its path).
  Route route(int64_t src, int64_t dst, Routing routing, uint64_t flowKey) const;

  // Names of the traffic levels a route's bytes cross: "nvlink" (or "shm"), "nic", then each
  // switch tier above the leaf ("spine", "core"). Bytes of a level-k route count for levels
  // 1..k (a message through the core also crossed a NIC and a spine), level-0 ones for 0 only.
  std::vector<std::string> trafficLevels() const;

  // The switch tiers as built: switches and up-cables per tier (to compare with
  // topo::summarize), and the per-cable capacity.
  struct TierShape {
    std::string name;
    uint64_t switches = 0;
    uint64_t cablesUp = 0;
    double cableBytesPerSec = 0;
    double hopSec = 0;
  };
  const std::vector<TierShape>& tiers() const { return tiers_; }
  std::string describe() const;

  // Defaults the simulator uses, documented in docs/simulator.md; change them before simulating.
  double scaleUpBytesPerSec = 0;  // per GPU and direction into the NVSwitch domain
  double nicBytesPerSec = 0;      // per NIC and direction
  double scaleUpHopSec = 25e-9;   // one NVSwitch hop
  double pcieHopSec = 500e-9;     // GPU <-> NIC, per end (SimAI's per-link latency)
  // Per-message software and protocol overhead, added to every message's latency (not to the
  // link's busy time): kernel/proxy hand-off on NVLink, RDMA post and completion on the NIC.
  double intraOverheadSec = 0.5e-6;
  double interOverheadSec = 2e-6;
  // Reduction throughput (bytes of output per second) and whether it overlaps the receive (GPU
  // kernels reduce as the data streams in; the host executor reduces a message once it is whole).
  double reduceBytesPerSec = 1e12;
  bool streamingReduce = true;

 private:
  // Indices of the fabric's structure.
  int64_t nicOf(int64_t gpu) const;   // global NIC index
  int64_t leafOf(int64_t nic) const;  // global leaf index
  int64_t podOf(int64_t leaf) const { return leaf / pod1_; }
  int spinesIn(int64_t pod) const;    // tier-1 switches of a pod
  void finish();

  std::string name_;
  bool host_ = false;
  int64_t ranks_ = 0;
  int64_t servers_ = 0;
  int gpusPerServer_ = 8;
  int nicsPerServer_ = 8;
  bool railOptimized_ = true;
  int levels_ = 0;  // switch tiers; 0: one ideal switch joins the NICs (host graphs, one server)
  // Ports of the leaf (d0 down, u0 up), tier 1 (d1, u1) and the top (d2).
  int64_t d0_ = 0, u0_ = 0, d1_ = 0, u1_ = 0, d2_ = 0;
  int64_t leaves_ = 0, pods_ = 0, pod1_ = 1;
  int64_t topSwitches_ = 0;           // two tiers: spines of the one pod
  std::vector<int64_t> coresPerPlane_;  // three tiers: cores of plane j
  std::vector<TierShape> tiers_;
  double leafCableBytesPerSec_ = 0, spineCableBytesPerSec_ = 0;
  double leafHopSec_ = 0, spineHopSec_ = 0, coreHopSec_ = 0;
  // Link index ranges (see fabric_graph.cc).
  uint64_t gpus_ = 0, nics_ = 0;
  uint64_t leafCableBase_ = 0, spineCableBase_ = 0, bundleBase_ = 0, linkCount_ = 0;
};

}  // namespace strata::sim
