#include "topology/model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <queue>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>

namespace strata::topo {

const char* nodeKindName(NodeKind kind) {
  switch (kind) {
    case NodeKind::Cpu: return "cpu";
    case NodeKind::PciSwitch: return "pci-switch";
    case NodeKind::Gpu: return "gpu";
    case NodeKind::NvSwitch: return "nvswitch";
    case NodeKind::Nic: return "nic";
    case NodeKind::NicPort: return "nic-port";
    case NodeKind::NetSwitch: return "net-switch";
  }
  return "?";
}

const char* linkKindName(LinkKind kind) {
  switch (kind) {
    case LinkKind::NvLink: return "nvlink";
    case LinkKind::Pci: return "pci";
    case LinkKind::CpuInterconnect: return "cpu-interconnect";
    case LinkKind::Net: return "net";
    case LinkKind::C2C: return "c2c";
  }
  return "?";
}

const char* pathTypeName(PathType type) {
  switch (type) {
    case PathType::Self: return "self";
    case PathType::NvLink: return "nvlink";
    case PathType::NvSwitch: return "nvswitch";
    case PathType::NvLinkViaGpu: return "nvlink-via-gpu";
    case PathType::SamePciSwitch: return "same-pci-switch";
    case PathType::PciSwitches: return "pci-switches";
    case PathType::HostBridge: return "host-bridge";
    case PathType::SameNuma: return "same-numa";
    case PathType::CrossSocket: return "cross-socket";
    case PathType::Network: return "network";
    case PathType::None: return "none";
  }
  return "?";
}

std::string pathCode(PathType type, int nvLanes) {
  switch (type) {
    case PathType::Self: return "X";
    case PathType::NvLink:
    case PathType::NvSwitch: return fmt::format("NV{}", nvLanes);
    case PathType::NvLinkViaGpu: return "NVB";
    case PathType::SamePciSwitch: return "PIX";
    case PathType::PciSwitches: return "PXB";
    case PathType::HostBridge: return "PHB";
    case PathType::SameNuma: return "NODE";
    case PathType::CrossSocket: return "SYS";
    case PathType::Network: return "NET";
    case PathType::None: return "-";
  }
  return "?";
}

double pciBandwidthGBps(int gen, int width) {
  // Per lane and direction after line encoding: 8b/10b up to Gen2, 128b/130b from Gen3.
  static const double perLane[] = {0.985, 0.25, 0.5, 0.985, 1.969, 3.938, 7.563};
  double lane = gen >= 1 && gen <= 6 ? perLane[gen] : perLane[0];  // unknown: Gen3
  return lane * (width > 0 ? width : 16);
}

double nvlinkBandwidthGBps(int smArch, int lanes) {
  // NCCL's per-link figures (src/graph/topo.h): what a link carries in practice, one direction.
  double perLane = smArch >= 100 ? 40.1 : smArch >= 90 ? 20.6 : smArch >= 70 ? 20.0 : 18.0;
  return perLane * std::max(lanes, 1);
}

double cpuInterconnectBandwidthGBps(const std::string& arch, const std::string& vendor, int family, int model) {
  // NCCL's figures (src/graph/topo.h: QPI_BW, SKL_QPI_BW, SRP_QPI_BW, ERP_QPI_BW, AMD_BW, P9_BW,
  // ARM_BW), chosen as its ncclTopoGetInterCpuBw does. For anything else NCCL assumes its local
  // bandwidth; a finite 10 GB/s keeps paths across an unknown interconnect from looking free.
  if (arch == "ppc64" || arch == "ppc64le") return 32.0;
  if (arch == "arm64" || arch == "aarch64") return 6.0;
  if (vendor == "AuthenticAMD") return 16.0;
  if (vendor == "GenuineIntel") {
    const int m = family == 6 ? model : 0;
    return m >= 0xCF ? 40.0 : m >= 0x8F ? 22.0 : m >= 0x55 ? 10.0 : 6.0;
  }
  return 10.0;
}

NodeId Topology::addNode(Node node) {
  nodes_.push_back(std::move(node));
  adjacency_.emplace_back();
  return static_cast<NodeId>(nodes_.size() - 1);
}

void Topology::addLink(Link link) {
  if (link.a >= nodes_.size() || link.b >= nodes_.size())
    throw std::invalid_argument(fmt::format("link between unknown nodes {} and {}", link.a, link.b));
  if (link.a == link.b)
    throw std::invalid_argument(fmt::format("link from node {} to itself", nodes_[link.a].name));
  links_.push_back(link);
  uint32_t id = static_cast<uint32_t>(links_.size() - 1);
  adjacency_[link.a].push_back(id);
  adjacency_[link.b].push_back(id);
}

NodeId Topology::otherEnd(uint32_t link, NodeId from) const {
  const Link& l = links_.at(link);
  return l.a == from ? l.b : l.a;
}

std::vector<NodeId> Topology::nodesOf(NodeKind kind, int host) const {
  std::vector<NodeId> out;
  for (NodeId i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].kind == kind && (host < 0 || nodes_[i].host == static_cast<uint32_t>(host)))
      out.push_back(i);
  return out;
}

std::optional<NodeId> Topology::findByName(const std::string& name) const {
  for (NodeId i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].name == name) return i;
  return std::nullopt;
}

std::optional<NodeId> Topology::findByBusId(const std::string& busId) const {
  for (NodeId i = 0; i < nodes_.size(); ++i)
    if (!busId.empty() && nodes_[i].busId == busId) return i;
  return std::nullopt;
}

uint32_t Topology::hostCount() const {
  uint32_t n = 0;
  for (const Node& node : nodes_) n = std::max(n, node.host + 1);
  return n;
}

namespace {

// Search state: a node, and for GPUs whether we arrived over NVLink (a GPU forwards NVLink
// traffic to NVLink only: that is the NVB path; it never forwards PCIe traffic).
struct Label {
  double bandwidth = -1;  // bottleneck so far; -1 unreached
  int hops = 0;
  double latency = 0;
  int prevState = -1;
};

bool better(double bw, int hops, const Label& than) {
  if (than.bandwidth < 0) return true;
  if (bw > than.bandwidth * (1 + 1e-9)) return true;
  return bw >= than.bandwidth * (1 - 1e-9) && hops < than.hops;
}

}  // namespace

Path Topology::path(NodeId from, NodeId to) const {
  Path p;
  if (from >= nodes_.size() || to >= nodes_.size()) return p;
  if (from == to) {
    p.type = PathType::Self;
    p.nodes = {from};
    p.bandwidthGBps = INFINITY;
    return p;
  }
  // Widest path (highest bottleneck bandwidth), then fewest hops: a Dijkstra over states.
  // NVLink comes first, as nvidia-smi and NCCL see it: if the ends are joined by NVLink alone,
  // that is the path even where a PCIe route would be wider.
  const size_t nstates = nodes_.size() * 2;
  std::vector<Label> label;
  auto stateOf = [](NodeId n, bool viaNv) { return static_cast<int>(n * 2 + (viaNv ? 1 : 0)); };
  auto search = [&](bool nvLinkOnly) {
    label.assign(nstates, Label{});
    using Item = std::tuple<double, int, int>;  // -bandwidth, hops, state
    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue;
    const int start = stateOf(from, false);
    label[start] = {INFINITY, 0, 0, -1};
    queue.emplace(-INFINITY, 0, start);
    std::vector<bool> done(nstates, false);
    while (!queue.empty()) {
      auto [negBw, hops, state] = queue.top();
      queue.pop();
      if (done[state]) continue;
      done[state] = true;
      const NodeId node = static_cast<NodeId>(state / 2);
      const bool viaNv = state % 2;
      if (node == to) return state;
      const bool transitGpu = node != from && nodes_[node].kind == NodeKind::Gpu;
      for (uint32_t li : adjacency_[node]) {
        const Link& l = links_[li];
        const bool nv = l.kind == LinkKind::NvLink;
        if ((nvLinkOnly && !nv) || (transitGpu && !(viaNv && nv))) continue;
        const NodeId next = otherEnd(li, node);
        const int nextState = stateOf(next, nv);
        const double bw = std::min(label[state].bandwidth, l.bandwidthGBps);
        if (done[nextState] || !better(bw, label[state].hops + 1, label[nextState])) continue;
        label[nextState] = {bw, label[state].hops + 1, label[state].latency + l.latencyUs, state};
        queue.emplace(-bw, label[nextState].hops, nextState);
      }
    }
    return -1;
  };
  int goal = search(true);
  if (goal < 0) goal = search(false);
  if (goal < 0) return p;

  for (int s = goal; s >= 0; s = label[s].prevState) p.nodes.push_back(static_cast<NodeId>(s / 2));
  std::reverse(p.nodes.begin(), p.nodes.end());
  p.bandwidthGBps = label[goal].bandwidth;
  p.latencyUs = label[goal].latency;
  p.hops = label[goal].hops;

  // The links along the route, to classify it.
  std::vector<const Link*> route;
  for (size_t i = 0; i + 1 < p.nodes.size(); ++i) {
    const Link* best = nullptr;
    for (uint32_t li : adjacency_[p.nodes[i]]) {
      const Link& l = links_[li];
      if (otherEnd(li, p.nodes[i]) != p.nodes[i + 1]) continue;
      if (!best || l.bandwidthGBps > best->bandwidthGBps) best = &l;
    }
    route.push_back(best);
  }
  const bool allNv = std::all_of(route.begin(), route.end(), [](const Link* l) { return l->kind == LinkKind::NvLink; });
  bool viaNetSwitch = false, viaGpu = false, viaCpu = false;
  int pciSwitches = 0;
  for (size_t i = 1; i + 1 < p.nodes.size(); ++i) {
    switch (nodes_[p.nodes[i]].kind) {
      case NodeKind::NetSwitch: viaNetSwitch = true; break;
      case NodeKind::Gpu: viaGpu = true; break;
      case NodeKind::Cpu: viaCpu = true; break;
      case NodeKind::PciSwitch: ++pciSwitches; break;
      default: break;
    }
  }
  const bool crossSocket = std::any_of(route.begin(), route.end(), [](const Link* l) {
    return l->kind == LinkKind::CpuInterconnect;
  });
  const bool crossHost = nodes_[from].host != nodes_[to].host;
  if (viaNetSwitch || crossHost) {
    p.type = PathType::Network;
  } else if (allNv) {
    p.nvLanes = route.front()->lanes;
    p.type = route.size() == 1 ? PathType::NvLink : viaGpu ? PathType::NvLinkViaGpu : PathType::NvSwitch;
    if (p.type == PathType::NvSwitch && p.nodes.size() == 3) {
      // Machines spread a GPU's NVLinks over several switch chips (H100: 18 lanes over 4):
      // traffic uses them all, so the path is every switch that both ends reach, in parallel.
      double bandwidth = 0;
      int lanes = 0;
      for (uint32_t li : adjacency_[from]) {
        const Link& up = links_[li];
        const NodeId sw = otherEnd(li, from);
        if (up.kind != LinkKind::NvLink || nodes_[sw].kind != NodeKind::NvSwitch) continue;
        for (uint32_t lj : adjacency_[sw]) {
          const Link& down = links_[lj];
          if (down.kind == LinkKind::NvLink && otherEnd(lj, sw) == to) {
            bandwidth += std::min(up.bandwidthGBps, down.bandwidthGBps);
            lanes += up.lanes;
          }
        }
      }
      p.bandwidthGBps = std::max(p.bandwidthGBps, bandwidth);
      p.nvLanes = std::max(p.nvLanes, lanes);
    }
  } else if (crossSocket) {
    p.type = PathType::CrossSocket;
  } else if (viaCpu) {
    // Through one CPU: two devices on the CPU's own root ports share its host bridge (PHB);
    // devices behind different switches cross between host bridges of the NUMA domain (NODE).
    p.type = pciSwitches == 0 ? PathType::HostBridge : PathType::SameNuma;
  } else {
    p.type = pciSwitches <= 1 ? PathType::SamePciSwitch : PathType::PciSwitches;
  }
  return p;
}

std::vector<NodeId> Topology::nearestNics(NodeId gpu) const {
  std::vector<NodeId> best;
  Path bestPath;
  for (NodeId nic : nodesOf(NodeKind::Nic, static_cast<int>(node(gpu).host))) {
    Path p = path(gpu, nic);
    if (p.type == PathType::None) continue;
    auto key = [](const Path& q) { return std::make_tuple(-q.bandwidthGBps, static_cast<int>(q.type), q.hops); };
    if (best.empty() || key(p) < key(bestPath)) {
      best = {nic};
      bestPath = p;
    } else if (key(p) == key(bestPath)) {
      best.push_back(nic);
    }
  }
  return best;
}

NodeId Topology::cpuOf(NodeId device) const {
  // Breadth-first up the PCIe tree: through switches only, never through another device.
  std::vector<bool> seen(nodes_.size(), false);
  std::queue<NodeId> queue;
  queue.push(device);
  seen[device] = true;
  while (!queue.empty()) {
    NodeId n = queue.front();
    queue.pop();
    if (nodes_[n].kind == NodeKind::Cpu) return n;
    if (n != device && nodes_[n].kind != NodeKind::PciSwitch) continue;
    for (uint32_t li : adjacency_[n]) {
      const Link& l = links_[li];
      if (l.kind != LinkKind::Pci && l.kind != LinkKind::C2C) continue;
      NodeId m = otherEnd(li, n);
      if (!seen[m]) {
        seen[m] = true;
        queue.push(m);
      }
    }
  }
  return kNoNode;
}

namespace {

std::string nodeKey(const Node& n) {
  return fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{:.3f}|{}|{}|{}|{}|{}|{}|{}", n.host, nodeKindName(n.kind),
                     n.index, n.name, n.busId, n.model, n.gpuSm, n.memoryBytes, n.speedGbps,
                     n.linkLayer, n.guid, n.rail, n.tier, n.radix, n.gpuDirect, "");
}

}  // namespace

bool Topology::sameAs(const Topology& other, std::string* difference) const {
  auto describeNodes = [](const Topology& t) {
    std::vector<std::string> keys;
    for (const Node& n : t.nodes_) keys.push_back(nodeKey(n));
    return keys;
  };
  auto describeLinks = [](const Topology& t) {
    std::vector<std::string> keys;
    for (const Link& l : t.links_) {
      std::string a = nodeKey(t.nodes_[l.a]), b = nodeKey(t.nodes_[l.b]);
      if (b < a) std::swap(a, b);
      keys.push_back(fmt::format("{} -- {} [{} {:.3f} GB/s {:.3f} us lanes {} gen {} x{}]", a, b,
                                 linkKindName(l.kind), l.bandwidthGBps, l.latencyUs, l.lanes,
                                 l.pciGen, l.pciWidth));
    }
    return keys;
  };
  auto compare = [&](std::vector<std::string> mine, std::vector<std::string> theirs, const char* what) {
    std::sort(mine.begin(), mine.end());
    std::sort(theirs.begin(), theirs.end());
    if (mine == theirs) return true;
    if (difference) {
      std::vector<std::string> onlyMine, onlyTheirs;
      std::set_difference(mine.begin(), mine.end(), theirs.begin(), theirs.end(), std::back_inserter(onlyMine));
      std::set_difference(theirs.begin(), theirs.end(), mine.begin(), mine.end(), std::back_inserter(onlyTheirs));
      *difference = fmt::format("{}: {} vs {}; first only in this: '{}'; first only in other: '{}'", what,
                                mine.size(), theirs.size(), onlyMine.empty() ? "" : onlyMine.front(),
                                onlyTheirs.empty() ? "" : onlyTheirs.front());
    }
    return false;
  };
  return compare(describeNodes(*this), describeNodes(other), "nodes") &&
         compare(describeLinks(*this), describeLinks(other), "links");
}

}  // namespace strata::topo
