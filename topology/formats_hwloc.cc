// hwloc XML 2.x: read through hwloc itself (so every file hwloc accepts is accepted, and errors
// are hwloc's), converted by the same code as live discovery. Written back by re-exporting the
// hwloc topology a model came from: the model alone lacks most of what hwloc XML holds (caches,
// cores, cpusets), so only topologies that came from hwloc can be written.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "topology/formats.h"
#include "topology/hwloc_convert.h"

namespace strata::topo {
namespace detail {

std::string normalizeBusId(const std::string& busId) {
  unsigned domain = 0, bus = 0, device = 0, function = 0;
  char tail = 0;
  if (std::sscanf(busId.c_str(), "%x:%x:%x.%x%c", &domain, &bus, &device, &function, &tail) != 4)
    return busId;
  return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", domain, bus, device, function);
}

#ifdef STRATA_HAVE_HWLOC

namespace {

constexpr unsigned kVendorNvidia = 0x10de;
constexpr unsigned kVendorAmd = 0x1002;

// A bridge's upstream type, read as an integer: hwloc stores whatever number a file gives, which
// may be no valid enumerator (reading it as the enum would be undefined; found by fuzzing).
int bridgeUpstreamType(hwloc_obj_t bridge) {
  static_assert(sizeof(bridge->attr->bridge.upstream_type) == sizeof(int));
  int type = 0;
  std::memcpy(&type, &bridge->attr->bridge.upstream_type, sizeof(type));
  return type;
}

// PCI attributes of a PCI device, or of a bridge whose upstream side is PCI; null otherwise.
const hwloc_obj_attr_u::hwloc_pcidev_attr_s* pciAttr(hwloc_obj_t obj) {
  if (obj->type == HWLOC_OBJ_PCI_DEVICE) return &obj->attr->pcidev;
  if (obj->type == HWLOC_OBJ_BRIDGE && bridgeUpstreamType(obj) == HWLOC_OBJ_BRIDGE_PCI)
    return &obj->attr->bridge.upstream.pci;
  return nullptr;
}

std::string busIdOf(hwloc_obj_t pci) {
  const auto& a = *pciAttr(pci);
  return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", a.domain, a.bus, a.dev, a.func);
}

std::string infoOf(hwloc_obj_t obj, const char* name) {
  const char* value = obj ? hwloc_obj_get_info_by_name(obj, name) : nullptr;
  return value ? value : "";
}

bool isGpu(hwloc_obj_t pci) {
  const auto& a = pci->attr->pcidev;
  return (a.class_id == 0x0300 || a.class_id == 0x0302) &&
         (a.vendor_id == kVendorNvidia || a.vendor_id == kVendorAmd);
}

bool isNic(hwloc_obj_t pci) {
  const auto& a = pci->attr->pcidev;
  return a.class_id == 0x0200 || a.class_id == 0x0207;
}

bool isNvSwitch(hwloc_obj_t pci) {
  const auto& a = pci->attr->pcidev;
  // hwloc also tags them by subtype: the DGX-2 file has one whose config space read as class 0.
  return (a.class_id == 0x0680 && a.vendor_id == kVendorNvidia) ||
         (pci->subtype && std::strcmp(pci->subtype, "NVSwitch") == 0);
}

// hwloc gives a link's rate in GB/s (lanes x transfer rate x encoding); the model wants the
// generation and width too. Several pairs give one rate (Gen3 x16 = Gen4 x8 = Gen5 x4): the
// lowest generation with a standard width of at most 16 is taken, which is right for the x16
// links GPUs and NICs use.
void pciShapeFromGBps(double gbps, int& gen, int& width) {
  gen = width = 0;
  if (gbps <= 0) return;
  static const double perLane[] = {0, 0.25, 0.5, 8.0 * 128 / 130 / 8, 16.0 * 128 / 130 / 8,
                                   32.0 * 128 / 130 / 8, 64.0 * 242 / 256 / 8};
  for (int g = 1; g <= 6; ++g) {
    for (int w : {1, 2, 4, 8, 16}) {
      if (std::fabs(perLane[g] * w - gbps) <= 0.01 * gbps) {
        gen = g;
        width = w;
        return;
      }
    }
  }
}

double cpuInterconnectGBps(hwloc_obj_t package) {
  // hwloc names the architecture on the machine object; x86 is what its CPUVendor implies.
  hwloc_obj_t root = package;
  while (root && root->parent) root = root->parent;
  std::string arch = root ? infoOf(root, "Architecture") : "";
  return cpuInterconnectBandwidthGBps(arch.empty() ? "x86_64" : arch, infoOf(package, "CPUVendor"),
                                      std::atoi(infoOf(package, "CPUFamilyNumber").c_str()),
                                      std::atoi(infoOf(package, "CPUModelNumber").c_str()));
}

// hwloc's NVLinkBandwidth is links x per-link rate in MB/s, 20,000 per NVLink1 link and 25,000
// per link of NVLink 2, 3 and 4 (hwloc's NVML backend).
int nvlinkLanesFromMBps(uint64_t mbps) {
  if (mbps % 25000 == 0) return static_cast<int>(mbps / 25000);
  if (mbps % 20000 == 0) return static_cast<int>(mbps / 20000);
  return std::max(1, static_cast<int>(std::lround(mbps / 25000.0)));
}

class HwlocConverter {
 public:
  explicit HwlocConverter(hwloc_topology_t hw) : hw_(hw) {}

  Topology run() {
    addCpus();
    const std::set<hwloc_obj_t> nvlinkDevices = nvlinkMatrixDevices();
    std::vector<hwloc_obj_t> gpus, nics, nvswitches;
    for (hwloc_obj_t pci = nullptr; (pci = hwloc_get_next_pcidev(hw_, pci));) {
      if (isGpu(pci)) gpus.push_back(pci);
      else if (isNic(pci)) nics.push_back(pci);
      else if (isNvSwitch(pci) || nvlinkDevices.count(pci)) nvswitches.push_back(pci);
    }
    // Device indices follow PCI bus order, as NVML and CUDA_DEVICE_ORDER=PCI_BUS_ID number GPUs.
    auto byBus = [](hwloc_obj_t a, hwloc_obj_t b) { return busIdOf(a) < busIdOf(b); };
    for (auto* list : {&gpus, &nics, &nvswitches}) std::sort(list->begin(), list->end(), byBus);
    for (size_t i = 0; i < gpus.size(); ++i) addGpu(gpus[i], static_cast<int>(i));
    for (size_t i = 0; i < nics.size(); ++i) addNic(nics[i], static_cast<int>(i));
    for (size_t i = 0; i < nvswitches.size(); ++i) addNvSwitch(nvswitches[i], static_cast<int>(i));
    addNvlinks();
    return std::move(topo_);
  }

 private:
  // One model CPU per NUMA node. hwloc 2.x always has at least one NUMA node (a machine without
  // NUMA gets one covering everything), so packages never stand in for them here.
  void addCpus() {
    const int numaCount = hwloc_get_nbobjs_by_type(hw_, HWLOC_OBJ_NUMANODE);
    for (int i = 0; i < numaCount; ++i) {
      hwloc_obj_t numa = hwloc_get_obj_by_type(hw_, HWLOC_OBJ_NUMANODE, i);
      hwloc_obj_t package = packageOf(numa);
      Node node;
      node.kind = NodeKind::Cpu;
      node.index = static_cast<int32_t>(numa->os_index);
      node.name = fmt::format("NUMA{}", numa->os_index);
      node.model = infoOf(package, "CPUModel");
      node.memoryBytes = numa->attr->numanode.local_memory;
      const NodeId id = topo_.addNode(node);
      for (size_t j = 0; j < cpus_.size(); ++j) {
        Link link;
        link.a = cpus_[j].id;
        link.b = id;
        link.kind = LinkKind::CpuInterconnect;
        link.bandwidthGBps = cpuInterconnectGBps(package ? package : cpus_[j].package);
        topo_.addLink(link);
      }
      cpus_.push_back({numa, package, id});
    }
  }

  hwloc_obj_t packageOf(hwloc_obj_t numa) {
    if (hwloc_obj_t p = hwloc_get_ancestor_obj_by_type(hw_, HWLOC_OBJ_PACKAGE, numa)) return p;
    // A NUMA node attached above the packages (one node for the whole machine): the first
    // package that shares its CPUs.
    const int packages = hwloc_get_nbobjs_by_type(hw_, HWLOC_OBJ_PACKAGE);
    for (int i = 0; i < packages; ++i) {
      hwloc_obj_t p = hwloc_get_obj_by_type(hw_, HWLOC_OBJ_PACKAGE, i);
      if (numa->cpuset && p->cpuset && hwloc_bitmap_intersects(p->cpuset, numa->cpuset)) return p;
    }
    return nullptr;
  }

  // The CPU that an I/O subtree hangs under: the first NUMA node of its nearest normal ancestor.
  NodeId cpuFor(hwloc_obj_t obj) {
    hwloc_obj_t anchor = hwloc_get_non_io_ancestor_obj(hw_, obj);
    for (const CpuEntry& cpu : cpus_)
      if (anchor && anchor->nodeset && hwloc_bitmap_isincluded(cpu.numa->nodeset, anchor->nodeset))
        return cpu.id;
    return cpus_.empty() ? kNoNode : cpus_.front().id;
  }

  // The model node a device below `obj` attaches to. PCIe switches appear in hwloc as an
  // upstream-port bridge with one downstream-port bridge per port; the model wants one node
  // per switch chip. Bridge depth tells them apart: the host bridge is depth 0 and the CPU's
  // root port depth 1 (both part of the CPU); then upstream (even) and downstream (odd) ports
  // alternate, so an even-depth bridge starts a switch and an odd one belongs to its parent's.
  NodeId attachPoint(hwloc_obj_t obj) {
    if (!obj) return cpus_.empty() ? kNoNode : cpus_.front().id;
    if (obj->type != HWLOC_OBJ_BRIDGE) {
      if (hwloc_obj_type_is_io(obj->type)) return attachPoint(obj->parent);
      return cpuFor(obj);
    }
    const auto& bridge = obj->attr->bridge;
    const int upstreamType = bridgeUpstreamType(obj);
    if (upstreamType == HWLOC_OBJ_BRIDGE_HOST || bridge.depth <= 1) return cpuFor(obj);
    if (bridge.depth % 2 == 1) return attachPoint(obj->parent);
    if (auto it = switchOf_.find(obj); it != switchOf_.end()) return it->second;
    const NodeId parent = attachPoint(obj->parent);
    Node node;
    node.kind = NodeKind::PciSwitch;
    node.index = switchCount_++;
    node.name = fmt::format("PCIeSwitch{}", node.index);
    node.busId = upstreamType == HWLOC_OBJ_BRIDGE_PCI ? busIdOf(obj) : "";
    const NodeId id = topo_.addNode(node);
    switchOf_[obj] = id;
    if (parent != kNoNode) addPciLink(id, parent, obj);
    return id;
  }

  void addPciLink(NodeId child, NodeId parent, hwloc_obj_t childObj) {
    // A device's own link status describes its upstream link; when it reads 0 (virtual
    // machines, powered-down links) the port above it describes the same link.
    double gbps = pciAttr(childObj) ? pciAttr(childObj)->linkspeed : 0;
    if (gbps <= 0 && childObj->parent && pciAttr(childObj->parent))
      gbps = pciAttr(childObj->parent)->linkspeed;
    Link link;
    link.a = parent;
    link.b = child;
    link.kind = LinkKind::Pci;
    pciShapeFromGBps(gbps, link.pciGen, link.pciWidth);
    link.bandwidthGBps = gbps > 0 ? gbps : pciBandwidthGBps(0, 0);
    topo_.addLink(link);
  }

  NodeId addDevice(hwloc_obj_t pci, Node node) {
    node.busId = busIdOf(pci);
    const NodeId parent = attachPoint(pci->parent);
    const NodeId id = topo_.addNode(std::move(node));
    if (parent != kNoNode) addPciLink(id, parent, pci);
    nodeOf_[pci] = id;
    return id;
  }

  // OS devices below a PCI device, of one type.
  static std::vector<hwloc_obj_t> osDevices(hwloc_obj_t pci, hwloc_obj_osdev_type_e type) {
    std::vector<hwloc_obj_t> out;
    for (hwloc_obj_t child = pci->io_first_child; child; child = child->next_sibling)
      if (child->type == HWLOC_OBJ_OS_DEVICE && child->attr->osdev.type == type) out.push_back(child);
    return out;
  }

  void addGpu(hwloc_obj_t pci, int index) {
    Node node;
    node.kind = NodeKind::Gpu;
    node.index = index;
    node.name = fmt::format("GPU{}", index);
    // NVML, CUDA, RSMI or OpenCL backends, when hwloc has them, describe the GPU.
    for (hwloc_obj_t osdev = pci->io_first_child; osdev; osdev = osdev->next_sibling) {
      if (osdev->type != HWLOC_OBJ_OS_DEVICE) continue;
      if (node.model.empty()) node.model = infoOf(osdev, "GPUModel");
      if (node.memoryBytes == 0) {
        const std::string kib = infoOf(osdev, "CUDAGlobalMemorySize");
        if (!kib.empty()) node.memoryBytes = std::strtoull(kib.c_str(), nullptr, 10) * 1024;
      }
    }
    if (node.model.empty()) node.model = infoOf(pci, "PCIDevice");
    addDevice(pci, node);
  }

  void addNic(hwloc_obj_t pci, int index) {
    Node node;
    node.kind = NodeKind::Nic;
    node.index = index;
    // The RDMA device name when there is one ("mlx5_0", what NCCL and verbs call it), else the
    // network interface ("eth0").
    auto fabrics = osDevices(pci, HWLOC_OBJ_OSDEV_OPENFABRICS);
    auto netdevs = osDevices(pci, HWLOC_OBJ_OSDEV_NETWORK);
    if (!fabrics.empty()) {
      node.name = fabrics.front()->name;
      const std::string guid = infoOf(fabrics.front(), "NodeGUID");  // "0c42:a103:0065:1f2a"
      std::string hex;
      for (char c : guid)
        if (c != ':') hex += c;
      if (!hex.empty()) node.guid = std::strtoull(hex.c_str(), nullptr, 16);
    } else if (!netdevs.empty()) {
      node.name = netdevs.front()->name;
    } else {
      node.name = fmt::format("NIC{}", index);
    }
    node.model = infoOf(pci, "PCIDevice");
    addDevice(pci, node);
  }

  void addNvSwitch(hwloc_obj_t pci, int index) {
    Node node;
    node.kind = NodeKind::NvSwitch;
    node.index = index;
    node.name = fmt::format("NVSwitch{}", index);
    node.model = "NVSwitch";
    addDevice(pci, node);
  }

  // PCI devices named in NVLinkBandwidth matrices (GPUs appear as their OS devices).
  std::set<hwloc_obj_t> nvlinkMatrixDevices() {
    std::set<hwloc_obj_t> out;
    forEachNvlinkMatrix([&](hwloc_distances_s* m) {
      for (unsigned i = 0; i < m->nbobjs; ++i)
        if (hwloc_obj_t pci = pciOf(m->objs[i])) out.insert(pci);
    });
    return out;
  }

  template <typename Fn>
  void forEachNvlinkMatrix(Fn&& fn) {
    unsigned count = 0;
    if (hwloc_distances_get_by_name(hw_, "NVLinkBandwidth", &count, nullptr, 0) != 0 || count == 0) return;
    std::vector<hwloc_distances_s*> matrices(count);
    if (hwloc_distances_get_by_name(hw_, "NVLinkBandwidth", &count, matrices.data(), 0) != 0) return;
    for (unsigned i = 0; i < count; ++i) {
      fn(matrices[i]);
      hwloc_distances_release(hw_, matrices[i]);
    }
  }

  static hwloc_obj_t pciOf(hwloc_obj_t obj) {
    while (obj && obj->type == HWLOC_OBJ_OS_DEVICE) obj = obj->parent;
    return obj && obj->type == HWLOC_OBJ_PCI_DEVICE ? obj : nullptr;
  }

  void addNvlinks() {
    std::map<std::pair<NodeId, NodeId>, uint64_t> bundles;  // MB/s per pair, smaller id first
    forEachNvlinkMatrix([&](hwloc_distances_s* m) {
      for (unsigned i = 0; i < m->nbobjs; ++i) {
        for (unsigned j = i + 1; j < m->nbobjs; ++j) {
          const uint64_t mbps = std::max(m->values[i * m->nbobjs + j], m->values[j * m->nbobjs + i]);
          auto a = nodeOf_.find(pciOf(m->objs[i])), b = nodeOf_.find(pciOf(m->objs[j]));
          if (mbps == 0 || a == nodeOf_.end() || b == nodeOf_.end() || a->second == b->second) continue;
          bundles[std::minmax(a->second, b->second)] = mbps;
        }
      }
    });
    if (bundles.empty()) return;
    std::vector<NodeId> domain(topo_.nodes().size());
    std::iota(domain.begin(), domain.end(), 0);
    auto root = [&](NodeId n) {
      while (domain[n] != n) n = domain[n] = domain[domain[n]];
      return n;
    };
    for (const auto& [ends, mbps] : bundles) {
      Link link;
      link.a = ends.first;
      link.b = ends.second;
      link.kind = LinkKind::NvLink;
      link.bandwidthGBps = mbps / 1000.0;
      link.lanes = nvlinkLanesFromMBps(mbps);
      topo_.addLink(link);
      domain[root(ends.first)] = root(ends.second);
    }
    // Say so when the matrix leaves GPUs in separate NVLink domains (the DGX-2 file lists no
    // NVSwitch-to-NVSwitch links, so its two baseboards are joined only over PCIe here).
    std::set<NodeId> domains;
    const auto gpus = topo_.nodesOf(NodeKind::Gpu);
    for (NodeId gpu : gpus) domains.insert(root(gpu));
    if (gpus.size() > 1 && domains.size() > 1)
      topo_.notes.push_back(fmt::format(
          "hwloc's NVLinkBandwidth matrix joins the {} GPUs into {} separate NVLink domains",
          gpus.size(), domains.size()));
  }

  struct CpuEntry {
    hwloc_obj_t numa;
    hwloc_obj_t package;
    NodeId id;
  };

  hwloc_topology_t hw_;
  Topology topo_;
  std::vector<CpuEntry> cpus_;
  std::map<hwloc_obj_t, NodeId> switchOf_;  // upstream-port bridge -> PciSwitch node
  std::map<hwloc_obj_t, NodeId> nodeOf_;    // PCI device -> GPU, NIC or NVSwitch node
  int switchCount_ = 0;
};

}  // namespace

namespace {
// Kept in a global (not optimised away) so that LeakSanitizer sees it as reachable.
__attribute__((used)) hwloc_topology_t gResidentTopology = nullptr;
}  // namespace

void keepHwlocPluginsLoaded() {
  static const bool initialised = hwloc_topology_init(&gResidentTopology) == 0;
  (void)initialised;
}

namespace {

// Owns an hwloc topology for the length of a call.
struct HwlocHandle {
  hwloc_topology_t topology = nullptr;
  HwlocHandle() {
    keepHwlocPluginsLoaded();
    if (hwloc_topology_init(&topology) != 0) throw std::runtime_error("hwloc_topology_init failed");
  }
  ~HwlocHandle() { hwloc_topology_destroy(topology); }
  HwlocHandle(const HwlocHandle&) = delete;
  HwlocHandle& operator=(const HwlocHandle&) = delete;
};

}  // namespace

void configureHwlocFilters(hwloc_topology_t topology) {
  // The GL and OpenCL plugins (libhwloc-plugins) add displays and OpenCL devices, which the model
  // does not use; the GL one opens X displays :0, :1 ... and, where no /etc/hosts says what
  // "localhost" is (a fresh chroot), waits 5 s on DNS for each: 15 s per rank at init.
  hwloc_topology_set_components(topology, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "gl");
  hwloc_topology_set_components(topology, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "opencl");
  hwloc_topology_set_io_types_filter(topology, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  hwloc_topology_set_type_filter(topology, HWLOC_OBJ_PCI_DEVICE, HWLOC_TYPE_FILTER_KEEP_ALL);
}

Topology fromHwloc(hwloc_topology_t topology) { return HwlocConverter(topology).run(); }

std::string exportHwlocXml(hwloc_topology_t topology) {
  char* buffer = nullptr;
  int length = 0;
  if (hwloc_topology_export_xmlbuffer(topology, &buffer, &length, 0) != 0)
    throw std::runtime_error(fmt::format("hwloc could not export XML: {}", std::strerror(errno)));
  std::string xml(buffer, length > 0 ? static_cast<size_t>(length - 1) : 0);  // length counts the NUL
  hwloc_free_xmlbuffer(topology, buffer);
  return xml;
}

#endif  // STRATA_HAVE_HWLOC

}  // namespace detail

#ifdef STRATA_HAVE_HWLOC

namespace {

// The name of the root element, skipping the prolog (declaration, doctype, comments); empty
// when there is none.
std::string rootElement(std::string_view xml) {
  size_t at = 0;
  if (xml.substr(0, 3) == "\xEF\xBB\xBF") at = 3;  // UTF-8 byte order mark
  while (true) {
    at = xml.find('<', at);
    if (at == std::string_view::npos || at + 1 >= xml.size()) return "";
    const char next = xml[at + 1];
    if (next == '?' || next == '!') {
      const std::string_view close = xml.substr(at, 4) == "<!--" ? "-->" : ">";
      at = xml.find(close, at);
      if (at == std::string_view::npos) return "";
      continue;
    }
    size_t end = at + 1;
    while (end < xml.size() && !std::isspace(static_cast<unsigned char>(xml[end])) && xml[end] != '>' && xml[end] != '/')
      ++end;
    return std::string(xml.substr(at + 1, end - at - 1));
  }
}

// Loads XML text into a fresh hwloc topology configured like live discovery. hwloc reports
// only errno (its reasons go to stderr under HWLOC_XML_VERBOSE=1), so the commonest mistakes
// are named here first.
// libhwloc 2.9 trusts parts of its XML and crashes on some malformed files (found by
// fuzzing: a NUMANode without complete_nodeset dereferences NULL). So the structure hwloc relies
// on is checked first, with the line of what is wrong.
void checkHwlocStructure(const std::string& xml, const std::string& name) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size());
  auto lineOf = [&](ptrdiff_t offset) {
    return 1 + static_cast<int>(std::count(xml.begin(), xml.begin() + std::min<ptrdiff_t>(offset, xml.size()), '\n'));
  };
  if (!parsed) throw TopologyFileError(name, lineOf(parsed.offset), fmt::format("malformed XML: {}", parsed.description()));
  // Non-recursive walk: files may nest deeply.
  std::vector<pugi::xml_node> stack{doc.document_element()};
  while (!stack.empty()) {
    pugi::xml_node n = stack.back();
    stack.pop_back();
    for (pugi::xml_node c : n.children()) stack.push_back(c);
    if (std::strcmp(n.name(), "object") != 0) continue;
    const std::string type = n.attribute("type").value();
    const bool io = type == "Bridge" || type == "PCIDev" || type == "OSDev" || type == "Misc";
    if (type.empty()) throw TopologyFileError(name, lineOf(n.offset_debug()), "<object> without a type");
    if (io) continue;
    for (const char* set : {"cpuset", "complete_cpuset", "nodeset", "complete_nodeset"}) {
      const char* v = n.attribute(set).value();
      if (!*v)
        throw TopologyFileError(name, lineOf(n.offset_debug()), fmt::format("{} object without {}", type, set));
      for (const char* c = v; *c; ++c)
        if (!std::isxdigit(static_cast<unsigned char>(*c)) && *c != 'x' && *c != ',' && *c != 'f' && *c != '-')
          throw TopologyFileError(name, lineOf(n.offset_debug()), fmt::format("{} of {} is not a bitmap", set, type));
    }
  }
}

void loadXml(hwloc_topology_t topology, const std::string& xml, const std::string& name) {
  const std::string root = rootElement(xml);
  if (root.empty()) throw TopologyFileError(name, 0, "no XML element found: not an hwloc XML file");
  if (root != "topology")
    throw TopologyFileError(name, 0, fmt::format("root element is <{}>, not <topology>: not an hwloc XML file{}", root,
                                                 root == "system" ? " (it looks like NCCL topology XML)" : ""));
  checkHwlocStructure(xml, name);
  detail::configureHwlocFilters(topology);
  const std::string hint = "; HWLOC_XML_VERBOSE=1 makes hwloc print why";
  errno = 0;
  // hwloc wants the size including the terminating NUL.
  if (hwloc_topology_set_xmlbuffer(topology, xml.c_str(), static_cast<int>(xml.size() + 1)) != 0)
    throw TopologyFileError(name, 0, fmt::format("hwloc rejected the XML ({}){}", std::strerror(errno), hint));
  if (hwloc_topology_load(topology) != 0)
    throw TopologyFileError(name, 0, fmt::format("hwloc could not load the XML ({}){}", std::strerror(errno), hint));
}

}  // namespace

Topology readHwlocXml(std::string_view text, const std::string& name) {
  if (text.size() > static_cast<size_t>(INT32_MAX) - 1)
    throw TopologyFileError(name, 0, "file too large for hwloc");
  const std::string xml(text);
  detail::HwlocHandle hw;
  loadXml(hw.topology, xml, name);
  Topology topology = detail::fromHwloc(hw.topology);
  topology.source = fmt::format("hwloc XML {}", name);
  topology.hwlocXml = xml;
  return topology;
}

std::string writeHwlocXml(const Topology& topology) {
  if (topology.hwlocXml.empty())
    throw TopologyFileError("<model>", 0, "hwloc XML can only be written for topologies that came from hwloc");
  // Re-exported through hwloc rather than copied, so the output is what this hwloc writes (and
  // reads back) even when the source was an older XML dialect.
  detail::HwlocHandle hw;
  loadXml(hw.topology, topology.hwlocXml, "<model>");
  return detail::exportHwlocXml(hw.topology);
}

#else  // !STRATA_HAVE_HWLOC

Topology readHwlocXml(std::string_view, const std::string& name) {
  throw TopologyFileError(name, 0, "Strata was built without hwloc: hwloc XML cannot be read");
}

std::string writeHwlocXml(const Topology&) {
  throw TopologyFileError("<model>", 0, "Strata was built without hwloc: hwloc XML cannot be written");
}

#endif

}  // namespace strata::topo
