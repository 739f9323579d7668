// NCCL's topology XML (NCCL_TOPO_FILE, NCCL_TOPO_DUMP_FILE) read into the model and written
// from it. NCCL publishes no schema; the shape followed here is what NCCL's own dumps and the
// published cloud files use:
//
//   <system version="1">
//     <cpu numaid affinity arch vendor familyid modelid>
//       <pci busid class link_speed link_width ...>          a bridge / PCIe switch: has <pci>s
//         <pci busid class ...> <gpu dev sm gdr> <nvlink target count tclass/> <c2c/> </gpu> </pci>
//         <pci busid class ...> <nic> <net name dev speed port latency guid gdr .../> </nic> </pci>
//         <pci busid class="0x030200"/>                       a GPU or NIC known only by class
//       </pci>
//       <nic> <net .../> </nic>                                a NIC with no PCI element
//     </cpu>
//   </system>
//
// Facts the model has no field for (CPU affinity, PCI vendor/device ids, NCCL ranks, net
// maxconn/coll) are not kept, so they are not written back either.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <pugixml.hpp>

#include "topology/formats.h"

namespace strata::topo {
namespace {

// PCI classes (class << 8 | prog-if, as NCCL writes them) that decide what a device is.
constexpr uint32_t kClassBridge = 0x0604;      // PCI-to-PCI bridge: a PCIe switch port
constexpr uint32_t kClassVga = 0x0300;         // display controller
constexpr uint32_t kClass3d = 0x0302;          // 3D controller (datacenter GPUs)
constexpr uint32_t kClassEthernet = 0x0200;
constexpr uint32_t kClassInfiniBand = 0x0207;
constexpr uint32_t kTclassNvSwitch = 0x068000;  // an <nvlink> to an NVSwitch
constexpr uint32_t kTclassNvLinkCpu = 0x068001; // an <nvlink> to the CPU (IBM POWER NPU)

// Limits that keep hostile input cheap; real machines are far below them (NCCL itself holds at
// most 256 nodes of a kind).
constexpr int kMaxPciDepth = 64;
constexpr size_t kMaxCpus = 256;

// Input text for a message: cut short so a megabyte attribute stays readable, control bytes
// replaced so binary input stays printable.
std::string clipped(std::string_view value) {
  constexpr size_t kMax = 40;
  std::string out;
  for (char c : value.substr(0, kMax)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (value.size() > kMax) out += "...";
  return out;
}

std::string quoted(std::string_view value) { return "'" + clipped(value) + "'"; }

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool isHexDigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// "dddd:bb:dd.f" (the domain may have 1 to 8 digits), lowercased; nullopt when not a bus id.
std::optional<std::string> normalizedBusId(std::string_view text) {
  text = trimmed(text);
  const size_t colon1 = text.find(':');
  if (colon1 == std::string_view::npos || colon1 == 0 || colon1 > 8) return std::nullopt;
  const std::string_view rest = text.substr(colon1);
  if (rest.size() != 8 || rest[0] != ':' || rest[3] != ':' || rest[6] != '.') return std::nullopt;
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool separator = i == colon1 || i == colon1 + 3 || i == colon1 + 6;
    if (!separator && !isHexDigit(c)) return std::nullopt;
    out += (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

int pciGenFromSpeed(std::string_view speed) {
  // "16 GT/s" (Linux >= 5.7) or "16.0 GT/s PCIe" (older kernels): the number decides.
  speed = trimmed(speed);
  double gts = 0;
  auto [end, ec] = std::from_chars(speed.data(), speed.data() + speed.size(), gts);
  if (ec != std::errc() || end == speed.data()) return 0;
  const std::string_view unit = trimmed(std::string_view(end, speed.data() + speed.size() - end));
  if (unit != "GT/s" && unit != "GT/s PCIe") return 0;
  static const std::pair<double, int> kGens[] = {{2.5, 1}, {5, 2}, {8, 3}, {16, 4}, {32, 5}, {64, 6}};
  for (auto [rate, gen] : kGens)
    if (gts == rate) return gen;
  return 0;
}

const char* pciSpeedText(int gen) {
  static const char* const kSpeeds[] = {"", "2.5 GT/s", "5 GT/s", "8 GT/s", "16 GT/s", "32 GT/s", "64 GT/s"};
  return gen >= 1 && gen <= 6 ? kSpeeds[gen] : "";
}

// The arch and vendor strings NCCL writes (from uname and cpuid); the model keeps only these, so
// that the writer can take "x86_64 AuthenticAMD family 23 model 49" apart again.
const std::set<std::string, std::less<>>& knownCpuArchs() {
  static const std::set<std::string, std::less<>> archs = {"x86_64", "arm64", "aarch64", "ppc64", "ppc64le", "riscv64"};
  return archs;
}
const std::set<std::string, std::less<>>& knownCpuVendors() {
  static const std::set<std::string, std::less<>> vendors = {"GenuineIntel", "AuthenticAMD", "CentaurHauls", "Shanghai",
                                                             "HygonGenuine"};
  return vendors;
}

std::string cpuModelText(const std::string& arch, const std::string& vendor, std::optional<int64_t> family,
                         std::optional<int64_t> model) {
  std::string out = arch;
  auto append = [&](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
  if (!vendor.empty()) append(vendor);
  if (family) append(fmt::format("family {}", *family));
  if (model) append(fmt::format("model {}", *model));
  return out;
}

// ---- Reading --------------------------------------------------------------------------------

class NcclReader {
 public:
  NcclReader(std::string_view text, const std::string& name) : text_(text), name_(name) {
    for (size_t i = 0; i < text_.size(); ++i)
      if (text_[i] == '\n') newlines_.push_back(i);
  }

  Topology read() {
    if (trimmed(text_).empty()) throw TopologyFileError(name_, 0, "empty file: no XML document");
    pugi::xml_document doc;
    // Forced UTF-8 keeps pugixml's offsets equal to offsets in `text_`, for line numbers.
    const pugi::xml_parse_result parsed = doc.load_buffer(text_.data(), text_.size(), pugi::parse_default, pugi::encoding_utf8);
    if (!parsed)
      throw TopologyFileError(name_, lineAt(parsed.offset), fmt::format("XML parse error: {}", parsed.description()));
    const pugi::xml_node root = doc.document_element();
    if (!root) throw TopologyFileError(name_, 0, "no root element");
    if (std::string_view(root.name()) != "system")
      fail(root, fmt::format("root element is <{}>, expected <system> (NCCL topology XML)", clipped(root.name())));
    for (pugi::xml_node extra = root.next_sibling(); extra; extra = extra.next_sibling())
      if (extra.type() == pugi::node_element)
        fail(extra, fmt::format("second root element <{}> after <system>", clipped(extra.name())));
    const int64_t version = requiredInt(root, "version", 0, INT32_MAX);
    if (version != 1) fail(root, fmt::format("unsupported <system> version {} (NCCL topology XML is version 1)", version));

    for (pugi::xml_node child : root.children()) {
      if (child.type() != pugi::node_element) continue;
      const std::string_view tag = child.name();
      if (tag == "cpu") readCpu(child);
      else if (tag == "pci") fail(child, "<pci> outside any <cpu>: every device must hang from a CPU");
      else if (tag == "gpu") fail(child, "<gpu> outside any <cpu>: a GPU must be inside a <pci> inside a <cpu>");
      else if (tag == "nic") fail(child, "<nic> outside any <cpu>");
      else ignored(child);
    }
    connectCpus();
    resolveNvLinks();
    numberClassOnlyDevices();
    finishNotes();
    return std::move(topo_);
  }

 private:
  struct CpuInfo {
    NodeId node;
    double interconnectGBps;
  };
  struct PendingNvLink {
    NodeId gpu;
    int sm;
    std::string target;  // normalized bus id
    std::optional<uint32_t> tclass;
    int count;
    pugi::xml_node at;
  };

  int lineAt(ptrdiff_t offset) const {
    if (offset < 0) return 0;
    const size_t at = std::min(static_cast<size_t>(offset), text_.size());
    return static_cast<int>(std::lower_bound(newlines_.begin(), newlines_.end(), at) - newlines_.begin()) + 1;
  }
  int lineOf(pugi::xml_node node) const { return lineAt(node.offset_debug()); }

  [[noreturn]] void fail(pugi::xml_node at, const std::string& what) const {
    throw TopologyFileError(name_, lineOf(at), what);
  }

  void ignored(pugi::xml_node element) { ++ignoredElements_[std::string(element.name()).substr(0, 40)]; }

  // ---- Attributes: checked parsing, never a fixed-size buffer ----

  std::optional<std::string_view> attr(pugi::xml_node node, const char* key) const {
    const pugi::xml_attribute a = node.attribute(key);
    if (!a) return std::nullopt;
    return std::string_view(a.value());
  }

  std::string_view requiredAttr(pugi::xml_node node, const char* key) const {
    auto value = attr(node, key);
    if (!value) fail(node, fmt::format("<{}> is missing required attribute '{}'", node.name(), key));
    return *value;
  }

  int64_t toInt(pugi::xml_node node, const char* key, std::string_view text, int64_t min, int64_t max) const {
    const std::string_view digits = trimmed(text);
    int64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec == std::errc::invalid_argument || end != digits.data() + digits.size())
      fail(node, fmt::format("<{}> attribute {}={} is not a number", node.name(), key, quoted(text)));
    if (ec == std::errc::result_out_of_range || value < min || value > max)
      fail(node, fmt::format("<{}> attribute {}={} is out of range [{}, {}]", node.name(), key, quoted(text), min, max));
    return value;
  }

  int64_t requiredInt(pugi::xml_node node, const char* key, int64_t min, int64_t max) const {
    return toInt(node, key, requiredAttr(node, key), min, max);
  }

  std::optional<int64_t> optionalInt(pugi::xml_node node, const char* key, int64_t min, int64_t max) const {
    auto text = attr(node, key);
    if (!text || trimmed(*text).empty()) return std::nullopt;
    return toInt(node, key, *text, min, max);
  }

  // Hexadecimal with or without "0x", as NCCL writes classes, vendors and GUIDs.
  std::optional<uint64_t> optionalHex(pugi::xml_node node, const char* key, uint64_t max) const {
    auto text = attr(node, key);
    if (!text) return std::nullopt;
    std::string_view digits = trimmed(*text);
    if (digits.empty()) return std::nullopt;
    if (digits.size() >= 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) digits.remove_prefix(2);
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
    if (digits.empty() || ec == std::errc::invalid_argument || end != digits.data() + digits.size())
      fail(node, fmt::format("<{}> attribute {}={} is not a hexadecimal number", node.name(), key, quoted(*text)));
    if (ec == std::errc::result_out_of_range || value > max)
      fail(node, fmt::format("<{}> attribute {}={} is out of range", node.name(), key, quoted(*text)));
    return value;
  }

  std::optional<double> optionalDouble(pugi::xml_node node, const char* key) const {
    auto text = attr(node, key);
    if (!text || trimmed(*text).empty()) return std::nullopt;
    const std::string_view digits = trimmed(*text);
    double value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size() || !(value >= 0 && value < 1e12))
      fail(node, fmt::format("<{}> attribute {}={} is not a non-negative number", node.name(), key, quoted(*text)));
    return value;
  }

  std::string busIdOf(pugi::xml_node node, const char* key) const {
    const std::string_view text = requiredAttr(node, key);
    auto busId = normalizedBusId(text);
    if (!busId) fail(node, fmt::format("<{}> {}={} is not a PCI bus id (dddd:bb:dd.f)", node.name(), key, quoted(text)));
    return *busId;
  }

  // ---- Elements ----

  void readCpu(pugi::xml_node el) {
    if (cpus_.size() >= kMaxCpus) fail(el, fmt::format("more than {} <cpu> elements", kMaxCpus));
    const int64_t numaId = requiredInt(el, "numaid", 0, INT32_MAX);
    if (auto [it, fresh] = numaLines_.emplace(numaId, lineOf(el)); !fresh)
      fail(el, fmt::format("duplicate <cpu numaid=\"{}\"> (first at line {})", numaId, it->second));
    std::string arch(trimmed(attr(el, "arch").value_or("")));
    std::string vendor(trimmed(attr(el, "vendor").value_or("")));
    const auto family = optionalInt(el, "familyid", 0, INT32_MAX);
    const auto model = optionalInt(el, "modelid", 0, INT32_MAX);
    for (auto [value, known, what] : {std::tuple{&arch, &knownCpuArchs(), "arch"}, std::tuple{&vendor, &knownCpuVendors(), "vendor"}}) {
      if (value->empty() || known->count(*value)) continue;
      topo_.notes.push_back(fmt::format("line {}: CPU {}={} unknown; not kept", lineOf(el), what, quoted(*value)));
      value->clear();
    }

    Node cpu;
    cpu.kind = NodeKind::Cpu;
    cpu.index = static_cast<int32_t>(numaId);
    cpu.name = fmt::format("NUMA{}", numaId);
    cpu.model = cpuModelText(arch, vendor, family, model);
    const NodeId id = topo_.addNode(std::move(cpu));
    cpus_.push_back({id, cpuInterconnectBandwidthGBps(arch, vendor, static_cast<int>(family.value_or(0)), static_cast<int>(model.value_or(0)))});

    for (pugi::xml_node child : el.children()) {
      if (child.type() != pugi::node_element) continue;
      const std::string_view tag = child.name();
      if (tag == "pci") readPci(child, id, id, 1);
      else if (tag == "nic") readNicUnderCpu(child, id);
      else if (tag == "gpu") fail(child, "<gpu> directly under <cpu>: a GPU must be inside a <pci> element");
      else if (tag == "net") fail(child, "<net> outside a <nic>");
      else ignored(child);
    }
  }

  // A device (GPU or NIC) with its PCIe link to `parent`, from the <pci> element `el`.
  NodeId addPciDevice(NodeKind kind, pugi::xml_node el, const std::string& busId,
                      const std::string& linkLayer, NodeId parent) {
    Node node;
    node.kind = kind;
    node.busId = busId;
    node.linkLayer = linkLayer;
    const NodeId id = topo_.addNode(std::move(node));
    topo_.addLink(pciLinkFrom(el, parent, id));
    return id;
  }

  Link pciLinkFrom(pugi::xml_node el, NodeId parent, NodeId child) {
    Link link;
    link.a = parent;
    link.b = child;
    link.kind = LinkKind::Pci;
    const std::string_view speed = attr(el, "link_speed").value_or("");
    link.pciGen = pciGenFromSpeed(speed);
    if (link.pciGen == 0) {
      ++unknownSpeedLinks_;
      if (unknownSpeedExample_.empty()) unknownSpeedExample_ = quoted(speed);
    }
    link.pciWidth = static_cast<int>(optionalInt(el, "link_width", 0, 64).value_or(0));
    link.bandwidthGBps = pciBandwidthGBps(link.pciGen, link.pciWidth);  // unknown gen: Gen3, as NCCL
    return link;
  }

  void claimBusId(pugi::xml_node el, const std::string& busId) {
    if (auto [it, fresh] = busIdLines_.emplace(busId, lineOf(el)); !fresh)
      fail(el, fmt::format("duplicate PCI bus id {} (first at line {})", busId, it->second));
  }

  void readPci(pugi::xml_node el, NodeId parent, NodeId cpu, int depth) {
    if (depth > kMaxPciDepth) fail(el, fmt::format("<pci> nested deeper than {} levels", kMaxPciDepth));
    const std::string busId = busIdOf(el, "busid");
    claimBusId(el, busId);
    const auto pciClass = optionalHex(el, "class", 0xffffff);

    pugi::xml_node gpu, nic;
    int pciChildren = 0;
    for (pugi::xml_node child : el.children()) {
      if (child.type() != pugi::node_element) continue;
      const std::string_view tag = child.name();
      if (tag == "gpu") {
        if (gpu) fail(child, fmt::format("<pci busid=\"{}\"> holds a second <gpu>", busId));
        gpu = child;
      } else if (tag == "nic") {
        if (nic) fail(child, fmt::format("<pci busid=\"{}\"> holds a second <nic>", busId));
        nic = child;
      } else if (tag == "pci") {
        ++pciChildren;
      }
    }
    if ((gpu && nic) || ((gpu || nic) && pciChildren > 0))
      fail(el, fmt::format("<pci busid=\"{}\"> mixes a {} with other devices; a <gpu> or <nic> gets a <pci> of its own",
                           busId, gpu ? "<gpu>" : "<nic>"));

    const uint32_t baseClass = pciClass ? static_cast<uint32_t>(*pciClass >> 8) : 0;
    if (gpu) {
      readGpu(gpu, el, busId, parent, cpu);
    } else if (nic) {
      readNets(nic, addPciDevice(NodeKind::Nic, el, busId, nicLinkLayer(baseClass), parent));
    } else if (pciChildren > 0 || baseClass == kClassBridge) {
      Node node;
      node.kind = NodeKind::PciSwitch;
      node.index = pciSwitches_++;
      node.name = fmt::format("PCISW{}", node.index);
      node.busId = busId;
      const NodeId id = topo_.addNode(std::move(node));
      topo_.addLink(pciLinkFrom(el, parent, id));
      for (pugi::xml_node child : el.children()) {
        if (child.type() != pugi::node_element) continue;
        if (std::string_view(child.name()) == "pci") readPci(child, id, cpu, depth + 1);
        else ignored(child);  // <pcilink> (AMD P2P hints) and anything newer
      }
    } else if (baseClass == kClassVga || baseClass == kClass3d) {
      // Azure's ndv4 file: the GPU is known only by class; numbered after the whole file is read.
      classOnlyGpus_.push_back(addPciDevice(NodeKind::Gpu, el, busId, "", parent));
    } else if (baseClass == kClassEthernet || baseClass == kClassInfiniBand) {
      portlessNics_.push_back(addPciDevice(NodeKind::Nic, el, busId, nicLinkLayer(baseClass), parent));
      ++classOnlyNics_;
    } else {
      ++ignoredPciLeaves_;
      if (ignoredPciExample_.empty())
        ignoredPciExample_ = fmt::format("{} class {}", busId, pciClass ? fmt::format("0x{:06x}", *pciClass) : "none");
    }
  }

  static std::string nicLinkLayer(uint32_t baseClass) {
    // What the PCI class says the controller is.
    return baseClass == kClassInfiniBand ? "InfiniBand" : baseClass == kClassEthernet ? "Ethernet" : "";
  }

  void readGpu(pugi::xml_node el, pugi::xml_node pci, const std::string& busId, NodeId parent, NodeId cpu) {
    const int64_t dev = requiredInt(el, "dev", 0, INT32_MAX);
    const int64_t sm = requiredInt(el, "sm", 0, 10000);
    if (auto [it, fresh] = gpuDevLines_.emplace(dev, lineOf(el)); !fresh)
      fail(el, fmt::format("duplicate <gpu dev=\"{}\"> (first at line {})", dev, it->second));
    optionalInt(el, "rank", -1, INT32_MAX);  // checked, not kept: ranks belong to a run, not the machine
    const auto gdr = optionalInt(el, "gdr", 0, 1);

    Node node;
    node.kind = NodeKind::Gpu;
    node.index = static_cast<int32_t>(dev);
    node.name = fmt::format("GPU{}", dev);
    node.busId = busId;
    node.gpuSm = static_cast<int>(sm);
    node.gpuDirect = gdr.value_or(0) == 1;
    const NodeId id = topo_.addNode(std::move(node));
    topo_.addLink(pciLinkFrom(pci, parent, id));

    for (pugi::xml_node child : el.children()) {
      if (child.type() != pugi::node_element) continue;
      const std::string_view tag = child.name();
      if (tag == "nvlink") {
        PendingNvLink nv{id, static_cast<int>(sm), busIdOf(child, "target"), std::nullopt,
                         static_cast<int>(requiredInt(child, "count", 1, 1024)), child};
        if (auto tclass = optionalHex(child, "tclass", 0xffffff)) nv.tclass = static_cast<uint32_t>(*tclass);
        nvlinks_.push_back(std::move(nv));
      } else if (tag == "c2c") {
        // Grace-Hopper: count links of bw MB/s each, to the CPU the GPU hangs from.
        const int64_t count = requiredInt(child, "count", 1, 1024);
        const int64_t bw = requiredInt(child, "bw", 0, INT32_MAX);
        Link link;
        link.a = id;
        link.b = cpu;
        link.kind = LinkKind::C2C;
        link.lanes = static_cast<int>(count);
        link.bandwidthGBps = static_cast<double>(count * bw) / 1000.0;
        topo_.addLink(link);
      } else {
        ignored(child);
      }
    }
  }

  void readNicUnderCpu(pugi::xml_node el, NodeId cpu) {
    // Azure's ncv4 file: a <nic> straight under <cpu>; NCCL hangs it from the CPU without a PCI
    // element, so the PCIe link is unknown.
    Node node;
    node.kind = NodeKind::Nic;
    const NodeId id = topo_.addNode(std::move(node));
    Link link;
    link.a = cpu;
    link.b = id;
    link.kind = LinkKind::Pci;
    link.bandwidthGBps = pciBandwidthGBps(0, 0);
    topo_.addLink(link);
    readNets(el, id);
    nicsWithoutPci_.emplace_back(id, cpu);
  }

  void readNets(pugi::xml_node nicEl, NodeId nic) {
    int ports = 0;
    int64_t firstDev = -1;
    std::string firstName;
    bool gpuDirect = false;
    std::vector<NodeId> unnamedPorts;  // named after the NIC once its name is known
    for (pugi::xml_node el : nicEl.children()) {
      if (el.type() != pugi::node_element) continue;
      if (std::string_view(el.name()) != "net") {
        ignored(el);
        continue;
      }
      const int64_t dev = requiredInt(el, "dev", 0, INT32_MAX);
      if (auto [it, fresh] = netDevLines_.emplace(dev, lineOf(el)); !fresh)
        fail(el, fmt::format("duplicate <net dev=\"{}\"> (first at line {})", dev, it->second));
      const std::string netName(trimmed(attr(el, "name").value_or("")));
      const int64_t port = optionalInt(el, "port", 0, INT32_MAX).value_or(0);
      const int64_t speedMbps = optionalInt(el, "speed", 0, INT64_C(1) << 40).value_or(0);
      const double latencyUs = optionalDouble(el, "latency").value_or(0);
      const uint64_t guid = optionalHex(el, "guid", UINT64_MAX).value_or(0);
      optionalInt(el, "maxconn", 0, INT64_MAX);  // checked, not kept: the model has no field for them
      optionalInt(el, "coll", 0, 1);
      gpuDirect = gpuDirect || optionalInt(el, "gdr", 0, 1).value_or(0) == 1;
      if (ports == 0) {
        firstDev = dev;
        firstName = netName;
      } else if (dev != firstDev + ports) {
        ++renumberedNetDevs_;
      }

      Node port_;
      port_.kind = NodeKind::NicPort;
      port_.index = static_cast<int32_t>(port);
      port_.name = fmt::format("{}:{}", netName, port);
      port_.speedGbps = static_cast<double>(speedMbps) / 1000.0;
      port_.guid = guid;
      const NodeId portId = topo_.addNode(std::move(port_));
      if (netName.empty()) unnamedPorts.push_back(portId);
      // The port's line: what the NIC can put on the wire through it.
      Link link;
      link.a = nic;
      link.b = portId;
      link.kind = LinkKind::Net;
      link.bandwidthGBps = static_cast<double>(speedMbps) / 8000.0;
      link.latencyUs = latencyUs;
      topo_.addLink(link);
      ++ports;
    }
    Node& node = topo_.node(nic);
    node.gpuDirect = gpuDirect;
    if (ports == 0) {
      portlessNics_.push_back(nic);
      return;
    }
    node.index = static_cast<int32_t>(firstDev);
    node.name = firstName.empty() ? fmt::format("NIC{}", firstDev) : firstName;
    // Port names carry the NIC's name: "mlx5_0:1", as NCCL prints a net device.
    // Only ports whose <net> had no name: a name of its own may begin with ':' as well.
    for (NodeId portId : unnamedPorts) topo_.node(portId).name = node.name + topo_.node(portId).name;
  }

  // ---- After the whole file ----

  void connectCpus() {
    for (size_t i = 0; i < cpus_.size(); ++i)
      for (size_t j = i + 1; j < cpus_.size(); ++j) {
        Link link;
        link.a = cpus_[i].node;
        link.b = cpus_[j].node;
        link.kind = LinkKind::CpuInterconnect;
        link.bandwidthGBps = std::min(cpus_[i].interconnectGBps, cpus_[j].interconnectGBps);
        topo_.addLink(link);
      }
  }

  void resolveNvLinks() {
    std::map<std::string, NodeId> gpusByBusId, nvSwitches;
    for (NodeId id : topo_.nodesOf(NodeKind::Gpu)) gpusByBusId.emplace(topo_.node(id).busId, id);
    std::map<std::pair<NodeId, NodeId>, int> gpuPairs;  // both directions of one bundle, once
    for (const PendingNvLink& nv : nvlinks_) {
      const Node& gpu = topo_.node(nv.gpu);
      if (nv.target == gpu.busId) {
        // Azure's ncv4 file lists each GPU's NVLinks as going to itself: nothing to model.
        topo_.notes.push_back(fmt::format("line {}: <nvlink> of {} ({}) targets the GPU's own bus id; ignored",
                                          lineOf(nv.at), gpu.name, gpu.busId));
        continue;
      }
      const auto targetGpu = gpusByBusId.find(nv.target);
      Link link;
      link.kind = LinkKind::NvLink;
      link.lanes = nv.count;
      link.bandwidthGBps = nvlinkBandwidthGBps(nv.sm, nv.count);
      if (nv.tclass == kTclassNvSwitch) {
        if (targetGpu != gpusByBusId.end())
          fail(nv.at, fmt::format("<nvlink> tclass 0x068000 says NVSwitch but target {} is a GPU", nv.target));
        auto [it, fresh] = nvSwitches.emplace(nv.target, kNoNode);
        if (fresh) {
          if (auto other = busIdLines_.find(nv.target); other != busIdLines_.end() && !ignoredBusId(nv.target))
            fail(nv.at, fmt::format("<nvlink> target {} is an NVSwitch but line {} uses that bus id for another device",
                                    nv.target, other->second));
          Node sw;
          sw.kind = NodeKind::NvSwitch;
          sw.index = static_cast<int32_t>(nvSwitches.size() - 1);
          sw.name = fmt::format("NVSwitch{}", sw.index);
          sw.busId = nv.target;
          it->second = topo_.addNode(std::move(sw));
        }
        link.a = nv.gpu;
        link.b = it->second;
        topo_.addLink(link);
      } else if (targetGpu != gpusByBusId.end()) {
        const auto key = std::minmax(nv.gpu, targetGpu->second);
        if (auto [it, fresh] = gpuPairs.emplace(key, nv.count); !fresh) {
          // NCCL lists every bundle from both ends; the second listing adds nothing unless the
          // two ends disagree.
          if (it->second != nv.count)
            topo_.notes.push_back(fmt::format("line {}: <nvlink> {} -> {} says {} links, the other end said {}; kept {}",
                                              lineOf(nv.at), gpu.busId, nv.target, nv.count, it->second, it->second));
          continue;
        }
        link.a = nv.gpu;
        link.b = targetGpu->second;
        link.bandwidthGBps = nvlinkBandwidthGBps(std::min(nv.sm, topo_.node(targetGpu->second).gpuSm), nv.count);
        topo_.addLink(link);
      } else if (nv.tclass == kTclassNvLinkCpu) {
        topo_.notes.push_back(fmt::format("line {}: <nvlink> from {} to the CPU (IBM NPU) not modelled", lineOf(nv.at), gpu.name));
      } else {
        fail(nv.at, fmt::format("<nvlink> target {} matches no GPU in the file and tclass {} is not an NVSwitch (0x068000)",
                                nv.target, nv.tclass ? fmt::format("0x{:06x}", *nv.tclass) : "(none)"));
      }
    }
  }

  bool ignoredBusId(const std::string& busId) const {
    // A PCI leaf of an unknown class (such as the NVSwitch's own PCI function) is not a device
    // of the model, so an NVSwitch may take its bus id.
    for (const Node& n : topo_.nodes())
      if (n.busId == busId) return false;
    return true;
  }

  void numberClassOnlyDevices() {
    // Devices the file does not number take the smallest numbers no <gpu dev>/<net dev> uses, in
    // order of appearance, so a file that numbers nothing counts 0, 1, 2... like the Azure files.
    auto number = [](const std::vector<NodeId>& devices, const std::map<int64_t, int>& taken, Topology& topo,
                     const char* prefix) {
      int32_t next = 0;
      for (NodeId id : devices) {
        while (taken.count(next)) ++next;
        Node& node = topo.node(id);
        node.index = next++;
        if (node.name.empty()) node.name = fmt::format("{}{}", prefix, node.index);
      }
    };
    number(classOnlyGpus_, gpuDevLines_, topo_, "GPU");
    std::sort(portlessNics_.begin(), portlessNics_.end());  // document order = creation order
    // NICs without a <net> avoid the numbers of NICs with one (their first net's dev); the devs
    // of further ports are not NIC numbers, and the writer renumbers them.
    std::map<int64_t, int> nicNumbers;
    for (NodeId id : topo_.nodesOf(NodeKind::Nic))
      if (topo_.node(id).index >= 0) nicNumbers.emplace(topo_.node(id).index, 0);
    number(portlessNics_, nicNumbers, topo_, "NIC");
    if (!classOnlyGpus_.empty())
      topo_.notes.push_back(fmt::format("{} GPU(s) known only by PCI class (no <gpu> element): numbered in file order; "
                                        "SM and NVLinks unknown", classOnlyGpus_.size()));
    if (classOnlyNics_ > 0)
      topo_.notes.push_back(fmt::format("{} NIC(s) known only by PCI class (no <nic> element): numbered in file order; "
                                        "ports and speed unknown", classOnlyNics_));
    for (auto [nic, cpu] : nicsWithoutPci_)
      topo_.notes.push_back(fmt::format("NIC {} hangs directly from {} (no <pci> element): its PCIe link is unknown",
                                        topo_.node(nic).name, topo_.node(cpu).name));
  }

  void finishNotes() {
    if (unknownSpeedLinks_ > 0)
      topo_.notes.push_back(fmt::format("{} PCIe link(s) without a known link_speed (first: {}): assumed Gen3, as NCCL does",
                                        unknownSpeedLinks_, unknownSpeedExample_));
    if (ignoredPciLeaves_ > 0)
      topo_.notes.push_back(fmt::format("{} <pci> leaf device(s) of a class that is neither GPU, NIC nor bridge ignored "
                                        "(first: {})", ignoredPciLeaves_, ignoredPciExample_));
    if (renumberedNetDevs_ > 0)
      topo_.notes.push_back(fmt::format("{} <net> dev number(s) do not follow their NIC's first; they are written back "
                                        "consecutively", renumberedNetDevs_));
    for (const auto& [tag, count] : ignoredElements_)
      topo_.notes.push_back(fmt::format("{} <{}> element(s) not understood; ignored", count, tag));
  }

  std::string_view text_;
  std::string name_;
  std::vector<size_t> newlines_;
  Topology topo_;
  std::vector<CpuInfo> cpus_;
  std::map<int64_t, int> numaLines_, gpuDevLines_, netDevLines_;  // number -> line first seen
  std::map<std::string, int> busIdLines_;
  std::vector<PendingNvLink> nvlinks_;
  std::vector<NodeId> classOnlyGpus_, portlessNics_;
  std::vector<std::pair<NodeId, NodeId>> nicsWithoutPci_;  // NIC, its CPU
  int32_t pciSwitches_ = 0;
  int classOnlyNics_ = 0;
  int unknownSpeedLinks_ = 0;
  std::string unknownSpeedExample_;
  int ignoredPciLeaves_ = 0;
  std::string ignoredPciExample_;
  int renumberedNetDevs_ = 0;
  std::map<std::string, int> ignoredElements_;
};

// ---- Writing --------------------------------------------------------------------------------

struct CpuFacts {
  std::string arch, vendor;
  std::optional<int> family, model;
};

CpuFacts cpuFactsFromModel(const std::string& text) {
  // Our own "x86_64 AuthenticAMD family 23 model 49", else a marketing name from hwloc or a preset.
  CpuFacts facts;
  std::vector<std::string> words;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = std::min(text.find(' ', pos), text.size());
    if (end > pos) words.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  auto number = [](const std::string& w) -> std::optional<int> {
    int v = 0;
    auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc() || end != w.data() + w.size()) return std::nullopt;
    return v;
  };
  bool ours = false;  // written by the reader: take it as it is, infer nothing
  for (size_t i = 0; i < words.size(); ++i) {
    if (knownCpuArchs().count(words[i])) facts.arch = words[i], ours = true;
    else if (knownCpuVendors().count(words[i])) facts.vendor = words[i], ours = true;
    else if (words[i] == "family" && i + 1 < words.size()) facts.family = number(words[++i]), ours = true;
    else if (words[i] == "model" && i + 1 < words.size()) facts.model = number(words[++i]), ours = true;
  }
  if (ours) return facts;
  if (facts.vendor.empty()) {
    if (text.find("AMD") != std::string::npos || text.find("EPYC") != std::string::npos) facts.vendor = "AuthenticAMD";
    else if (text.find("Intel") != std::string::npos || text.find("Xeon") != std::string::npos) facts.vendor = "GenuineIntel";
  }
  if (facts.arch.empty()) {
    if (!facts.vendor.empty() && facts.vendor != "Shanghai" && facts.vendor != "CentaurHauls") facts.arch = "x86_64";
    else if (text.find("Grace") != std::string::npos || text.find("Neoverse") != std::string::npos) facts.arch = "arm64";
    else if (text.find("POWER") != std::string::npos) facts.arch = "ppc64";
  }
  return facts;
}

class NcclWriter {
 public:
  explicit NcclWriter(const Topology& topology) : topo_(topology) {}

  std::string write() {
    pugi::xml_node system = doc_.append_child("system");
    system.append_attribute("version") = 1;
    if (topo_.hostCount() > 1)
      system.append_child(pugi::node_comment)
          .set_value(fmt::format(" host 0 of {}: NCCL topology XML describes one server ", topo_.hostCount()).c_str());

    planTree();
    assignBusIds();
    decideGpuNumbers();
    emit(system);

    int omitted = 0;
    for (const Link& link : topo_.links())
      if (!written(link)) ++omitted;
    if (omitted > 0)
      system.append_child(pugi::node_comment)
          .set_value(fmt::format(" {} link(s) of host 0 have no NCCL XML form (network, NVSwitch trunks, devices "
                                 "outside any CPU) and are omitted ", omitted).c_str());

    std::string out;
    struct Sink : pugi::xml_writer {
      std::string* out;
      void write(const void* data, size_t size) override { out->append(static_cast<const char*>(data), size); }
    } sink;
    sink.out = &out;
    doc_.save(sink, "  ", pugi::format_indent | pugi::format_no_declaration, pugi::encoding_utf8);
    return out;
  }

 private:
  struct Entry {
    NodeId node;
    int parent;       // index into plan_, or -1 under the CPU
    int cpu;          // index into cpus_
    uint32_t link;    // the link from the parent (or the CPU)
  };

  bool onHost(NodeId id) const { return topo_.node(id).host == 0; }

  void assignBusIds() {
    // NCCL XML names devices by bus id; devices without one (presets) get unique synthetic ids in
    // domain fffe (Azure's synthetic bridges use ffff).
    // A bus id the model holds twice (or one that is not a bus id) is replaced the same way, so
    // the file never names two devices alike.
    auto named = [](NodeKind kind) {
      return kind == NodeKind::Gpu || kind == NodeKind::PciSwitch || kind == NodeKind::NvSwitch || kind == NodeKind::Nic;
    };
    std::set<std::string> used;
    for (const Node& n : topo_.nodes())
      if (named(n.kind) && n.host == 0)
        if (auto busId = normalizedBusId(n.busId)) used.insert(*busId);
    busIds_.resize(topo_.nodes().size());
    std::set<std::string> taken;
    uint32_t counter = 0;
    for (NodeId id = 0; id < topo_.nodes().size(); ++id) {
      const Node& n = topo_.node(id);
      if (!named(n.kind) || n.host != 0) continue;
      // A NIC without a bus id hanging from its CPU is written as a <nic> straight under the <cpu>.
      if (n.kind == NodeKind::Nic && n.busId.empty() && underCpu_.count(id)) continue;
      busIds_[id] = normalizedBusId(n.busId).value_or("");
      if (!busIds_[id].empty() && taken.insert(busIds_[id]).second) continue;
      std::string candidate;
      do {
        candidate = fmt::format("{:04x}:{:02x}:{:02x}.0", 0xfffe - (counter >> 13), (counter >> 5) & 0xff, counter & 0x1f);
        ++counter;
      } while (used.count(candidate));
      used.insert(candidate);
      taken.insert(candidate);
      busIds_[id] = candidate;
    }
  }

  static bool isPciDevice(NodeKind kind) {
    return kind == NodeKind::PciSwitch || kind == NodeKind::Gpu || kind == NodeKind::Nic;
  }

  void planTree() {
    // Preorder walk of each CPU's PCIe tree with an explicit stack (no recursion on the input).
    std::vector<bool> seen(topo_.nodes().size(), false);
    for (NodeId cpu : topo_.nodesOf(NodeKind::Cpu, 0)) {
      cpus_.push_back(cpu);
      seen[cpu] = true;
    }
    for (size_t c = 0; c < cpus_.size(); ++c) {
      struct Pending {
        NodeId node;
        int parent;
        uint32_t link;
      };
      std::vector<Pending> stack;
      auto pushChildren = [&](NodeId from, int parentEntry) {
        const auto& links = topo_.linksOf(from);
        for (auto it = links.rbegin(); it != links.rend(); ++it) {
          const Link& link = topo_.links()[*it];
          const NodeId other = topo_.otherEnd(*it, from);
          if (link.kind != LinkKind::Pci || seen[other] || !onHost(other) || !isPciDevice(topo_.node(other).kind)) continue;
          seen[other] = true;
          stack.push_back({other, parentEntry, *it});
        }
      };
      pushChildren(cpus_[c], -1);
      while (!stack.empty()) {
        const Pending p = stack.back();
        stack.pop_back();
        plan_.push_back({p.node, p.parent, static_cast<int>(c), p.link});
        planned_.insert(p.node);
        if (p.parent < 0) underCpu_.insert(p.node);
        // Only switches have devices below them; a GPU's or NIC's other PCI links are not its children.
        if (topo_.node(p.node).kind == NodeKind::PciSwitch) pushChildren(p.node, static_cast<int>(plan_.size() - 1));
      }
    }
  }

  bool hasGpuLinks(NodeId gpu) const {
    for (uint32_t li : topo_.linksOf(gpu)) {
      const Link& l = topo_.links()[li];
      if (l.kind == LinkKind::NvLink || l.kind == LinkKind::C2C) return true;
    }
    return false;
  }

  void decideGpuNumbers() {
    // Every <gpu dev> is unique: a GPU without a number, or with one already taken, gets the
    // smallest free one.
    std::set<int> wanted, devs;
    for (const Entry& e : plan_)
      if (const Node& n = topo_.node(e.node); n.kind == NodeKind::Gpu && n.index >= 0) wanted.insert(n.index);
    int nextFree = 0;
    for (const Entry& e : plan_) {
      const Node& n = topo_.node(e.node);
      if (n.kind != NodeKind::Gpu) continue;
      int dev = n.index;
      if (dev < 0 || devs.count(dev)) {
        while (wanted.count(nextFree) || devs.count(nextFree)) ++nextFree;
        dev = nextFree;
      }
      devs.insert(dev);
      gpuDevs_[e.node] = dev;
    }
    // A GPU with nothing but a PCI position is written as a bare <pci> of class 3D controller (as
    // in Azure's ndv4 file) when reading it back numbers it the same; otherwise as a <gpu>.
    std::set<int> explicitDevs;
    std::vector<NodeId> candidates;
    for (const Entry& e : plan_) {
      const Node& n = topo_.node(e.node);
      if (n.kind != NodeKind::Gpu) continue;
      if (n.gpuSm == 0 && !n.gpuDirect && !hasGpuLinks(e.node) && n.index == gpuDevs_[e.node]) candidates.push_back(e.node);
      else explicitDevs.insert(gpuDevs_[e.node]);
    }
    int next = 0;
    for (NodeId id : candidates) {
      while (explicitDevs.count(next)) ++next;
      if (gpuDevs_[id] != next++) return;  // numbering would differ: write every GPU as <gpu>
    }
    bareGpus_.insert(candidates.begin(), candidates.end());
  }

  void setPciAttributes(pugi::xml_node el, NodeId id, uint32_t pciClass, const Link& up) {
    el.append_attribute("busid") = busIds_[id].c_str();
    el.append_attribute("class") = fmt::format("0x{:06x}", pciClass).c_str();
    el.append_attribute("link_speed") = pciSpeedText(up.kind == LinkKind::Pci ? up.pciGen : 0);
    el.append_attribute("link_width") = up.kind == LinkKind::Pci ? up.pciWidth : 0;
    writtenLinks_.insert(&up);
  }

  void emit(pugi::xml_node system) {
    std::vector<pugi::xml_node> cpuEls;
    std::set<int> numaIds;
    for (NodeId cpu : cpus_) numaIds.insert(topo_.node(cpu).index);
    int nextNuma = 0;
    std::set<int> usedNuma;
    for (NodeId cpu : cpus_) {
      const Node& n = topo_.node(cpu);
      int numa = n.index;
      if (numa < 0 || usedNuma.count(numa)) {
        while (numaIds.count(nextNuma) || usedNuma.count(nextNuma)) ++nextNuma;
        numa = nextNuma;
      }
      usedNuma.insert(numa);
      pugi::xml_node el = system.append_child("cpu");
      el.append_attribute("numaid") = numa;
      const CpuFacts facts = cpuFactsFromModel(n.model);
      if (!facts.arch.empty()) el.append_attribute("arch") = facts.arch.c_str();
      if (!facts.vendor.empty()) el.append_attribute("vendor") = facts.vendor.c_str();
      if (facts.family) el.append_attribute("familyid") = *facts.family;
      if (facts.model) el.append_attribute("modelid") = *facts.model;
      cpuEls.push_back(el);
    }
    for (const Link& link : topo_.links())
      if (link.kind == LinkKind::CpuInterconnect && onHost(link.a) && onHost(link.b)) writtenLinks_.insert(&link);

    std::vector<pugi::xml_node> entryEls(plan_.size());
    for (const Entry& e : plan_)
      if (const Node& n = topo_.node(e.node); n.kind == NodeKind::Nic && n.index >= 0 && !portsOf(e.node).empty())
        nicFirstDevs_.insert(n.index);
    for (size_t i = 0; i < plan_.size(); ++i) {
      const Entry& e = plan_[i];
      const Node& n = topo_.node(e.node);
      const Link& up = topo_.links()[e.link];
      pugi::xml_node parent = e.parent < 0 ? cpuEls[e.cpu] : entryEls[e.parent];
      switch (n.kind) {
        case NodeKind::PciSwitch: {
          entryEls[i] = parent.append_child("pci");
          setPciAttributes(entryEls[i], e.node, kClassBridge << 8, up);
          break;
        }
        case NodeKind::Gpu: {
          pugi::xml_node pci = parent.append_child("pci");
          setPciAttributes(pci, e.node, kClass3d << 8, up);
          entryEls[i] = pci;
          if (!bareGpus_.count(e.node)) writeGpu(pci.append_child("gpu"), e.node);
          break;
        }
        case NodeKind::Nic: {
          if (busIds_[e.node].empty() && e.parent < 0) {
            // No PCI position was known (Azure ncv4): the <nic> goes straight under the <cpu>.
            entryEls[i] = parent.append_child("nic");
            writtenLinks_.insert(&up);
            writeNets(entryEls[i], e.node);
          } else {
            // The class says InfiniBand or Ethernet where the model knows which; a NIC without
            // ports is then a bare <pci> (as in Azure's and AWS's files), else a <pci><nic/>.
            const bool known = n.linkLayer == "InfiniBand" || n.linkLayer == "Ethernet";
            entryEls[i] = parent.append_child("pci");
            setPciAttributes(entryEls[i], e.node, known ? (n.linkLayer == "InfiniBand" ? kClassInfiniBand : kClassEthernet) << 8 : 0, up);
            if (!known) entryEls[i].remove_attribute("class");
            if (!known || !portsOf(e.node).empty()) writeNets(entryEls[i].append_child("nic"), e.node);
          }
          break;
        }
        default:
          break;
      }
    }
  }

  std::vector<std::pair<NodeId, const Link*>> portsOf(NodeId nic) const {
    std::vector<std::pair<NodeId, const Link*>> ports;
    for (uint32_t li : topo_.linksOf(nic)) {
      const NodeId other = topo_.otherEnd(li, nic);
      if (topo_.node(other).kind == NodeKind::NicPort) ports.emplace_back(other, &topo_.links()[li]);
    }
    return ports;
  }

  void writeNets(pugi::xml_node nicEl, NodeId nic) {
    const Node& n = topo_.node(nic);
    int dev = std::max(n.index, 0);
    bool first = true;
    for (auto [portId, link] : portsOf(nic)) {
      const Node& port = topo_.node(portId);
      // The first port keeps the NIC's number, later ones follow it; numbers already written, or
      // that start another NIC, are skipped so that every <net dev> stays unique.
      while (emittedNetDevs_.count(dev) || (!(first && dev == n.index) && nicFirstDevs_.count(dev))) ++dev;
      emittedNetDevs_.insert(dev);
      std::string netName = n.name;
      const std::string portSuffix = fmt::format(":{}", port.index);
      if (port.name.size() > portSuffix.size() && port.name.ends_with(portSuffix))
        netName = port.name.substr(0, port.name.size() - portSuffix.size());
      pugi::xml_node net = nicEl.append_child("net");
      net.append_attribute("name") = netName.c_str();
      net.append_attribute("dev") = dev;
      net.append_attribute("speed") = static_cast<long long>(std::llround(port.speedGbps * 1000));
      net.append_attribute("port") = std::max(port.index, 0);
      // NCCL's "%f" where that loses nothing, else the shortest exact form.
      std::string latency = fmt::format("{:.6f}", link->latencyUs);
      if (std::stod(latency) != link->latencyUs) latency = fmt::format("{}", link->latencyUs);
      net.append_attribute("latency") = latency.c_str();
      net.append_attribute("guid") = fmt::format("0x{:x}", port.guid).c_str();
      net.append_attribute("gdr") = n.gpuDirect ? 1 : 0;
      writtenLinks_.insert(link);
      ++dev;
      first = false;
    }
  }

  void writeGpu(pugi::xml_node gpuEl, NodeId gpu) {
    const Node& n = topo_.node(gpu);
    gpuEl.append_attribute("dev") = gpuDevs_.at(gpu);
    gpuEl.append_attribute("sm") = n.gpuSm;
    gpuEl.append_attribute("gdr") = n.gpuDirect ? 1 : 0;
    for (uint32_t li : topo_.linksOf(gpu)) {
      const Link& link = topo_.links()[li];
      const NodeId other = topo_.otherEnd(li, gpu);
      const Node& peer = topo_.node(other);
      if (link.kind == LinkKind::NvLink && (peer.kind == NodeKind::Gpu || peer.kind == NodeKind::NvSwitch) &&
          onHost(other) && !busIds_[other].empty() && (peer.kind == NodeKind::NvSwitch || planned_.count(other))) {
        // Listed from both ends, as NCCL does; the reader keeps one.
        pugi::xml_node nv = gpuEl.append_child("nvlink");
        nv.append_attribute("target") = busIds_[other].c_str();
        nv.append_attribute("count") = link.lanes;
        nv.append_attribute("tclass") = fmt::format("0x{:06x}", peer.kind == NodeKind::NvSwitch ? kTclassNvSwitch : kClass3d << 8).c_str();
        writtenLinks_.insert(&link);
      } else if (link.kind == LinkKind::C2C && peer.kind == NodeKind::Cpu && link.lanes > 0) {
        pugi::xml_node c2c = gpuEl.append_child("c2c");
        c2c.append_attribute("count") = link.lanes;
        c2c.append_attribute("bw") = static_cast<long long>(std::llround(link.bandwidthGBps * 1000 / link.lanes));
        writtenLinks_.insert(&link);
      }
    }
  }

  bool written(const Link& link) const {
    return writtenLinks_.count(&link) || !onHost(link.a) || !onHost(link.b);
  }

  const Topology& topo_;
  pugi::xml_document doc_;
  std::vector<std::string> busIds_;
  std::vector<NodeId> cpus_;
  std::vector<Entry> plan_;
  std::set<NodeId> planned_, underCpu_, bareGpus_;
  std::map<NodeId, int> gpuDevs_;
  std::set<int> nicFirstDevs_, emittedNetDevs_;
  std::set<const Link*> writtenLinks_;
};

}  // namespace

Topology readNcclXml(std::string_view text, const std::string& name) {
  return NcclReader(text, name).read();
}

std::string writeNcclXml(const Topology& topology) {
  return NcclWriter(topology).write();
}

}  // namespace strata::topo
