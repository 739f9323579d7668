// Live discovery: hwloc for the tree, NVML (dlopen'ed, so that Strata runs on machines without
// the NVIDIA driver) for NVLink, libibverbs for NIC ports. Each missing piece leaves a note.
#include "topology/discovery.h"

#include <dlfcn.h>
#include <endian.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <map>
#include <optional>
#include <type_traits>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "gpu/inventory.h"
#include "topology/formats.h"
#include "topology/hwloc_convert.h"

#ifdef STRATA_HAVE_VERBS
#include <infiniband/verbs.h>
#endif

namespace strata::topo {
namespace {

// ---- hwloc ------------------------------------------------------------------------------

Topology discoverTree() {
#ifdef STRATA_HAVE_HWLOC
  hwloc_topology_t hw = nullptr;
  detail::keepHwlocPluginsLoaded();
  if (hwloc_topology_init(&hw) == 0) {
    detail::configureHwlocFilters(hw);
    if (hwloc_topology_load(hw) == 0) {
      Topology topology = detail::fromHwloc(hw);
      try {
        topology.hwlocXml = detail::exportHwlocXml(hw);
      } catch (const std::exception& e) {
        topology.notes.push_back(fmt::format("{}: writeHwlocXml unavailable", e.what()));
      }
      hwloc_topology_destroy(hw);
      topology.source = "hwloc (live)";
      return topology;
    }
    hwloc_topology_destroy(hw);
  }
  const std::string why = fmt::format("hwloc failed to load the machine ({})", std::strerror(errno));
#else
  const std::string why = "built without hwloc";
#endif
  // One CPU, so that devices found later still have a root.
  Topology topology;
  Node cpu;
  cpu.kind = NodeKind::Cpu;
  cpu.index = 0;
  cpu.name = "NUMA0";
  topology.addNode(cpu);
  topology.source = "fallback (no hwloc)";
  topology.notes.push_back(why + ": CPU, NUMA and PCIe tree unknown");
  return topology;
}

// ---- NVML -------------------------------------------------------------------------------
// The NVML C ABI is stable; these few declarations mirror nvml.h so that building needs no CUDA.

using NvmlReturn = int;  // nvmlReturn_t: 0 is NVML_SUCCESS
constexpr NvmlReturn kNvmlSuccess = 0;
using NvmlDevice = struct NvmlDeviceOpaque*;
struct NvmlPciInfo {  // nvmlPciInfo_t, as nvmlDeviceGetPciInfo_v3 and ..RemotePciInfo_v2 fill it
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];
};
constexpr int kNvmlFeatureEnabled = 1;          // nvmlEnableState_t
constexpr int kNvlinkRemoteGpu = 0;             // nvmlIntNvLinkDeviceType_t
constexpr int kNvlinkRemoteIbmNpu = 1;
constexpr int kNvlinkRemoteSwitch = 2;
constexpr unsigned kNvmlMaxNvlinks = 18;        // NVML_NVLINK_MAX_LINKS (H100: 18)

struct Nvml {
  void* library = nullptr;
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*getCount)(unsigned*) = nullptr;
  NvmlReturn (*getHandle)(unsigned, NvmlDevice*) = nullptr;
  NvmlReturn (*getPciInfo)(NvmlDevice, NvmlPciInfo*) = nullptr;
  NvmlReturn (*getNvLinkState)(NvmlDevice, unsigned, int*) = nullptr;
  NvmlReturn (*getNvLinkRemotePciInfo)(NvmlDevice, unsigned, NvmlPciInfo*) = nullptr;
  NvmlReturn (*getNvLinkRemoteDeviceType)(NvmlDevice, unsigned, int*) = nullptr;  // optional
  NvmlReturn (*getComputeCapability)(NvmlDevice, int*, int*) = nullptr;
  NvmlReturn (*getName)(NvmlDevice, char*, unsigned) = nullptr;                   // optional

  // Loads the library; returns what is missing, or an empty string.
  std::string load() {
    library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) return "NVML not found: NVLink topology unknown";
    auto bind = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(library, name));
      return fn != nullptr;
    };
    bind(getNvLinkRemoteDeviceType, "nvmlDeviceGetNvLinkRemoteDeviceType");
    bind(getName, "nvmlDeviceGetName");
    const bool complete = bind(init, "nvmlInit_v2") && bind(shutdown, "nvmlShutdown") &&
                          bind(getCount, "nvmlDeviceGetCount_v2") &&
                          bind(getHandle, "nvmlDeviceGetHandleByIndex_v2") &&
                          bind(getPciInfo, "nvmlDeviceGetPciInfo_v3") &&
                          bind(getNvLinkState, "nvmlDeviceGetNvLinkState") &&
                          bind(getNvLinkRemotePciInfo, "nvmlDeviceGetNvLinkRemotePciInfo_v2") &&
                          bind(getComputeCapability, "nvmlDeviceGetCudaComputeCapability");
    if (!complete) return "NVML too old (missing entry points): NVLink topology unknown";
    if (NvmlReturn rc = init(); rc != kNvmlSuccess)
      return fmt::format("NVML failed to initialize (error {}): NVLink topology unknown", rc);
    return "";
  }
  // The library stays loaded: NVML registers handlers that must not outlive it.
};

// PCI class of a device from sysfs (0x0680 for an NVSwitch), for drivers too old to name the
// remote end of an NVLink; 0 when unknown.
unsigned sysfsPciClass(const std::string& busId) {
  std::ifstream file("/sys/bus/pci/devices/" + busId + "/class");
  std::string text;
  if (!(file >> text)) return 0;
  return static_cast<unsigned>(std::strtoul(text.c_str(), nullptr, 16) >> 8);
}

NodeId addLooseNode(Topology& topology, NodeKind kind, const std::string& busId) {
  Node node;
  node.kind = kind;
  node.index = static_cast<int32_t>(topology.nodesOf(kind).size());
  node.name = fmt::format("{}{}", kind == NodeKind::Gpu ? "GPU" : "NVSwitch", node.index);
  node.busId = busId;
  if (kind == NodeKind::NvSwitch) node.model = "NVSwitch";
  return topology.addNode(node);
}

void addNvml(Topology& topology) {
  Nvml nvml;
  if (std::string missing = nvml.load(); !missing.empty()) {
    topology.notes.push_back(missing);
    return;
  }
  unsigned count = 0;
  if (nvml.getCount(&count) != kNvmlSuccess) count = 0;
  // hwloc's NVML backend may already have given NVLinks (NVLinkBandwidth); then NVML only adds
  // the facts hwloc lacks, so that the links are not counted twice.
  bool haveNvlinks = false;
  for (const Link& link : topology.links()) haveNvlinks |= link.kind == LinkKind::NvLink;

  std::map<std::pair<NodeId, NodeId>, int> lanes;  // (GPU, remote) -> links seen from the GPU
  for (unsigned i = 0; i < count; ++i) {
    NvmlDevice device = nullptr;
    NvmlPciInfo pci{};
    if (nvml.getHandle(i, &device) != kNvmlSuccess || nvml.getPciInfo(device, &pci) != kNvmlSuccess)
      continue;
    const std::string busId = detail::normalizeBusId(pci.busId);
    NodeId gpu = topology.findByBusId(busId).value_or(kNoNode);
    if (gpu == kNoNode) {
      gpu = addLooseNode(topology, NodeKind::Gpu, busId);
      topology.notes.push_back(fmt::format("GPU {} seen by NVML but not in hwloc's PCIe tree", busId));
    }
    int major = 0, minor = 0;
    if (nvml.getComputeCapability(device, &major, &minor) == kNvmlSuccess)
      topology.node(gpu).gpuSm = major * 10 + minor;
    char name[96] = {};
    if (topology.node(gpu).model.empty() && nvml.getName && nvml.getName(device, name, sizeof name) == kNvmlSuccess)
      topology.node(gpu).model = name;
    if (haveNvlinks) continue;
    for (unsigned link = 0; link < kNvmlMaxNvlinks; ++link) {
      int active = 0;
      NvmlPciInfo remote{};
      // Links past the GPU's count answer "not supported" or "invalid argument": skip them.
      if (nvml.getNvLinkState(device, link, &active) != kNvmlSuccess || active != kNvmlFeatureEnabled) continue;
      if (nvml.getNvLinkRemotePciInfo(device, link, &remote) != kNvmlSuccess) continue;
      const std::string remoteBus = detail::normalizeBusId(remote.busId);
      int remoteType = -1;
      if (!nvml.getNvLinkRemoteDeviceType || nvml.getNvLinkRemoteDeviceType(device, link, &remoteType) != kNvmlSuccess) {
        auto known = topology.findByBusId(remoteBus);
        if (known && topology.node(*known).kind == NodeKind::Gpu) remoteType = kNvlinkRemoteGpu;
        else if (known && topology.node(*known).kind == NodeKind::NvSwitch) remoteType = kNvlinkRemoteSwitch;
        else if (sysfsPciClass(remoteBus) == 0x0680) remoteType = kNvlinkRemoteSwitch;
      }
      if (remoteType == kNvlinkRemoteIbmNpu || remoteType < 0) {
        topology.notes.push_back(fmt::format("NVLink {} of GPU {} goes to {} ({}), not modelled", link,
                                             busId, remoteBus, remoteType < 0 ? "unknown device" : "an IBM CPU"));
        continue;
      }
      NodeId peer = topology.findByBusId(remoteBus).value_or(kNoNode);
      if (peer == kNoNode)
        peer = addLooseNode(topology, remoteType == kNvlinkRemoteSwitch ? NodeKind::NvSwitch : NodeKind::Gpu, remoteBus);
      if (peer != gpu) ++lanes[{gpu, peer}];
    }
  }
  nvml.shutdown();

  for (const auto& [ends, count] : lanes) {
    const auto [from, to] = ends;
    // GPU pairs are seen from both ends: add the bundle once, from the smaller id.
    if (topology.node(to).kind == NodeKind::Gpu && to < from && lanes.count({to, from})) continue;
    const int bundle = topology.node(to).kind == NodeKind::Gpu && lanes.count({to, from})
                           ? std::max(count, lanes.at({to, from}))
                           : count;
    Link link;
    link.a = from;
    link.b = to;
    link.kind = LinkKind::NvLink;
    link.lanes = bundle;
    link.bandwidthGBps = nvlinkBandwidthGBps(topology.node(from).gpuSm, bundle);
    topology.addLink(link);
  }
}

// ---- verbs ------------------------------------------------------------------------------

#ifdef STRATA_HAVE_VERBS
// Line rate of a port from its active width and per-lane speed codes (ibv_port_attr). XDR is
// only in active_speed_ex, which Debian 12's rdma-core does not have yet.
double portGbps(uint8_t width, uint8_t speed) {
  int lanes = 0;
  switch (width) {
    case 1: lanes = 1; break;
    case 2: lanes = 4; break;
    case 4: lanes = 8; break;
    case 8: lanes = 12; break;
    case 16: lanes = 2; break;
  }
  double perLane = 0;
  switch (speed) {
    case 1: perLane = 2.5; break;     // SDR
    case 2: perLane = 5; break;       // DDR
    case 4: perLane = 10; break;      // QDR
    case 8: perLane = 10; break;      // FDR10
    case 16: perLane = 14; break;     // FDR
    case 32: perLane = 25; break;     // EDR
    case 64: perLane = 50; break;     // HDR
    case 128: perLane = 100; break;   // NDR
  }
  return lanes * perLane;
}

std::string busIdOfVerbsDevice(ibv_device* device) {
  char resolved[PATH_MAX];
  const std::string link = std::string(device->ibdev_path) + "/device";
  if (!realpath(link.c_str(), resolved)) return "";
  const char* base = std::strrchr(resolved, '/');
  return detail::normalizeBusId(base ? base + 1 : resolved);
}
#endif

void addVerbs(Topology& topology) {
#ifdef STRATA_HAVE_VERBS
  int count = 0;
  errno = 0;
  ibv_device** devices = ibv_get_device_list(&count);
  if (!devices || count == 0) {
    topology.notes.push_back(fmt::format("verbs: no RDMA devices ({}): NIC ports unknown",
                                         devices ? "none listed" : std::strerror(errno)));
    if (devices) ibv_free_device_list(devices);
    return;
  }
  for (int d = 0; d < count; ++d) {
    ibv_device* device = devices[d];
    const std::string name = ibv_get_device_name(device);
    std::optional<NodeId> nic = topology.findByName(name);
    if (!nic || topology.node(*nic).kind != NodeKind::Nic) nic = topology.findByBusId(busIdOfVerbsDevice(device));
    if (!nic || topology.node(*nic).kind != NodeKind::Nic) {
      Node node;
      node.kind = NodeKind::Nic;
      node.index = static_cast<int32_t>(topology.nodesOf(NodeKind::Nic).size());
      node.name = name;
      node.busId = busIdOfVerbsDevice(device);
      nic = topology.addNode(node);
      topology.notes.push_back(fmt::format("RDMA device {} is not in hwloc's PCIe tree", name));
    }
    ibv_context* context = ibv_open_device(device);
    ibv_device_attr attr{};
    if (!context || ibv_query_device(context, &attr) != 0) {
      topology.notes.push_back(fmt::format("verbs: cannot query {}: ports unknown", name));
      if (context) ibv_close_device(context);
      continue;
    }
    const uint64_t guid = be64toh(ibv_get_device_guid(device));
    topology.node(*nic).guid = guid;
    for (uint8_t p = 1; p <= attr.phys_port_cnt; ++p) {
      ibv_port_attr port{};
      if (ibv_query_port(context, p, &port) != 0) continue;
      Node node;
      node.kind = NodeKind::NicPort;
      node.index = p;
      node.name = fmt::format("{}:{}", name, p);  // as NCCL_IB_HCA and UCX_NET_DEVICES spell it
      node.linkLayer = port.link_layer == IBV_LINK_LAYER_ETHERNET ? "Ethernet" : "InfiniBand";
      node.speedGbps = portGbps(port.active_width, port.active_speed);
      node.guid = guid;
      node.host = topology.node(*nic).host;
      const NodeId id = topology.addNode(node);
      Node& owner = topology.node(*nic);
      owner.speedGbps = std::max(owner.speedGbps, node.speedGbps);
      if (owner.linkLayer.empty()) owner.linkLayer = node.linkLayer;
      // The port's wire limits what leaves through it.
      Link link;
      link.a = *nic;
      link.b = id;
      link.kind = LinkKind::Net;
      link.bandwidthGBps = node.speedGbps / 8;
      topology.addLink(link);
    }
    ibv_close_device(context);
  }
  ibv_free_device_list(devices);
#else
  topology.notes.push_back("built without libibverbs: NIC ports unknown");
#endif
}

// GPUDirect RDMA needs the NVIDIA peer-memory module (what NCCL checks too).
void markGpuDirect(Topology& topology) {
  if (topology.nodesOf(NodeKind::Gpu).empty()) return;
  const bool peerMemory = access("/sys/kernel/mm/memory_peers/nv_mem/version", F_OK) == 0 ||
                          access("/sys/module/nvidia_peermem/version", F_OK) == 0;
  if (!peerMemory) {
    topology.notes.push_back("nvidia-peermem not loaded: no GPUDirect RDMA");
    return;
  }
  for (NodeId nic : topology.nodesOf(NodeKind::Nic)) topology.node(nic).gpuDirect = true;
}

}  // namespace

void mergeCudaInventory(Topology& topology, const gpu::Inventory& inventory) {
  if (inventory.devices.empty()) {
    topology.notes.push_back(fmt::format("CUDA lists no GPUs ({})", inventory.noDeviceReason));
    return;
  }
  for (const gpu::DeviceInfo& device : inventory.devices) {
    const std::string busId = detail::normalizeBusId(device.pciBusId);
    NodeId gpu = topology.findByBusId(busId).value_or(kNoNode);
    if (gpu == kNoNode) {
      gpu = addLooseNode(topology, NodeKind::Gpu, busId);
      topology.notes.push_back(fmt::format("CUDA device {} ({}) is not in the PCIe tree", device.ordinal, busId));
    }
    Node& node = topology.node(gpu);
    if (node.gpuSm == 0) node.gpuSm = device.sm;
    if (node.memoryBytes == 0) node.memoryBytes = device.memoryBytes;
    if (node.model.empty()) node.model = device.name;
  }
}

Topology discoverLocal() {
  if (const char* file = std::getenv("STRATA_TOPO_FILE"); file && *file) {
    Topology topology = loadTopologyFile(file);
    topology.notes.push_back(fmt::format("STRATA_TOPO_FILE={} replaces live discovery", file));
    return topology;
  }
  Topology topology = discoverTree();
  addNvml(topology);
  mergeCudaInventory(topology, gpu::takeInventory());
  addVerbs(topology);
  markGpuDirect(topology);
  return topology;
}

}  // namespace strata::topo
