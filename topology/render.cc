// Views of a topology (render.h). Every view reads only the model: paths and their codes come
// from Topology::path(), so the matrix, the JSON and the pictures never disagree with the
// planner about what is near what.
#include "topology/render.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <queue>
#include <set>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace strata::topo {
namespace {

// ---------------------------------------------------------------------------------------------
// Text helpers

// "450", "370.8", "31.5": one decimal at most, no trailing zeros (the field's way of quoting GB/s).
std::string trimmed(double value, int decimals = 1) {
  if (!std::isfinite(value)) return "inf";
  std::string s = fmt::format("{:.{}f}", value, decimals);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

std::string gbText(double gigabytesPerSecond) { return trimmed(gigabytesPerSecond) + " GB/s"; }

// 100000 -> "100,000": fabric sizes are read by people.
std::string grouped(uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// A large double with thousands separators and one decimal ("26,214.4").
std::string groupedDecimal(double value) {
  if (!std::isfinite(value) || value < 0) return trimmed(value);
  const double rounded = std::round(value * 10) / 10;
  const auto whole = static_cast<uint64_t>(rounded);
  const int tenth = static_cast<int>(std::lround((rounded - static_cast<double>(whole)) * 10));
  return tenth == 0 ? grouped(whole) : fmt::format("{}.{}", grouped(whole), tenth);
}

std::string bytesText(uint64_t bytes) {
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  if (bytes >= (uint64_t{1} << 40)) return trimmed(static_cast<double>(bytes) / (kGiB * 1024)) + " TiB";
  if (bytes >= (uint64_t{1} << 30)) return trimmed(static_cast<double>(bytes) / kGiB) + " GiB";
  return trimmed(static_cast<double>(bytes) / (1024.0 * 1024)) + " MiB";
}

std::string smText(int sm) { return fmt::format("sm_{}", sm); }

// {0,1,2,3,5} -> "0-3,5"
std::string rangesText(std::vector<int> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::string out;
  for (size_t i = 0; i < values.size();) {
    size_t j = i;
    while (j + 1 < values.size() && values[j + 1] == values[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? std::to_string(values[i]) : fmt::format("{}-{}", values[i], values[j]);
    i = j + 1;
  }
  return out;
}

std::string joined(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (part.empty()) continue;
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

std::string xmlEscaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters are not allowed in XML 1.0 text; names come from files we do not
        // control, so drop them rather than emit a document that no parser accepts.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
    }
  }
  return out;
}

std::string dotQuoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

// Cut text to what fits in a box, marking the cut.
std::string fitted(const std::string& text, size_t maxChars) {
  if (text.size() <= maxChars || maxChars < 2) return text;
  return text.substr(0, maxChars - 1) + "\u2026";
}

std::vector<std::string> wrapped(const std::string& text, size_t width) {
  std::vector<std::string> lines;
  std::string line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(start, end - start);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      lines.push_back(line);
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Facts shared by the views

const char* kindLabel(NodeKind kind) {
  switch (kind) {
    case NodeKind::Cpu: return "CPU";
    case NodeKind::PciSwitch: return "PCIe switch";
    case NodeKind::Gpu: return "GPU";
    case NodeKind::NvSwitch: return "NVSwitch";
    case NodeKind::Nic: return "NIC";
    case NodeKind::NicPort: return "port";
    case NodeKind::NetSwitch: return "network switch";
  }
  return "?";
}

std::string linkText(const Link& link) {
  switch (link.kind) {
    case LinkKind::NvLink:
      return fmt::format("NVLink x{} {}", link.lanes, gbText(link.bandwidthGBps));
    case LinkKind::Pci: {
      std::string shape;
      if (link.pciGen > 0) shape += fmt::format(" Gen{}", link.pciGen);
      if (link.pciWidth > 0) shape += fmt::format(" x{}", link.pciWidth);
      return fmt::format("PCIe{} {}", shape, gbText(link.bandwidthGBps));
    }
    case LinkKind::CpuInterconnect: return "CPU interconnect " + gbText(link.bandwidthGBps);
    case LinkKind::Net: return "network " + gbText(link.bandwidthGBps);
    case LinkKind::C2C: return "C2C " + gbText(link.bandwidthGBps);
  }
  return "?";
}

std::string shortLinkLayer(const std::string& layer) {
  if (layer == "InfiniBand") return "IB";
  if (layer == "Ethernet") return "Eth";
  return layer;
}

// A NIC with what its ports add: ports carry the line rate, link layer and rail in some
// sources, the NIC itself in others.
struct NicFacts {
  std::vector<NodeId> ports;
  std::vector<double> portGbps;  // per port; one entry from the NIC itself when it has no ports
  std::string linkLayer;
  std::vector<int> rails;
};

NicFacts nicFacts(const Topology& topology, NodeId nicId) {
  const Node& nic = topology.node(nicId);
  NicFacts facts;
  facts.linkLayer = nic.linkLayer;
  if (nic.rail >= 0) facts.rails.push_back(nic.rail);
  for (uint32_t li : topology.linksOf(nicId)) {
    const NodeId other = topology.otherEnd(li, nicId);
    const Node& port = topology.node(other);
    if (port.kind != NodeKind::NicPort) continue;
    if (std::find(facts.ports.begin(), facts.ports.end(), other) != facts.ports.end()) continue;
    facts.ports.push_back(other);
    facts.portGbps.push_back(port.speedGbps > 0 ? port.speedGbps : nic.speedGbps);
    if (facts.linkLayer.empty()) facts.linkLayer = port.linkLayer;
    if (port.rail >= 0 && std::find(facts.rails.begin(), facts.rails.end(), port.rail) == facts.rails.end()) {
      facts.rails.push_back(port.rail);
    }
  }
  if (facts.ports.empty() && nic.speedGbps > 0) facts.portGbps.push_back(nic.speedGbps);
  return facts;
}

// "2 x 200 Gb/s", "400 Gb/s", "" when unknown.
std::string portSpeedText(const NicFacts& facts) {
  if (facts.portGbps.empty()) return "";
  const double first = facts.portGbps.front();
  const bool same = std::all_of(facts.portGbps.begin(), facts.portGbps.end(),
                                [&](double g) { return g == first; });
  if (same && first <= 0) return "";
  if (same) {
    return facts.portGbps.size() == 1 ? trimmed(first) + " Gb/s"
                                      : fmt::format("{} x {} Gb/s", facts.portGbps.size(), trimmed(first));
  }
  std::vector<std::string> each;
  for (double g : facts.portGbps) each.push_back(g > 0 ? trimmed(g) : "?");
  return joined(each, "+") + " Gb/s";
}

std::string railText(const NicFacts& facts) {
  if (facts.rails.empty()) return "";
  return (facts.rails.size() == 1 ? "rail " : "rails ") + rangesText(facts.rails);
}

int nvlinkLanes(const Topology& topology, NodeId id) {
  int lanes = 0;
  for (uint32_t li : topology.linksOf(id)) {
    const Link& link = topology.links()[li];
    if (link.kind == LinkKind::NvLink) lanes += link.lanes;
  }
  return lanes;
}

// One line of what is known about a node (tree view, SVG tooltips).
std::string nodeFacts(const Topology& topology, NodeId id) {
  const Node& n = topology.node(id);
  std::vector<std::string> parts;
  parts.push_back(n.model);
  switch (n.kind) {
    case NodeKind::Gpu:
      if (n.gpuSm > 0) parts.push_back(smText(n.gpuSm));
      if (n.memoryBytes > 0) parts.push_back(bytesText(n.memoryBytes));
      break;
    case NodeKind::Cpu:
      if (n.index >= 0) parts.push_back(fmt::format("NUMA {}", n.index));
      if (n.memoryBytes > 0) parts.push_back(bytesText(n.memoryBytes));
      break;
    case NodeKind::Nic: {
      const NicFacts facts = nicFacts(topology, id);
      parts.push_back(portSpeedText(facts));
      parts.push_back(facts.linkLayer);
      parts.push_back(railText(facts));
      if (n.gpuDirect) parts.push_back("GPUDirect RDMA");
      break;
    }
    case NodeKind::NicPort:
      if (n.speedGbps > 0) parts.push_back(trimmed(n.speedGbps) + " Gb/s");
      parts.push_back(n.linkLayer);
      if (n.rail >= 0) parts.push_back(fmt::format("rail {}", n.rail));
      if (n.guid != 0) parts.push_back(fmt::format("guid 0x{:016x}", n.guid));
      break;
    case NodeKind::NetSwitch:
      if (n.tier >= 0) parts.push_back(fmt::format("tier {}", n.tier));
      if (n.radix > 0) parts.push_back(fmt::format("radix {}", n.radix));
      break;
    case NodeKind::NvSwitch:
    case NodeKind::PciSwitch:
      break;
  }
  if (!n.busId.empty()) parts.push_back(n.busId);
  return joined(parts, ", ");
}

// The PCIe forest: each CPU is a root, and PCIe (or C2C) links lead down to switches and
// devices. Breadth-first, so that a device reachable two ways hangs under its nearest parent.
// Devices no CPU reaches (a file without a PCIe tree) become roots of their own.
struct PciForest {
  std::vector<NodeId> roots;
  std::vector<std::vector<NodeId>> children;  // by node id
  std::vector<uint32_t> parentLink;           // by node id; UINT32_MAX for roots
  std::vector<int> depth;                     // by node id; -1 when not in the forest
};

PciForest buildPciForest(const Topology& topology, bool withNvSwitches) {
  const size_t count = topology.nodes().size();
  PciForest forest;
  forest.children.resize(count);
  forest.parentLink.assign(count, UINT32_MAX);
  forest.depth.assign(count, -1);
  auto belongs = [&](NodeKind kind) {
    return kind == NodeKind::Cpu || kind == NodeKind::PciSwitch || kind == NodeKind::Gpu ||
           kind == NodeKind::Nic || (withNvSwitches && kind == NodeKind::NvSwitch);
  };
  auto grow = [&](NodeId root, int rootDepth) {
    forest.roots.push_back(root);
    forest.depth[root] = rootDepth;
    std::queue<NodeId> queue;
    queue.push(root);
    while (!queue.empty()) {
      const NodeId id = queue.front();
      queue.pop();
      for (uint32_t li : topology.linksOf(id)) {
        const LinkKind kind = topology.links()[li].kind;
        if (kind != LinkKind::Pci && kind != LinkKind::C2C) continue;
        const NodeId next = topology.otherEnd(li, id);
        const NodeKind nextKind = topology.node(next).kind;
        if (forest.depth[next] >= 0 || !belongs(nextKind) || nextKind == NodeKind::Cpu) continue;
        forest.depth[next] = forest.depth[id] + 1;
        forest.parentLink[next] = li;
        forest.children[id].push_back(next);
        queue.push(next);
      }
    }
  };
  for (NodeId cpu : topology.nodesOf(NodeKind::Cpu)) grow(cpu, 0);
  // Orphans: switches first, so that an orphan switch keeps its devices below it. NVSwitches on
  // no PCIe tree stay out: the NVLink views show them.
  for (NodeKind kind : {NodeKind::PciSwitch, NodeKind::Gpu, NodeKind::Nic}) {
    for (NodeId id : topology.nodesOf(kind)) {
      if (forest.depth[id] < 0) grow(id, 1);
    }
  }
  return forest;
}

std::vector<NodeId> rootsOfHost(const Topology& topology, const PciForest& forest, uint32_t host) {
  std::vector<NodeId> roots;
  for (NodeId root : forest.roots) {
    if (topology.node(root).host == host) roots.push_back(root);
  }
  return roots;
}

// Matrix column labels: nvidia-smi numbers GPUs and NICs from 0 in its own order; so do we, over
// every host, and print a legend where a label is not the device's own name.
struct MatrixAxes {
  std::vector<NodeId> gpus;
  std::vector<NodeId> nics;
  std::string gpuLabel(size_t i) const { return fmt::format("GPU{}", i); }
  std::string nicLabel(size_t i) const { return fmt::format("NIC{}", i); }
};

std::string cellCode(const Path& path) {
  if (path.type == PathType::Self) return " X ";
  return pathCode(path.type, path.nvLanes);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// summaryText

std::string summaryText(const Topology& topology) {
  std::string out;
  out += fmt::format("Source: {}\n", topology.source.empty() ? "(unknown)" : topology.source);
  const uint32_t hosts = topology.hostCount();
  out += fmt::format("Hosts: {}\n", hosts);

  const auto cpus = topology.nodesOf(NodeKind::Cpu);
  std::vector<std::string> cpuParts;
  for (NodeId id : cpus) {
    const Node& n = topology.node(id);
    std::vector<std::string> facts = {n.model, n.memoryBytes ? bytesText(n.memoryBytes) : ""};
    std::string f = joined(facts, ", ");
    cpuParts.push_back(f.empty() ? n.name : fmt::format("{} ({})", n.name, f));
  }
  out += fmt::format("CPUs: {}{}{}\n", cpus.size(), cpus.empty() ? "" : " - ", joined(cpuParts, ", "));

  // GPUs grouped by model, SM and memory: a machine is almost always one kind.
  const auto gpus = topology.nodesOf(NodeKind::Gpu);
  std::map<std::tuple<std::string, int, uint64_t>, int> gpuKinds;
  for (NodeId id : gpus) {
    const Node& n = topology.node(id);
    ++gpuKinds[{n.model, n.gpuSm, n.memoryBytes}];
  }
  std::vector<std::string> gpuParts;
  for (const auto& [key, count] : gpuKinds) {
    const auto& [model, sm, memory] = key;
    std::vector<std::string> facts = {sm ? smText(sm) : "", memory ? bytesText(memory) : ""};
    std::string f = joined(facts, ", ");
    gpuParts.push_back(fmt::format("{} x {}{}", count, model.empty() ? "unknown model" : model,
                                   f.empty() ? "" : " (" + f + ")"));
  }
  out += fmt::format("GPUs: {}{}{}\n", gpus.size(), gpus.empty() ? "" : " - ", joined(gpuParts, ", "));
  if (hosts > 1) {
    std::vector<std::string> perHost;
    for (uint32_t h = 0; h < hosts; ++h) {
      perHost.push_back(fmt::format("host {}: {} GPUs, {} NICs", h,
                                    topology.nodesOf(NodeKind::Gpu, static_cast<int>(h)).size(),
                                    topology.nodesOf(NodeKind::Nic, static_cast<int>(h)).size()));
    }
    out += "  " + joined(perHost, "; ") + "\n";
  }
  out += fmt::format("NVSwitches: {}\n", topology.nodesOf(NodeKind::NvSwitch).size());
  out += fmt::format("PCIe switches: {}\n", topology.nodesOf(NodeKind::PciSwitch).size());

  const auto nics = topology.nodesOf(NodeKind::Nic);
  std::map<std::tuple<std::string, std::string, std::string, bool>, int> nicKinds;
  std::vector<int> rails;
  size_t portCount = 0;
  for (NodeId id : nics) {
    const Node& n = topology.node(id);
    const NicFacts facts = nicFacts(topology, id);
    portCount += facts.ports.size();
    rails.insert(rails.end(), facts.rails.begin(), facts.rails.end());
    const std::string ports = facts.ports.size() > 1 ? fmt::format("{} ports", facts.ports.size()) : "";
    ++nicKinds[{n.model, joined({ports, portSpeedText(facts)}, ", "), facts.linkLayer, n.gpuDirect}];
  }
  std::vector<std::string> nicParts;
  for (const auto& [key, count] : nicKinds) {
    const auto& [model, speed, layer, gpuDirect] = key;
    std::string f = joined({speed, layer, gpuDirect ? "GPUDirect RDMA" : ""}, ", ");
    nicParts.push_back(fmt::format("{} x {}{}", count, model.empty() ? "unknown model" : model,
                                   f.empty() ? "" : " (" + f + ")"));
  }
  out += fmt::format("NICs: {}{}{}", nics.size(), nics.empty() ? "" : " - ", joined(nicParts, ", "));
  if (!rails.empty()) out += "; rails " + rangesText(rails);
  out += fmt::format("\nNIC ports: {}\n", portCount);
  const auto netSwitches = topology.nodesOf(NodeKind::NetSwitch);
  if (!netSwitches.empty()) out += fmt::format("Network switches: {}\n", netSwitches.size());

  // Links per kind, with NVLink lanes: "NVLink 32 (144 lanes)".
  std::map<LinkKind, std::pair<int, int>> linkCounts;  // links, lanes
  for (const Link& link : topology.links()) {
    auto& [links, lanes] = linkCounts[link.kind];
    ++links;
    lanes += link.lanes;
  }
  std::vector<std::string> linkParts;
  for (const auto& [kind, counts] : linkCounts) {
    if (kind == LinkKind::NvLink) {
      linkParts.push_back(fmt::format("NVLink {} ({} lanes)", counts.first, counts.second));
    } else {
      static const std::map<LinkKind, const char*> names = {
          {LinkKind::Pci, "PCIe"}, {LinkKind::CpuInterconnect, "CPU interconnect"},
          {LinkKind::Net, "network"}, {LinkKind::C2C, "C2C"}};
      linkParts.push_back(fmt::format("{} {}", names.at(kind), counts.first));
    }
  }
  out += fmt::format("Links: {}{}\n", topology.links().size(),
                     linkParts.empty() ? "" : " - " + joined(linkParts, ", "));
  if (!topology.notes.empty()) {
    out += "Notes:\n";
    for (const std::string& note : topology.notes) out += "  - " + note + "\n";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// treeText

std::string treeText(const Topology& topology) {
  const PciForest forest = buildPciForest(topology, /*withNvSwitches=*/true);
  std::string out;

  std::function<void(NodeId, int)> print = [&](NodeId id, int indent) {
    const Node& n = topology.node(id);
    std::string line = fmt::format("{:{}}{} {}", "", indent * 2, kindLabel(n.kind), n.name);
    const std::string facts = nodeFacts(topology, id);
    if (!facts.empty()) line += " (" + facts + ")";
    if (forest.parentLink[id] != UINT32_MAX) line += "  [" + linkText(topology.links()[forest.parentLink[id]]) + "]";
    out += line + "\n";
    // NIC ports and where their cables go sit under the NIC, as lstopo lists a NIC's OS devices.
    if (n.kind == NodeKind::Nic) {
      for (NodeId port : nicFacts(topology, id).ports) {
        std::string portLine = fmt::format("{:{}}port {}", "", (indent + 1) * 2, topology.node(port).name);
        const std::string portFacts = nodeFacts(topology, port);
        if (!portFacts.empty()) portLine += " (" + portFacts + ")";
        for (uint32_t li : topology.linksOf(port)) {
          const NodeId other = topology.otherEnd(li, port);
          if (topology.node(other).kind == NodeKind::NetSwitch) portLine += " -> " + topology.node(other).name;
        }
        out += portLine + "\n";
      }
    }
    for (NodeId child : forest.children[id]) print(child, indent + 1);
  };

  const uint32_t hosts = std::max<uint32_t>(topology.hostCount(), 1);
  for (uint32_t h = 0; h < hosts; ++h) {
    out += fmt::format("Host {}\n", h);
    for (NodeId root : rootsOfHost(topology, forest, h)) {
      if (topology.node(root).kind != NodeKind::Cpu) continue;
      print(root, 1);
    }
    bool orphanHeader = false;
    for (NodeId root : rootsOfHost(topology, forest, h)) {
      if (topology.node(root).kind == NodeKind::Cpu) continue;
      if (!orphanHeader) out += "  (not under any CPU)\n";
      orphanHeader = true;
      print(root, 2);
    }
    // Links that are not part of the PCIe tree: between sockets, and NVLink.
    for (const Link& link : topology.links()) {
      const Node& a = topology.node(link.a);
      const Node& b = topology.node(link.b);
      if (link.kind == LinkKind::CpuInterconnect && a.host == h) {
        out += fmt::format("  {} <-> {}  [{}]\n", a.name, b.name, linkText(link));
      }
    }
    for (NodeId id = 0; id < topology.nodes().size(); ++id) {
      const Node& n = topology.node(id);
      if (n.host != h || (n.kind != NodeKind::Gpu && n.kind != NodeKind::NvSwitch)) continue;
      // Each GPU lists every NVLink bundle; an NVSwitch only its trunks to other switches, since
      // its GPU links are already listed from the GPU side.
      std::vector<std::string> peers;
      for (uint32_t li : topology.linksOf(id)) {
        const Link& link = topology.links()[li];
        const Node& peer = topology.node(topology.otherEnd(li, id));
        if (link.kind != LinkKind::NvLink) continue;
        if (n.kind == NodeKind::NvSwitch && peer.kind != NodeKind::NvSwitch) continue;
        peers.push_back(fmt::format("{} x{}", peer.name, link.lanes));
      }
      if (!peers.empty()) out += fmt::format("  NVLink {}: {}\n", n.name, joined(peers, ", "));
    }
  }
  const auto netSwitches = topology.nodesOf(NodeKind::NetSwitch);
  if (!netSwitches.empty()) {
    out += "Network\n";
    for (NodeId id : netSwitches) {
      std::vector<std::string> peers;
      for (uint32_t li : topology.linksOf(id)) peers.push_back(topology.node(topology.otherEnd(li, id)).name);
      const std::string facts = nodeFacts(topology, id);
      out += fmt::format("  switch {}{}: {} links ({})\n", topology.node(id).name,
                         facts.empty() ? "" : " (" + facts + ")", peers.size(), joined(peers, ", "));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// matrixText

std::string matrixText(const Topology& topology) {
  MatrixAxes axes{topology.nodesOf(NodeKind::Gpu), topology.nodesOf(NodeKind::Nic)};
  if (axes.gpus.empty() && axes.nics.empty()) return "No GPUs or NICs in this topology.\n";
  std::vector<NodeId> all = axes.gpus;
  all.insert(all.end(), axes.nics.begin(), axes.nics.end());
  std::vector<std::string> labels;
  for (size_t i = 0; i < axes.gpus.size(); ++i) labels.push_back(axes.gpuLabel(i));
  for (size_t i = 0; i < axes.nics.size(); ++i) labels.push_back(axes.nicLabel(i));

  // Paths are symmetric in the model; compute each pair once.
  const size_t n = all.size();
  std::vector<Path> paths(n * n);
  std::set<PathType> seen;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i; j < n; ++j) {
      paths[i * n + j] = topology.path(all[i], all[j]);
      paths[j * n + i] = paths[i * n + j];
      seen.insert(paths[i * n + j].type);
    }
  }

  // Tab-separated like nvidia-smi, so that scripts written for its output read ours.
  std::string out = "\t";
  for (const std::string& label : labels) out += label + "\t";
  out += "CPU Affinity\tNUMA Affinity\n";
  for (size_t i = 0; i < n; ++i) {
    out += labels[i];
    for (size_t j = 0; j < n; ++j) out += "\t" + cellCode(paths[i * n + j]);
    if (i < axes.gpus.size()) {
      // The model knows the NUMA domain a GPU hangs under, not its core list: name the domain.
      const NodeId cpu = topology.cpuOf(all[i]);
      if (cpu == kNoNode) {
        out += "\tN/A\tN/A";
      } else {
        const Node& c = topology.node(cpu);
        out += fmt::format("\t{}\t{}", c.name, c.index >= 0 ? std::to_string(c.index) : "N/A");
      }
    }
    out += "\n";
  }

  out +=
      "\nLegend:\n\n"
      "  X    = Self\n"
      "  SYS  = Connection traversing PCIe as well as the SMP interconnect between NUMA nodes (e.g., QPI/UPI)\n"
      "  NODE = Connection traversing PCIe as well as the interconnect between PCIe Host Bridges within a NUMA node\n"
      "  PHB  = Connection traversing PCIe as well as a PCIe Host Bridge (typically the CPU)\n"
      "  PXB  = Connection traversing multiple PCIe bridges (without traversing the PCIe Host Bridge)\n"
      "  PIX  = Connection traversing at most a single PCIe bridge\n"
      "  NV#  = Connection traversing a bonded set of # NVLinks\n";
  // Codes nvidia-smi does not print, only when they occur.
  if (seen.count(PathType::NvLinkViaGpu)) out += "  NVB  = Connection traversing NVLink through another GPU\n";
  if (seen.count(PathType::Network)) out += "  NET  = Connection traversing the network (another host)\n";
  if (seen.count(PathType::None)) out += "  -    = No route\n";

  bool gpuLegend = false;
  for (size_t i = 0; i < axes.gpus.size(); ++i) {
    if (topology.node(axes.gpus[i]).name != axes.gpuLabel(i) || topology.hostCount() > 1) gpuLegend = true;
  }
  if (gpuLegend) {
    out += "\nGPU Legend:\n\n";
    for (size_t i = 0; i < axes.gpus.size(); ++i) {
      const Node& g = topology.node(axes.gpus[i]);
      out += fmt::format("  {}: {}{}\n", axes.gpuLabel(i), g.name,
                         topology.hostCount() > 1 ? fmt::format(" (host {})", g.host) : "");
    }
  }
  if (!axes.nics.empty()) {
    out += "\nNIC Legend:\n\n";
    for (size_t i = 0; i < axes.nics.size(); ++i) {
      const Node& nic = topology.node(axes.nics[i]);
      out += fmt::format("  {}: {}{}\n", axes.nicLabel(i), nic.name,
                         topology.hostCount() > 1 ? fmt::format(" (host {})", nic.host) : "");
    }
  }

  // Which NIC each GPU should use (what NCCL's GPU-NIC affinity picks) and the rails.
  out += "\nGPU-NIC affinity and rails:\n\n";
  auto nicLabelOf = [&](NodeId nic) {
    const size_t i = static_cast<size_t>(std::find(axes.nics.begin(), axes.nics.end(), nic) - axes.nics.begin());
    return fmt::format("{} ({})", axes.nicLabel(i), topology.node(nic).name);
  };
  for (size_t i = 0; i < axes.gpus.size(); ++i) {
    const std::vector<NodeId> nearest = topology.nearestNics(axes.gpus[i]);
    if (nearest.empty()) {
      out += fmt::format("  {:<6} -> no NIC\n", axes.gpuLabel(i));
      continue;
    }
    std::vector<std::string> names;
    for (NodeId nic : nearest) names.push_back(nicLabelOf(nic));
    const Path p = topology.path(axes.gpus[i], nearest.front());
    out += fmt::format("  {:<6} -> {:<24} {:<5} {}\n", axes.gpuLabel(i), joined(names, ", "),
                       pathCode(p.type, p.nvLanes), gbText(p.bandwidthGBps));
  }
  for (size_t i = 0; i < axes.nics.size(); ++i) {
    const NodeId id = axes.nics[i];
    const NicFacts facts = nicFacts(topology, id);
    const std::string rail = railText(facts);
    const NodeId cpu = topology.cpuOf(id);
    out += fmt::format("  {:<24} {}\n", nicLabelOf(id),
                       joined({rail.empty() ? "rail unknown" : rail, portSpeedText(facts), facts.linkLayer,
                               cpu == kNoNode ? "" : topology.node(cpu).name,
                               topology.node(id).gpuDirect ? "GPUDirect RDMA" : ""},
                              ", "));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// toJson
//
// Schema "strata.topology/1":
// {
//   "schema": "strata.topology/1",
//   "source": string, "notes": [string], "hosts": int,
//   "nodes": [{ "id": int (index into nodes), "kind": nodeKindName ("cpu", "pci-switch", "gpu",
//               "nvswitch", "nic", "nic-port", "net-switch"), "host", "index", "name", "busId",
//               "model", "gpuSm", "memoryBytes", "speedGbps", "linkLayer",
//               "guid" (hex string: 64 bits do not survive a JSON double), "rail", "tier",
//               "radix", "gpuDirect",
//               "cpu": id of the CPU it hangs under or null }],
//     every fact is always present; 0, "" or -1 means unknown, as in model.h.
//   "links": [{ "a", "b" (node ids), "kind": linkKindName, "bandwidthGBps" (per direction),
//               "latencyUs", "lanes", "pciGen", "pciWidth" }],
//   "gpuPairs": [{ "a", "b" (GPU node ids, a < b), "code" (nvidia-smi code: "NV18", "SYS"...),
//                  "type": pathTypeName, "bandwidthGBps", "latencyUs", "hops",
//                  "nodes": [ids from a to b] }],
//   "gpuNicPairs": [same fields, "a" a GPU, "b" a NIC, every combination],
//   "nearestNics": [{ "gpu": id, "nics": [ids] }]
// }

namespace {

nlohmann::json pathJson(const Topology& topology, NodeId a, NodeId b) {
  const Path p = topology.path(a, b);
  return {{"a", a},
          {"b", b},
          {"code", pathCode(p.type, p.nvLanes)},
          {"type", pathTypeName(p.type)},
          {"bandwidthGBps", std::isfinite(p.bandwidthGBps) ? p.bandwidthGBps : 0.0},
          {"latencyUs", p.latencyUs},
          {"hops", p.hops},
          {"nodes", p.nodes}};
}

}  // namespace

std::string toJson(const Topology& topology) {
  nlohmann::json doc;
  doc["schema"] = "strata.topology/1";
  doc["source"] = topology.source;
  doc["notes"] = topology.notes;
  doc["hosts"] = topology.hostCount();
  nlohmann::json nodes = nlohmann::json::array();
  for (NodeId id = 0; id < topology.nodes().size(); ++id) {
    const Node& n = topology.node(id);
    const NodeId cpu = n.kind == NodeKind::Cpu ? kNoNode : topology.cpuOf(id);
    nodes.push_back({{"id", id},
                     {"kind", nodeKindName(n.kind)},
                     {"host", n.host},
                     {"index", n.index},
                     {"name", n.name},
                     {"busId", n.busId},
                     {"model", n.model},
                     {"gpuSm", n.gpuSm},
                     {"memoryBytes", n.memoryBytes},
                     {"speedGbps", n.speedGbps},
                     {"linkLayer", n.linkLayer},
                     {"guid", fmt::format("0x{:016x}", n.guid)},
                     {"rail", n.rail},
                     {"tier", n.tier},
                     {"radix", n.radix},
                     {"gpuDirect", n.gpuDirect},
                     {"cpu", cpu == kNoNode ? nlohmann::json(nullptr) : nlohmann::json(cpu)}});
  }
  doc["nodes"] = std::move(nodes);
  nlohmann::json links = nlohmann::json::array();
  for (const Link& l : topology.links()) {
    links.push_back({{"a", l.a},
                     {"b", l.b},
                     {"kind", linkKindName(l.kind)},
                     {"bandwidthGBps", l.bandwidthGBps},
                     {"latencyUs", l.latencyUs},
                     {"lanes", l.lanes},
                     {"pciGen", l.pciGen},
                     {"pciWidth", l.pciWidth}});
  }
  doc["links"] = std::move(links);
  const auto gpus = topology.nodesOf(NodeKind::Gpu);
  const auto nics = topology.nodesOf(NodeKind::Nic);
  nlohmann::json gpuPairs = nlohmann::json::array();
  for (size_t i = 0; i < gpus.size(); ++i) {
    for (size_t j = i + 1; j < gpus.size(); ++j) gpuPairs.push_back(pathJson(topology, gpus[i], gpus[j]));
  }
  doc["gpuPairs"] = std::move(gpuPairs);
  nlohmann::json gpuNicPairs = nlohmann::json::array();
  nlohmann::json nearest = nlohmann::json::array();
  for (NodeId gpu : gpus) {
    for (NodeId nic : nics) gpuNicPairs.push_back(pathJson(topology, gpu, nic));
    nearest.push_back({{"gpu", gpu}, {"nics", topology.nearestNics(gpu)}});
  }
  doc["gpuNicPairs"] = std::move(gpuNicPairs);
  doc["nearestNics"] = std::move(nearest);
  return doc.dump(2) + "\n";
}

// ---------------------------------------------------------------------------------------------
// toDot

namespace {

const char* dotShape(NodeKind kind) {
  switch (kind) {
    case NodeKind::Cpu: return "shape=box3d, style=filled, fillcolor=\"#dbe9f6\"";
    case NodeKind::PciSwitch: return "shape=diamond, style=filled, fillcolor=\"#eeeeee\"";
    case NodeKind::Gpu: return "shape=box, style=\"filled,rounded\", fillcolor=\"#e3f1d0\", color=\"#76b900\"";
    case NodeKind::NvSwitch: return "shape=hexagon, style=filled, fillcolor=\"#cfe8a9\", color=\"#4d7a00\"";
    case NodeKind::Nic: return "shape=component, style=filled, fillcolor=\"#fde7c8\"";
    case NodeKind::NicPort: return "shape=circle, style=filled, fillcolor=\"#fde7c8\", fontsize=9";
    case NodeKind::NetSwitch: return "shape=octagon, style=filled, fillcolor=\"#e8dcf4\"";
  }
  return "shape=box";
}

}  // namespace

std::string toDot(const Topology& topology) {
  std::string out = "graph topology {\n";
  out += fmt::format("  label={};\n  labelloc=t;\n", dotQuoted(topology.source));
  out += "  graph [fontname=\"Helvetica\", rankdir=TB, compound=true];\n";
  out += "  node [fontname=\"Helvetica\", fontsize=10];\n";
  out += "  edge [fontname=\"Helvetica\", fontsize=8];\n";

  auto nodeLine = [&](NodeId id, int indent) {
    const Node& n = topology.node(id);
    std::string label = n.name;
    const std::string facts = nodeFacts(topology, id);
    if (!facts.empty()) label += "\n" + facts;
    out += fmt::format("{:{}}n{} [label={}, {}];\n", "", indent, id, dotQuoted(label), dotShape(n.kind));
  };

  // Clusters: a host, and inside it one per CPU with the devices under it; devices under no CPU
  // (NVSwitches, orphans) in the host's cluster; network switches outside every host.
  std::vector<bool> placed(topology.nodes().size(), false);
  std::vector<NodeId> cpuOfNode(topology.nodes().size(), kNoNode);
  for (NodeId id = 0; id < topology.nodes().size(); ++id) {
    const NodeKind kind = topology.node(id).kind;
    if (kind == NodeKind::Cpu) {
      cpuOfNode[id] = id;
    } else if (kind == NodeKind::NicPort) {
      // A port sits with its NIC.
      for (uint32_t li : topology.linksOf(id)) {
        const NodeId other = topology.otherEnd(li, id);
        if (topology.node(other).kind == NodeKind::Nic) cpuOfNode[id] = topology.cpuOf(other);
      }
    } else if (kind != NodeKind::NetSwitch) {
      cpuOfNode[id] = topology.cpuOf(id);
    }
  }
  const uint32_t hosts = topology.hostCount();
  for (uint32_t h = 0; h < hosts; ++h) {
    out += fmt::format("  subgraph cluster_host{} {{\n    label=\"host {}\";\n    style=rounded;\n", h, h);
    for (NodeId cpu : topology.nodesOf(NodeKind::Cpu, static_cast<int>(h))) {
      out += fmt::format("    subgraph cluster_cpu{} {{\n      label={};\n      style=dashed;\n", cpu,
                         dotQuoted(topology.node(cpu).name));
      for (NodeId id = 0; id < topology.nodes().size(); ++id) {
        if (cpuOfNode[id] == cpu && !placed[id]) {
          nodeLine(id, 6);
          placed[id] = true;
        }
      }
      out += "    }\n";
    }
    for (NodeId id = 0; id < topology.nodes().size(); ++id) {
      const Node& n = topology.node(id);
      if (n.host == h && !placed[id] && n.kind != NodeKind::NetSwitch) {
        nodeLine(id, 4);
        placed[id] = true;
      }
    }
    out += "  }\n";
  }
  for (NodeId id = 0; id < topology.nodes().size(); ++id) {
    if (!placed[id]) nodeLine(id, 2);
  }

  for (const Link& l : topology.links()) {
    std::string style;
    switch (l.kind) {
      case LinkKind::NvLink:
        style = fmt::format(", color=\"#76b900\", fontcolor=\"#4d7a00\", penwidth={}",
                            trimmed(1 + std::min(l.lanes, 18) / 6.0));
        break;
      case LinkKind::CpuInterconnect: style = ", color=\"#3b6ea8\", penwidth=2"; break;
      case LinkKind::Net: style = ", color=\"#7a4da8\", style=dashed"; break;
      case LinkKind::C2C: style = ", color=\"#3b6ea8\", penwidth=2"; break;
      case LinkKind::Pci: style = ", color=\"#777777\""; break;
    }
    out += fmt::format("  n{} -- n{} [label={}{}];\n", l.a, l.b, dotQuoted(linkText(l)), style);
  }
  out += "}\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// SVG: one picture drawn here, laid out as an icicle per host. CPUs are the top row, PCIe
// switches the rows below, GPUs and NICs share one device row, and every box spans the boxes
// under it, so each PCIe link is a straight vertical line. NVSwitches form a band under the
// GPUs; GPU-GPU NVLinks are arcs into that band. Network switches, when present, are rows at the
// bottom.

namespace {

struct Style {
  const char* fill;
  const char* stroke;
};

Style styleOf(NodeKind kind) {
  switch (kind) {
    case NodeKind::Cpu: return {"#dbe9f6", "#3b6ea8"};
    case NodeKind::PciSwitch: return {"#eeeeee", "#777777"};
    case NodeKind::Gpu: return {"#e3f1d0", "#76b900"};
    case NodeKind::NvSwitch: return {"#cfe8a9", "#4d7a00"};
    case NodeKind::Nic: return {"#fde7c8", "#d98a00"};
    case NodeKind::NicPort: return {"#fde7c8", "#d98a00"};
    case NodeKind::NetSwitch: return {"#e8dcf4", "#7a4da8"};
  }
  return {"#ffffff", "#000000"};
}

constexpr const char* kNvLinkColor = "#76b900";
constexpr const char* kPciColor = "#777777";
constexpr const char* kCpuLinkColor = "#3b6ea8";
constexpr const char* kNetColor = "#7a4da8";

struct Rect {
  double x = 0, y = 0, w = 0, h = 0;
  bool placed = false;
  double cx() const { return x + w / 2; }
  double bottom() const { return y + h; }
};

class SvgCanvas {
 public:
  void rect(const Rect& r, Style style, double radius = 4, const std::string& extra = "") {
    body_ += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{}\" stroke=\"{}\"{}/>\n",
        trimmed(r.x), trimmed(r.y), trimmed(r.w), trimmed(r.h), trimmed(radius), style.fill, style.stroke,
        extra);
  }
  void text(double x, double y, const std::string& content, double size, const std::string& extra = "") {
    body_ += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\"{}>{}</text>\n", trimmed(x), trimmed(y),
                         trimmed(size), extra, xmlEscaped(content));
  }
  void line(double x1, double y1, double x2, double y2, const char* color, double width,
            const std::string& extra = "") {
    body_ += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"{}/>\n",
                         trimmed(x1), trimmed(y1), trimmed(x2), trimmed(y2), color, trimmed(width), extra);
  }
  // A quadratic curve from (x1,y1) to (x2,y2) bending through the control point.
  void curve(double x1, double y1, double cx, double cy, double x2, double y2, const char* color, double width) {
    body_ += fmt::format("<path d=\"M {} {} Q {} {} {} {}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"/>\n",
                         trimmed(x1), trimmed(y1), trimmed(cx), trimmed(cy), trimmed(x2), trimmed(y2), color,
                         trimmed(width));
  }
  void raw(const std::string& markup) { body_ += markup; }

  const std::string& markup() const { return body_; }

 private:
  std::string body_;
};

// Box geometry and fonts: a 124-px device box holds about 20 characters of 10-px text.
constexpr double kMargin = 24;
constexpr double kLeafWidth = 124;
constexpr double kBoxHeight = 52;
constexpr double kGap = 14;
constexpr double kRowPitch = 96;
constexpr double kCharWidth10 = 5.8;  // average advance of 10-px Helvetica

// Height of the arc over the CPU row between two CPUs this far apart.
double cpuArcLift(double distance) { return std::min(84.0, 12 + distance * 0.045); }

// The lines of text inside a node's box: name first, then what identifies it.
std::vector<std::string> boxLines(const Topology& topology, NodeId id) {
  const Node& n = topology.node(id);
  std::vector<std::string> lines = {n.name.empty() ? kindLabel(n.kind) : n.name};
  switch (n.kind) {
    case NodeKind::Cpu:
      lines.push_back(joined({n.model, n.memoryBytes ? bytesText(n.memoryBytes) : ""}, ", "));
      if (n.index >= 0) lines.push_back(fmt::format("NUMA {}", n.index));
      break;
    case NodeKind::PciSwitch:
      lines.push_back(n.model.empty() ? "PCIe switch" : n.model);
      lines.push_back(n.busId);
      break;
    case NodeKind::Gpu: {
      lines.push_back(joined({n.model, n.gpuSm ? smText(n.gpuSm) : ""}, " "));
      const int lanes = nvlinkLanes(topology, id);
      lines.push_back(joined({n.memoryBytes ? bytesText(n.memoryBytes) : "",
                              lanes ? fmt::format("NVLink x{}", lanes) : ""},
                             ", "));
      break;
    }
    case NodeKind::Nic: {
      const NicFacts facts = nicFacts(topology, id);
      lines.push_back(n.model);
      lines.push_back(joined({portSpeedText(facts), shortLinkLayer(facts.linkLayer), railText(facts)}, " "));
      break;
    }
    case NodeKind::NvSwitch: {
      int gpus = 0;
      for (uint32_t li : topology.linksOf(id)) {
        if (topology.node(topology.otherEnd(li, id)).kind == NodeKind::Gpu) ++gpus;
      }
      lines.push_back(n.model.empty() ? "NVSwitch" : n.model);
      lines.push_back(fmt::format("{} GPUs, {} lanes", gpus, nvlinkLanes(topology, id)));
      break;
    }
    case NodeKind::NetSwitch:
      lines.push_back(n.model.empty() ? "network switch" : n.model);
      lines.push_back(joined({n.tier >= 0 ? fmt::format("tier {}", n.tier) : "",
                              n.radix ? fmt::format("radix {}", n.radix) : ""},
                             ", "));
      break;
    case NodeKind::NicPort:
      break;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

void drawNodeBox(SvgCanvas& canvas, const Topology& topology, NodeId id, const Rect& r) {
  const Node& n = topology.node(id);
  const Style style = styleOf(n.kind);
  canvas.raw("<g>\n");
  // A tooltip with every fact, since the box shows only what fits.
  const std::string facts = nodeFacts(topology, id);
  const std::string tooltip = fmt::format("{} {}{}", kindLabel(n.kind), n.name, facts.empty() ? "" : ": " + facts);
  canvas.raw("<title>" + xmlEscaped(tooltip) + "</title>\n");
  canvas.rect(r, style, n.kind == NodeKind::Gpu ? 6 : 3, n.kind == NodeKind::Gpu ? " stroke-width=\"2\"" : "");
  const std::vector<std::string> lines = boxLines(topology, id);
  const size_t maxChars = static_cast<size_t>(std::max(4.0, (r.w - 8) / kCharWidth10));
  const double lineHeight = 13;
  double y = r.y + (r.h - lineHeight * static_cast<double>(lines.size())) / 2 + 10;
  for (size_t i = 0; i < lines.size(); ++i) {
    const bool title = i == 0;
    canvas.text(r.cx(), y, fitted(lines[i], title ? maxChars - 2 : maxChars), title ? 11 : 9.5,
                title ? " text-anchor=\"middle\" font-weight=\"bold\"" : " text-anchor=\"middle\" fill=\"#333333\"");
    y += lineHeight;
  }
  canvas.raw("</g>\n");
}

void drawLegend(SvgCanvas& canvas, double x, double y) {
  canvas.text(x, y + 12, "Legend", 11, " font-weight=\"bold\"");
  x += 56;
  const std::pair<NodeKind, const char*> boxes[] = {{NodeKind::Cpu, "CPU / NUMA"},
                                                    {NodeKind::PciSwitch, "PCIe switch"},
                                                    {NodeKind::Gpu, "GPU"},
                                                    {NodeKind::Nic, "NIC"},
                                                    {NodeKind::NvSwitch, "NVSwitch"},
                                                    {NodeKind::NetSwitch, "network switch"}};
  for (const auto& [kind, label] : boxes) {
    canvas.rect({x, y + 2, 16, 12}, styleOf(kind), 2);
    canvas.text(x + 21, y + 12, label, 10);
    x += 26 + kCharWidth10 * static_cast<double>(std::string_view(label).size()) + 12;
  }
  struct LineSample {
    const char* color;
    double width;
    const char* dash;
    const char* label;
  };
  const LineSample samples[] = {{kPciColor, 1.5, "", "PCIe"},
                                {kNvLinkColor, 3, "", "NVLink"},
                                {kCpuLinkColor, 2.5, "", "CPU interconnect"},
                                {kNetColor, 1.5, " stroke-dasharray=\"5,3\"", "network"}};
  for (const auto& s : samples) {
    canvas.line(x, y + 8, x + 24, y + 8, s.color, s.width, s.dash);
    canvas.text(x + 29, y + 12, s.label, 10);
    x += 36 + kCharWidth10 * static_cast<double>(std::string_view(s.label).size()) + 12;
  }
}

std::string svgDocument(double width, double height, const std::string& title, const std::string& content) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"Helvetica, Arial, sans-serif\">\n",
      trimmed(std::ceil(width)), trimmed(std::ceil(height)));
  out += "<title>" + xmlEscaped(title) + "</title>\n";
  out += "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  return out + content + "</svg>\n";
}

constexpr double kLegendWidth = 56 + 6 * 38 + kCharWidth10 * 56 + 4 * 48 + kCharWidth10 * 33;

}  // namespace

std::string toSvg(const Topology& topology) {
  const PciForest forest = buildPciForest(topology, /*withNvSwitches=*/false);
  std::vector<Rect> box(topology.nodes().size());
  SvgCanvas canvas;
  double width = kMargin * 2 + kLegendWidth;

  const auto cpus = topology.nodesOf(NodeKind::Cpu);
  const auto gpus = topology.nodesOf(NodeKind::Gpu);
  const auto nics = topology.nodesOf(NodeKind::Nic);
  const auto nvSwitches = topology.nodesOf(NodeKind::NvSwitch);
  const std::string title =
      "Topology: " + (topology.source.empty() ? std::string("(unknown source)") : topology.source);
  auto counted = [](size_t n, const char* one, const char* many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
  };
  const std::string counts = joined({counted(topology.hostCount(), "host", "hosts"),
                                     counted(cpus.size(), "CPU", "CPUs"), counted(gpus.size(), "GPU", "GPUs"),
                                     counted(nvSwitches.size(), "NVSwitch", "NVSwitches"),
                                     counted(nics.size(), "NIC", "NICs")},
                                    ", ");
  canvas.text(kMargin, 28, title, 16, " font-weight=\"bold\"");
  canvas.text(kMargin, 46, counts, 11, " fill=\"#555555\"");
  double y = 64;

  const uint32_t hosts = std::max<uint32_t>(topology.hostCount(), 1);
  const bool framed = hosts > 1;
  // Deferred drawing: lines go under boxes, so boxes are drawn after every line.
  std::vector<NodeId> drawn;
  SvgCanvas lines;

  for (uint32_t h = 0; h < hosts; ++h) {
    const std::vector<NodeId> roots = rootsOfHost(topology, forest, h);
    const std::vector<NodeId> hostNvSwitches = topology.nodesOf(NodeKind::NvSwitch, static_cast<int>(h));
    const double hostTop = y + (framed ? 22 : 0);
    // CPU interconnect arcs need headroom above the CPU row: as much as the highest arc, which
    // belongs to the farthest pair, at most every CPU apart.
    size_t hostCpus = 0;
    bool cpuLinks = false;
    for (NodeId cpu : topology.nodesOf(NodeKind::Cpu, static_cast<int>(h))) {
      ++hostCpus;
      for (uint32_t li : topology.linksOf(cpu)) cpuLinks |= topology.links()[li].kind == LinkKind::CpuInterconnect;
    }
    const double rowTop = hostTop + (cpuLinks ? cpuArcLift(static_cast<double>(hostCpus) * 4000) + 22 : 8);

    // Rows: CPUs 0, switches at their depth, GPUs and NICs all on the row under the deepest switch.
    int deviceRow = 1;
    for (NodeId id = 0; id < topology.nodes().size(); ++id) {
      const Node& n = topology.node(id);
      if (n.host == h && forest.depth[id] >= 0 && n.kind == NodeKind::PciSwitch) {
        deviceRow = std::max(deviceRow, forest.depth[id] + 1);
      }
    }
    auto rowOf = [&](NodeId id) {
      const NodeKind kind = topology.node(id).kind;
      if (kind == NodeKind::Gpu || kind == NodeKind::Nic) return deviceRow;
      return kind == NodeKind::Cpu ? 0 : forest.depth[id];
    };

    // Post-order placement: leaves take the next slot, parents span their children.
    double cursor = kMargin + (framed ? 12 : 0);
    const double left = cursor;
    std::function<void(NodeId)> place = [&](NodeId id) {
      const double rowY = rowTop + rowOf(id) * kRowPitch;
      const auto& kids = forest.children[id];
      if (kids.empty()) {
        box[id] = {cursor, rowY, kLeafWidth, kBoxHeight, true};
        cursor += kLeafWidth + kGap;
      } else {
        const double start = cursor;
        for (NodeId kid : kids) place(kid);
        box[id] = {start, rowY, cursor - kGap - start, kBoxHeight, true};
      }
      drawn.push_back(id);
    };
    for (NodeId root : roots) {
      place(root);
      cursor += kGap;  // a wider gap between sockets
    }
    double right = std::max(cursor - 2 * kGap, left + kLeafWidth);
    const double deviceBottom = rowTop + deviceRow * kRowPitch + kBoxHeight;

    // Direct GPU-GPU NVLinks curve down under the device row; their depth sets the band's offset.
    double arcDepth = 0;
    for (const Link& l : topology.links()) {
      if (l.kind != LinkKind::NvLink || topology.node(l.a).host != h) continue;
      if (topology.node(l.a).kind == NodeKind::Gpu && topology.node(l.b).kind == NodeKind::Gpu &&
          box[l.a].placed && box[l.b].placed) {
        arcDepth = std::max(arcDepth, std::min(130.0, 24 + std::abs(box[l.a].cx() - box[l.b].cx()) * 0.12));
      }
    }
    double bottom = deviceBottom;
    if (!hostNvSwitches.empty()) {
      // Spread the NVSwitches under the GPUs they serve.
      double gpuLeft = left, gpuRight = right;
      bool anyGpu = false;
      for (NodeId g : topology.nodesOf(NodeKind::Gpu, static_cast<int>(h))) {
        if (!box[g].placed) continue;
        gpuLeft = anyGpu ? std::min(gpuLeft, box[g].x) : box[g].x;
        gpuRight = anyGpu ? std::max(gpuRight, box[g].x + box[g].w) : box[g].x + box[g].w;
        anyGpu = true;
      }
      const double bandY = deviceBottom + 70 + arcDepth;
      const double slot =
          std::max(kLeafWidth + kGap, (gpuRight - gpuLeft + kGap) / static_cast<double>(hostNvSwitches.size()));
      const double bandWidth = slot * static_cast<double>(hostNvSwitches.size());
      const double bandLeft = std::max(left, (gpuLeft + gpuRight) / 2 - bandWidth / 2);
      for (size_t i = 0; i < hostNvSwitches.size(); ++i) {
        box[hostNvSwitches[i]] = {bandLeft + slot * static_cast<double>(i) + (slot - kLeafWidth) / 2, bandY,
                                  kLeafWidth, kBoxHeight, true};
        drawn.push_back(hostNvSwitches[i]);
      }
      right = std::max(right, bandLeft + bandWidth - kGap);
      bottom = bandY + kBoxHeight;
    } else if (arcDepth > 0) {
      bottom = deviceBottom + arcDepth + 8;
    }

    if (framed) {
      lines.rect({kMargin, y, right - kMargin + 12, bottom - y + 14}, {"#fafafa", "#bbbbbb"}, 8);
      lines.text(kMargin + 8, y + 15, fmt::format("host {}", h), 11, " font-weight=\"bold\" fill=\"#555555\"");
    }
    width = std::max(width, right + kMargin + (framed ? 12 : 0));
    y = bottom + (framed ? 30 : 16);
  }

  // Network switches: one row per tier, leaf first, across the whole picture.
  std::map<int, std::vector<NodeId>> tiers;
  for (NodeId id : topology.nodesOf(NodeKind::NetSwitch)) tiers[std::max(0, topology.node(id).tier)].push_back(id);
  for (auto& [tier, switches] : tiers) {
    y += 40;
    const double slot = kLeafWidth + kGap;
    const double rowWidth = slot * static_cast<double>(switches.size()) - kGap;
    double x = std::max(kMargin, (width - rowWidth) / 2);
    for (NodeId id : switches) {
      box[id] = {x, y, kLeafWidth, kBoxHeight, true};
      drawn.push_back(id);
      x += slot;
    }
    width = std::max(width, x - kGap + kMargin);
    y += kBoxHeight;
  }

  // Links, under the boxes.
  auto nicOfPort = [&](NodeId port) {
    for (uint32_t li : topology.linksOf(port)) {
      const NodeId other = topology.otherEnd(li, port);
      if (topology.node(other).kind == NodeKind::Nic) return other;
    }
    return kNoNode;
  };
  for (uint32_t li = 0; li < topology.links().size(); ++li) {
    const Link& l = topology.links()[li];
    NodeId a = l.a, b = l.b;
    // A port is drawn as part of its NIC.
    if (topology.node(a).kind == NodeKind::NicPort) a = nicOfPort(a);
    if (topology.node(b).kind == NodeKind::NicPort) b = nicOfPort(b);
    if (a == kNoNode || b == kNoNode || a == b || !box[a].placed || !box[b].placed) continue;
    const Rect& ra = box[a];
    const Rect& rb = box[b];
    const double nvWidth = 1 + std::min(l.lanes, 18) / 6.0;
    const NodeKind ka = topology.node(a).kind, kb = topology.node(b).kind;
    if (forest.parentLink[l.b] == li || forest.parentLink[l.a] == li) {
      // A PCIe tree edge: parent spans child, so the line drops straight down.
      const Rect& parent = forest.parentLink[l.b] == li ? ra : rb;
      const Rect& child = forest.parentLink[l.b] == li ? rb : ra;
      lines.line(child.cx(), parent.bottom(), child.cx(), child.y, l.kind == LinkKind::C2C ? kCpuLinkColor : kPciColor,
                 1.5);
      std::string shape = l.pciGen > 0 ? fmt::format("Gen{}", l.pciGen) : (l.kind == LinkKind::C2C ? "C2C" : "");
      if (l.pciWidth > 0) shape += fmt::format(" x{}", l.pciWidth);
      if (!shape.empty()) lines.text(child.cx() + 4, child.y - 8, shape, 8.5, " fill=\"#666666\"");
    } else if (l.kind == LinkKind::NvLink && ka == NodeKind::Gpu && kb == NodeKind::Gpu) {
      const double depth = std::min(130.0, 24 + std::abs(ra.cx() - rb.cx()) * 0.12);
      const double midX = (ra.cx() + rb.cx()) / 2;
      lines.curve(ra.cx(), ra.bottom(), midX, ra.bottom() + depth * 2, rb.cx(), rb.bottom(), kNvLinkColor, nvWidth);
      lines.text(midX, ra.bottom() + depth + 4, fmt::format("NV{}", l.lanes), 8.5,
                 " text-anchor=\"middle\" fill=\"#4d7a00\"");
    } else if (l.kind == LinkKind::NvLink) {
      // GPU to NVSwitch (or switch to switch): from the upper box's bottom to the lower's top.
      const Rect& upper = ra.y <= rb.y ? ra : rb;
      const Rect& lower = ra.y <= rb.y ? rb : ra;
      // Lines leave a GPU fanned out by switch, so that each bundle can be told apart.
      double fromX = upper.cx();
      const NodeId upperId = ra.y <= rb.y ? a : b;
      const NodeId lowerId = ra.y <= rb.y ? b : a;
      if (topology.node(upperId).kind == NodeKind::Gpu && topology.node(lowerId).kind == NodeKind::NvSwitch) {
        const auto peers = topology.nodesOf(NodeKind::NvSwitch, static_cast<int>(topology.node(lowerId).host));
        const auto at = std::find(peers.begin(), peers.end(), lowerId) - peers.begin();
        const double spread = std::min(10.0, (upper.w - 20) / static_cast<double>(std::max<size_t>(peers.size(), 1)));
        fromX += (static_cast<double>(at) - (static_cast<double>(peers.size()) - 1) / 2) * spread;
      }
      if (std::abs(upper.y - lower.y) < 1) {
        lines.line(std::min(ra.x + ra.w, rb.x + rb.w), ra.y + ra.h / 2, std::max(ra.x, rb.x), rb.y + rb.h / 2,
                   kNvLinkColor, nvWidth);
      } else {
        lines.line(fromX, upper.bottom(), lower.cx(), lower.y, kNvLinkColor, nvWidth, " stroke-opacity=\"0.75\"");
      }
    } else if (l.kind == LinkKind::CpuInterconnect) {
      // Farther pairs arc higher, so that all-to-all sockets (4 NUMA domains) stay apart.
      const double lift = cpuArcLift(std::abs(ra.cx() - rb.cx()));
      const double midX = (ra.cx() + rb.cx()) / 2;
      lines.curve(ra.cx(), ra.y, midX, ra.y - lift * 2, rb.cx(), rb.y, kCpuLinkColor, 2.5);
      lines.text(midX, ra.y - lift - 4, linkText(l), 9, " text-anchor=\"middle\" fill=\"#3b6ea8\"");
    } else if (l.kind == LinkKind::Net) {
      const Rect& upper = ra.y <= rb.y ? ra : rb;
      const Rect& lower = ra.y <= rb.y ? rb : ra;
      lines.line(upper.cx(), upper.bottom(), lower.cx(), lower.y, kNetColor, 1.2,
                 " stroke-dasharray=\"5,3\" stroke-opacity=\"0.7\"");
    } else {
      // A PCIe link that is not a tree edge (a second route, an NVSwitch's management port):
      // dotted and faint, so the tree stays clear.
      lines.line(ra.cx(), ra.bottom(), rb.cx(), rb.y, kPciColor, 1, " stroke-dasharray=\"2,3\" stroke-opacity=\"0.5\"");
    }
  }
  for (NodeId id : drawn) drawNodeBox(canvas, topology, id, box[id]);
  drawLegend(canvas, kMargin, y + 16);
  return svgDocument(width, y + 48, title,
                     "<g id=\"links\">\n" + lines.markup() + "</g>\n<g id=\"nodes\">\n" + canvas.markup() + "</g>\n");
}

// ---------------------------------------------------------------------------------------------
// Fabrics

namespace {

// Tier i's facts by index; the summary and the description list tiers in the same order.
const SwitchTier* tierAt(const Fabric& fabric, size_t i) {
  return i < fabric.tiers.size() ? &fabric.tiers[i] : nullptr;
}

std::string oversubscriptionText(double ratio) {
  return ratio <= 1.0 ? "1:1" : fmt::format("{}:1", trimmed(ratio, 2));
}

std::string serversLine(const Fabric& fabric, const FabricSummary& summary) {
  return fmt::format("{} x {} ({} GPUs, {} NICs x {} Gb/s{}{})", grouped(summary.servers),
                     fabric.serverPreset.empty() ? "server" : fabric.serverPreset, fabric.gpusPerServer,
                     fabric.nicsPerServer, trimmed(fabric.nicGbps),
                     fabric.extraNicsPerServer > 0 ? fmt::format(" + {} off-fabric", fabric.extraNicsPerServer) : "",
                     fabric.railOptimized ? ", rail-optimized" : "");
}

// Down-facing ports per switch: set by the design, or derived as fabric.h describes.
std::string portsDownText(const SwitchTier* spec) {
  if (!spec) return "?";
  return spec->portsDown > 0 ? std::to_string(spec->portsDown) : "auto";
}

}  // namespace

std::string fabricSummaryText(const Fabric& fabric, const FabricSummary& summary) {
  std::string out = fmt::format("Fabric: {}\n", fabric.name);
  if (!fabric.description.empty()) out += fmt::format("  {}\n", fabric.description);
  out += fmt::format("Servers: {}\n", serversLine(fabric, summary));
  out += fmt::format("GPUs: {}\nNICs: {}\n", grouped(summary.gpus), grouped(summary.nics));
  out += fmt::format("\n{:<10} {:>10} {:>6} {:>10} {:>9} {:>8} {:>12} {:>12} {:>12} {:>8}\n", "tier", "switches",
                     "radix", "ports down", "port Gb/s", "oversub", "links down", "links up", "down Tbit/s", "hop us");
  for (size_t i = 0; i < summary.tiers.size(); ++i) {
    const TierSummary& t = summary.tiers[i];
    const SwitchTier* spec = tierAt(fabric, i);
    out += fmt::format("{:<10} {:>10} {:>6} {:>10} {:>9} {:>8} {:>12} {:>12} {:>12} {:>8}\n", t.name,
                       grouped(t.switches), spec ? std::to_string(spec->radix) : "?", portsDownText(spec),
                       spec ? trimmed(spec->linkGbps) : "?",
                       spec ? oversubscriptionText(spec->oversubscription) : "?", grouped(t.linksDown),
                       grouped(t.linksUp), groupedDecimal(t.downTbps), spec ? trimmed(spec->latencyUs, 2) : "?");
  }
  out += fmt::format("\nBisection: {} Tbit/s total, {} Gbit/s per GPU\n", groupedDecimal(summary.bisectionTbps),
                     trimmed(summary.bisectionPerGpuGbps));
  if (!summary.notes.empty()) {
    out += "Notes:\n";
    for (const std::string& note : summary.notes) out += "  - " + note + "\n";
  }
  return out;
}

// Schema "strata.fabric/1":
// {
//   "schema": "strata.fabric/1",
//   "fabric": { "name", "description", "serverPreset", "servers", "gpusPerServer", "nicsPerServer",
//               "nicGbps", "extraNicsPerServer", "railOptimized",
//               "tiers": [{ "name", "radix", "linkGbps", "latencyUs", "oversubscription",
//                           "portsDown" (0: derived) }] },
//   "summary": { "servers", "gpus", "nics", "bisectionTbps", "bisectionPerGpuGbps", "notes": [],
//                "tiers": [{ "name", "switches", "linksDown", "linksUp", "downTbps" }] }
// }
// Tiers are leaf first in both lists.
std::string fabricToJson(const Fabric& fabric, const FabricSummary& summary) {
  nlohmann::json tiers = nlohmann::json::array();
  for (const SwitchTier& t : fabric.tiers) {
    tiers.push_back({{"name", t.name},
                     {"radix", t.radix},
                     {"linkGbps", t.linkGbps},
                     {"latencyUs", t.latencyUs},
                     {"oversubscription", t.oversubscription},
                     {"portsDown", t.portsDown}});
  }
  nlohmann::json tierSummaries = nlohmann::json::array();
  for (const TierSummary& t : summary.tiers) {
    tierSummaries.push_back({{"name", t.name},
                             {"switches", t.switches},
                             {"linksDown", t.linksDown},
                             {"linksUp", t.linksUp},
                             {"downTbps", t.downTbps}});
  }
  nlohmann::json doc = {
      {"schema", "strata.fabric/1"},
      {"fabric",
       {{"name", fabric.name},
        {"description", fabric.description},
        {"serverPreset", fabric.serverPreset},
        {"servers", fabric.servers},
        {"gpusPerServer", fabric.gpusPerServer},
        {"nicsPerServer", fabric.nicsPerServer},
        {"nicGbps", fabric.nicGbps},
        {"extraNicsPerServer", fabric.extraNicsPerServer},
        {"railOptimized", fabric.railOptimized},
        {"tiers", std::move(tiers)}}},
      {"summary",
       {{"servers", summary.servers},
        {"gpus", summary.gpus},
        {"nics", summary.nics},
        {"bisectionTbps", summary.bisectionTbps},
        {"bisectionPerGpuGbps", summary.bisectionPerGpuGbps},
        {"notes", summary.notes},
        {"tiers", std::move(tierSummaries)}}}};
  return doc.dump(2) + "\n";
}

// A tier diagram: the top tier at the top, the servers at the bottom, each tier one box with a
// row of switch glyphs, and between tiers a fan of lines labeled with the cable count and total
// bandwidth. Facts (bisection, notes) sit in a panel on the right.
std::string fabricToSvg(const Fabric& fabric, const FabricSummary& summary) {
  constexpr double kDiagramLeft = 40, kTierWidth = 460, kTierHeight = 62, kConnector = 78;
  constexpr double kPanelLeft = kDiagramLeft + kTierWidth + 190;
  constexpr double kPanelWidth = 300;
  SvgCanvas back, front;
  const std::string title = "Fabric: " + fabric.name;
  front.text(kMargin, 28, title, 16, " font-weight=\"bold\"");
  if (!fabric.description.empty()) {
    front.text(kMargin, 46, fitted(fabric.description, 150), 11, " fill=\"#555555\"");
  }

  // Boxes from the top: tiers in reverse (top tier first), then the servers.
  const size_t tierCount = summary.tiers.size();
  double y = 70;
  std::vector<Rect> tierBoxes(tierCount);
  for (size_t k = 0; k < tierCount; ++k) {
    const size_t i = tierCount - 1 - k;
    tierBoxes[i] = {kDiagramLeft, y, kTierWidth, kTierHeight, true};
    y += kTierHeight + kConnector;
  }
  const Rect serversBox = {kDiagramLeft, y, kTierWidth, kTierHeight, true};

  // A row of small glyphs inside a box: up to 16, with an ellipsis when there are more.
  auto glyphs = [&](const Rect& r, uint64_t count, Style style, double glyphWidth) {
    const int shown = static_cast<int>(std::min<uint64_t>(count, 16));
    const double step = glyphWidth + 6;
    double x = r.cx() - (step * shown - 6) / 2 - (count > 16 ? 10 : 0);
    for (int g = 0; g < shown; ++g) {
      front.rect({x, r.y + 8, glyphWidth, 10}, style, 1.5);
      x += step;
    }
    if (count > 16) front.text(x + 2, r.y + 17, "\u2026", 12, " fill=\"#555555\"");
  };

  // Connectors: a fan of lines from the upper box to the lower one, and the label at the side.
  auto connector = [&](const Rect& upper, const Rect& lower, const std::string& label, const std::string& detail,
                       const char* color) {
    constexpr int kStrands = 8;
    for (int s = 0; s < kStrands; ++s) {
      const double top = upper.x + 30 + (upper.w - 60) * s / (kStrands - 1);
      const double bottomX = lower.x + 30 + (lower.w - 60) * ((s * 3) % kStrands) / (kStrands - 1);
      back.line(top, upper.bottom(), bottomX, lower.y, color, 1.2, " stroke-opacity=\"0.6\"");
    }
    const double midY = (upper.bottom() + lower.y) / 2;
    front.text(upper.x + upper.w + 16, midY - 2, label, 11, " font-weight=\"bold\"");
    front.text(upper.x + upper.w + 16, midY + 13, detail, 10, " fill=\"#555555\"");
  };

  for (size_t i = 0; i < tierCount; ++i) {
    const TierSummary& t = summary.tiers[i];
    const SwitchTier* spec = tierAt(fabric, i);
    const Rect& r = tierBoxes[i];
    front.raw("<g>\n");
    front.rect(r, styleOf(NodeKind::NetSwitch), 6);
    glyphs(r, t.switches, {"#ffffff", "#7a4da8"}, 18);
    front.text(r.cx(), r.y + 36, fmt::format("{}: {} switches", t.name, grouped(t.switches)), 12,
               " text-anchor=\"middle\" font-weight=\"bold\"");
    if (spec) {
      front.text(r.cx(), r.y + 52,
                 fmt::format("radix {}{}, {} Gb/s ports, {}, {} us/hop", spec->radix,
                             spec->portsDown > 0 ? fmt::format(" ({} down)", spec->portsDown) : "",
                             trimmed(spec->linkGbps), oversubscriptionText(spec->oversubscription),
                             trimmed(spec->latencyUs, 2)),
                 10, " text-anchor=\"middle\" fill=\"#333333\"");
    }
    front.raw("</g>\n");
    if (i + 1 < tierCount) {
      // Cables between tier i and the one above: the upper tier's downlinks.
      const TierSummary& up = summary.tiers[i + 1];
      connector(tierBoxes[i + 1], r, fmt::format("{} cables", grouped(up.linksDown)),
                fmt::format("{} Tbit/s", groupedDecimal(up.downTbps)), kNetColor);
    }
  }

  front.raw("<g>\n");
  front.rect(serversBox, {"#f3f3f3", "#555555"}, 6);
  glyphs(serversBox, summary.servers, {"#e3f1d0", "#76b900"}, 14);
  front.text(serversBox.cx(), serversBox.y + 36,
             fmt::format("{} servers x {} GPUs", grouped(summary.servers), fabric.gpusPerServer), 12,
             " text-anchor=\"middle\" font-weight=\"bold\"");
  front.text(serversBox.cx(), serversBox.y + 52,
             fmt::format("{}{} NICs x {} Gb/s each{}{}", fabric.serverPreset.empty() ? "" : fabric.serverPreset + ", ",
                         fabric.nicsPerServer, trimmed(fabric.nicGbps),
                         fabric.extraNicsPerServer > 0
                             ? fmt::format(" (+{} off-fabric)", fabric.extraNicsPerServer)
                             : "",
                         fabric.railOptimized ? fmt::format(", {} rails", fabric.nicsPerServer) : ""),
             10, " text-anchor=\"middle\" fill=\"#333333\"");
  front.raw("</g>\n");
  if (tierCount > 0) {
    const TierSummary& leaf = summary.tiers.front();
    connector(tierBoxes.front(), serversBox, fmt::format("{} NIC cables", grouped(leaf.linksDown)),
              fmt::format("{} Tbit/s", groupedDecimal(leaf.downTbps)), "#d98a00");
  }

  // The facts panel.
  double panelY = 80;
  auto fact = [&](const std::string& label, const std::string& value) {
    front.text(kPanelLeft, panelY, label, 10, " fill=\"#555555\"");
    front.text(kPanelLeft + 120, panelY, value, 11, " font-weight=\"bold\"");
    panelY += 18;
  };
  fact("servers", grouped(summary.servers));
  fact("GPUs", grouped(summary.gpus));
  fact("NICs", grouped(summary.nics));
  fact("switch tiers", std::to_string(tierCount));
  fact("bisection", groupedDecimal(summary.bisectionTbps) + " Tbit/s");
  fact("per GPU", trimmed(summary.bisectionPerGpuGbps) + " Gbit/s");
  if (!summary.notes.empty()) {
    panelY += 10;
    front.text(kPanelLeft, panelY, "Notes", 11, " font-weight=\"bold\"");
    panelY += 16;
    for (const std::string& note : summary.notes) {
      bool first = true;
      for (const std::string& line : wrapped(note, 48)) {
        front.text(kPanelLeft + (first ? 0 : 10), panelY, (first ? "- " : "") + line, 10);
        panelY += 14;
        first = false;
      }
    }
  }
  const double height = std::max(serversBox.bottom(), panelY) + 30;
  return svgDocument(kPanelLeft + kPanelWidth + kMargin, height, title,
                     "<g id=\"links\">\n" + back.markup() + "</g>\n<g id=\"tiers\">\n" + front.markup() + "</g>\n");
}

}  // namespace strata::topo
