// The topology model: one picture of a machine (or of several, for a communicator) that every
// source produces (live discovery, NCCL and hwloc XML files, presets) and that the planner, the
// cost model, transport choice and the simulator only read.
//
// A Topology is a graph: nodes are devices (CPU/NUMA domains, PCIe switches, GPUs, NVSwitches,
// NICs and their ports, network switches), links are undirected edges with a kind, a
// per-direction bandwidth and a latency. Paths between any two nodes are derived from it: the
// route of highest bottleneck bandwidth (fewest hops among equals), classified in the field's
// vocabulary (nvidia-smi topo -m: NV#, PIX, PXB, PHB, NODE, SYS; plus NVSwitch, via-GPU and
// network).
//
// Whole fabrics (100,000+ GPUs) are described parametrically by Fabric (fabric.h), not as one
// graph of every device.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace strata::topo {

using NodeId = uint32_t;
constexpr NodeId kNoNode = UINT32_MAX;

enum class NodeKind : uint8_t {
  Cpu,        // a CPU package's NUMA domain: the root of a PCIe tree
  PciSwitch,  // a PCIe switch or bridge
  Gpu,
  NvSwitch,
  Nic,        // a network adapter (one PCI function)
  NicPort,    // a port of a NIC, where the network link attaches
  NetSwitch,  // a network switch (leaf, spine, core)
};
const char* nodeKindName(NodeKind kind);

enum class LinkKind : uint8_t {
  NvLink,           // GPU-GPU or GPU-NVSwitch; `lanes` links bundled
  Pci,              // PCIe: `pciGen` and `pciWidth`
  CpuInterconnect,  // between CPU sockets / NUMA domains (xGMI, UPI)
  Net,              // a network cable: NIC port to switch, switch to switch
  C2C,              // chip-to-chip (Grace-Hopper)
};
const char* linkKindName(LinkKind kind);

struct Node {
  NodeKind kind = NodeKind::Cpu;
  uint32_t host = 0;         // which server of the topology this node belongs to
  int32_t index = -1;        // GPU device index, NIC index, NUMA id, port number, switch tier index
  std::string name{};        // "GPU0", "mlx5_0", "NUMA1", "port1", "leaf3"
  std::string busId{};       // PCI bus id "0000:07:00.0" where known
  // Kind-specific facts; 0 or empty when unknown.
  std::string model{};       // "H100", "ConnectX-7", "AMD EPYC 7V12"
  int gpuSm = 0;             // compute capability x 10 (90 for H100)
  uint64_t memoryBytes = 0;  // GPU memory, NUMA memory
  double speedGbps = 0;      // NIC port line rate, Gbit/s
  std::string linkLayer{};   // "InfiniBand", "Ethernet"
  uint64_t guid = 0;
  int rail = -1;             // NIC: which rail (leaf plane) its port is cabled to
  int tier = -1;             // NetSwitch: 0 leaf, 1 spine, 2 core
  int radix = 0;             // NetSwitch ports
  bool gpuDirect = false;    // NIC can read/write GPU memory directly (GPUDirect RDMA)
};

struct Link {
  NodeId a = kNoNode;
  NodeId b = kNoNode;
  LinkKind kind = LinkKind::Pci;
  double bandwidthGBps = 0;  // per direction, GB/s (1e9 B/s)
  double latencyUs = 0;
  int lanes = 1;             // NVLink links in the bundle
  int pciGen = 0;            // PCIe generation, 0 unknown
  int pciWidth = 0;          // PCIe lanes
};

// nvidia-smi's vocabulary, ordered from closest to farthest.
enum class PathType : uint8_t {
  Self,           // X: the node itself
  NvLink,         // NV#: direct NVLink (count = lanes)
  NvSwitch,       // NV#: through NVSwitch chips (count = lanes of the first hop)
  NvLinkViaGpu,   // NVB: NVLink through another GPU
  SamePciSwitch,  // PIX: at most one PCIe switch between
  PciSwitches,    // PXB: several PCIe switches, no host bridge
  HostBridge,     // PHB: through the PCIe host bridge of one CPU
  SameNuma,       // NODE: across host bridges inside one NUMA domain
  CrossSocket,    // SYS: across the CPU interconnect
  Network,        // NET: through a network switch (another host)
  None,           // no route
};
// Short code as nvidia-smi prints it ("X", "NV18", "PIX", ...); nvLanes for NV#.
std::string pathCode(PathType type, int nvLanes);
const char* pathTypeName(PathType type);

struct Path {
  PathType type = PathType::None;
  double bandwidthGBps = 0;  // bottleneck, per direction
  double latencyUs = 0;      // sum over links
  int hops = 0;
  int nvLanes = 0;           // for NV#: lanes of the first NVLink hop
  std::vector<NodeId> nodes; // from source to destination, both included
};

class Topology {
 public:
  NodeId addNode(Node node);
  void addLink(Link link);  // checks both ends exist and differ

  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<Link>& links() const { return links_; }
  const Node& node(NodeId id) const { return nodes_.at(id); }
  Node& node(NodeId id) { return nodes_.at(id); }
  // Links touching a node (indices into links()).
  const std::vector<uint32_t>& linksOf(NodeId id) const { return adjacency_.at(id); }
  NodeId otherEnd(uint32_t link, NodeId from) const;

  // Nodes of one kind in insertion order; of one host when host >= 0.
  std::vector<NodeId> nodesOf(NodeKind kind, int host = -1) const;
  std::optional<NodeId> findByName(const std::string& name) const;
  std::optional<NodeId> findByBusId(const std::string& busId) const;
  uint32_t hostCount() const;

  // The best route between two nodes (see the top of this file).
  Path path(NodeId from, NodeId to) const;
  // The NICs of highest path bandwidth (then closest type) from a GPU; empty if none.
  std::vector<NodeId> nearestNics(NodeId gpu) const;
  // The CPU (NUMA domain) a device hangs under, or kNoNode.
  NodeId cpuOf(NodeId device) const;

  // Where the picture came from ("hwloc", "file azure-ndv4-topo.xml", "preset dgx-h100"), and
  // what could not be learned ("NVML not found: NVLink unknown"): degraded, never fatal.
  std::string source;
  std::vector<std::string> notes;
  // The hwloc XML this topology was read or discovered from, kept so that writeHwlocXml can
  // write it back (the model alone lacks what hwloc XML holds); empty for other sources.
  std::string hwlocXml;

  // Same nodes (kind, host, index, name, busId and facts) and links, in any order.
  bool sameAs(const Topology& other, std::string* difference = nullptr) const;

 private:
  std::vector<Node> nodes_;
  std::vector<Link> links_;
  std::vector<std::vector<uint32_t>> adjacency_;
};

// Default per-direction bandwidths (GB/s) for links whose source gives only a generation or
// count, as NCCL models them.
double pciBandwidthGBps(int gen, int width);
double nvlinkBandwidthGBps(int smArch, int lanes);  // per direction, NVLink generation from SM
// The CPU interconnect (UPI, xGMI, ...) between two sockets, per direction, as NCCL models it
// from the architecture ("x86_64", "aarch64", "ppc64le"), vendor ("GenuineIntel",
// "AuthenticAMD") and, for Intel, family and model numbers (0: unknown).
double cpuInterconnectBandwidthGBps(const std::string& arch, const std::string& vendor, int family, int model);

}  // namespace strata::topo
