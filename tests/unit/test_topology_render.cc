// The topology views (topology/render.h) over hand-built machines: the nvidia-smi matrix reads
// the codes the field expects, and the JSON, DOT and SVG outputs parse back and name every device.
// GCC 12 warns of a maybe-uninitialized std::function inside libstdc++'s <regex> automaton at
// -O1 (the sanitizer builds): a false positive in the library's code, not in this file's.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <pugixml.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "topology/render.h"

namespace strata::topo {
namespace {

struct ServerOptions {
  int gpus = 8;              // two GPUs and two NICs per PCIe switch
  int nvSwitches = 4;        // 0: direct GPU-GPU NVLinks instead (a ring of 4-lane bundles)
  std::string gpuPrefix = "GPU";
  uint32_t host = 0;
  int railBase = 0;
};

// An HGX-H100-like server: 2 sockets, 4 PCIe Gen5 switches per 8 GPUs, each switch with two GPUs
// and two NICs (one 400 Gb/s port each, NIC i on rail i), every GPU spread over the NVSwitch
// chips with 18 lanes in all (5+4+4+5 over 4 chips, as on H100 boards).
Topology hgxServer(const ServerOptions& options = {}, Topology* into = nullptr) {
  Topology local;
  Topology& t = into ? *into : local;
  t.source = "hand-built test server";
  const uint32_t h = options.host;
  std::vector<NodeId> cpus;
  for (int c = 0; c < 2; ++c) {
    Node cpu;
    cpu.kind = NodeKind::Cpu;
    cpu.host = h;
    cpu.index = c;
    cpu.name = "NUMA" + std::to_string(c);
    cpu.model = "Intel Xeon Platinum 8480C";
    cpu.memoryBytes = uint64_t{1024} << 30;
    cpus.push_back(t.addNode(cpu));
  }
  t.addLink({cpus[0], cpus[1], LinkKind::CpuInterconnect, 62.4, 0.6});
  const int switches = options.gpus / 2;
  std::vector<NodeId> gpus;
  for (int s = 0; s < switches; ++s) {
    Node sw;
    sw.kind = NodeKind::PciSwitch;
    sw.host = h;
    sw.name = "PCIe" + std::to_string(s);
    sw.busId = fmt::format("0000:{:02x}:00.0", 0x10 * (s + 1));
    const NodeId swId = t.addNode(sw);
    Link up{cpus[s < switches / 2 ? 0 : 1], swId, LinkKind::Pci, pciBandwidthGBps(5, 16), 0.2};
    up.pciGen = 5;
    up.pciWidth = 16;
    t.addLink(up);
    for (int k = 0; k < 2; ++k) {
      const int i = s * 2 + k;
      Node gpu;
      gpu.kind = NodeKind::Gpu;
      gpu.host = h;
      gpu.index = i;
      gpu.name = options.gpuPrefix + std::to_string(i);
      gpu.busId = fmt::format("0000:{:02x}:00.0", 0x10 * (s + 1) + 2 + k);
      gpu.model = "H100";
      gpu.gpuSm = 90;
      gpu.memoryBytes = uint64_t{80} << 30;
      const NodeId g = t.addNode(gpu);
      gpus.push_back(g);
      Link down = up;
      down.a = swId;
      down.b = g;
      t.addLink(down);
    }
    for (int k = 0; k < 2; ++k) {
      const int i = s * 2 + k;
      Node nic;
      nic.kind = NodeKind::Nic;
      nic.host = h;
      nic.index = i;
      nic.name = "mlx5_" + std::to_string(i);
      nic.busId = fmt::format("0000:{:02x}:00.0", 0x10 * (s + 1) + 4 + k);
      nic.model = "ConnectX-7";
      nic.rail = options.railBase + i;
      nic.gpuDirect = true;
      const NodeId n = t.addNode(nic);
      Link down = up;
      down.a = swId;
      down.b = n;
      t.addLink(down);
      Node port;
      port.kind = NodeKind::NicPort;
      port.host = h;
      port.index = 1;
      port.name = nic.name + "/1";
      port.speedGbps = 400;
      port.linkLayer = "InfiniBand";
      port.rail = nic.rail;
      port.guid = 0xb8cef60300000000ull + static_cast<uint64_t>(i);
      const NodeId p = t.addNode(port);
      t.addLink({n, p, LinkKind::Pci, 50, 0});
    }
  }
  if (options.nvSwitches > 0) {
    const int lanes[] = {5, 4, 4, 5};
    for (int c = 0; c < options.nvSwitches; ++c) {
      Node nvs;
      nvs.kind = NodeKind::NvSwitch;
      nvs.host = h;
      nvs.index = c;
      nvs.name = "NVSwitch" + std::to_string(c);
      const NodeId id = t.addNode(nvs);
      for (NodeId g : gpus) {
        Link l{g, id, LinkKind::NvLink, 0, 0.025};
        l.lanes = options.nvSwitches == 4 ? lanes[c] : 18 / options.nvSwitches;
        l.bandwidthGBps = nvlinkBandwidthGBps(90, l.lanes);
        t.addLink(l);
      }
    }
  } else {
    for (size_t i = 0; i < gpus.size(); ++i) {
      // 4 lanes (80 GB/s) beat the PCIe Gen5 route, so the widest path is the NVLink one.
      Link l{gpus[i], gpus[(i + 1) % gpus.size()], LinkKind::NvLink, nvlinkBandwidthGBps(70, 4), 0.025};
      l.lanes = 4;
      t.addLink(l);
    }
  }
  t.notes.push_back("hand-built: no discovery was run");
  return t;
}

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> splitTabs(const std::string& line) {
  std::vector<std::string> cells;
  size_t start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    cells.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return cells;
}

// The matrix as label -> (column label -> cell), read as a script reads nvidia-smi's output.
std::map<std::string, std::map<std::string, std::string>> parseMatrix(const std::string& text) {
  const auto lines = splitLines(text);
  std::map<std::string, std::map<std::string, std::string>> cells;
  if (lines.empty()) return cells;
  const auto header = splitTabs(lines[0]);
  for (size_t r = 1; r < lines.size() && !lines[r].empty(); ++r) {
    const auto row = splitTabs(lines[r]);
    for (size_t c = 1; c < row.size() && c < header.size(); ++c) cells[row[0]][header[c]] = row[c];
  }
  return cells;
}

TEST(TopologyRender, MatrixOfNvSwitchServer) {
  const Topology t = hgxServer();
  const std::string text = matrixText(t);
  const auto m = parseMatrix(text);
  ASSERT_EQ(m.size(), 16u) << text;
  for (int i = 0; i < 8; ++i) {
    const std::string gi = "GPU" + std::to_string(i);
    for (int j = 0; j < 8; ++j) {
      EXPECT_EQ(m.at(gi).at("GPU" + std::to_string(j)), i == j ? " X " : "NV18") << gi << " " << j;
    }
    // NIC i sits on GPU i's switch; the other NIC on that switch too (PIX); across sockets SYS.
    for (int n = 0; n < 8; ++n) {
      const std::string code = m.at(gi).at("NIC" + std::to_string(n));
      if (n / 2 == i / 2) {
        EXPECT_EQ(code, "PIX") << gi << " NIC" << n;
      } else if ((n < 4) == (i < 4)) {
        EXPECT_EQ(code, "NODE") << gi << " NIC" << n;
      } else {
        EXPECT_EQ(code, "SYS") << gi << " NIC" << n;
      }
      EXPECT_EQ(m.at("NIC" + std::to_string(n)).at(gi), code);
    }
    EXPECT_EQ(m.at(gi).at("CPU Affinity"), i < 4 ? "NUMA0" : "NUMA1");
    EXPECT_EQ(m.at(gi).at("NUMA Affinity"), i < 4 ? "0" : "1");
  }
  EXPECT_EQ(m.at("NIC3").at("NIC3"), " X ");
  EXPECT_NE(text.find("\tGPU0\tGPU1\t"), std::string::npos);
  EXPECT_NE(text.find("NIC7\tCPU Affinity\tNUMA Affinity\n"), std::string::npos);
  for (const char* legend :
       {"Legend:", "  X    = Self", "  SYS  = Connection traversing PCIe as well as the SMP", "  NODE = ", "  PHB  = ",
        "  PXB  = ", "  PIX  = Connection traversing at most a single PCIe bridge",
        "  NV#  = Connection traversing a bonded set of # NVLinks", "NIC Legend:", "  NIC0: mlx5_0", "  NIC7: mlx5_7",
        "GPU-NIC affinity and rails:"}) {
    EXPECT_NE(text.find(legend), std::string::npos) << legend << "\n" << text;
  }
  // Each GPU's nearest NICs are the two on its switch; each NIC's rail is listed.
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(GPU0\s+-> NIC0 \(mlx5_0\), NIC1 \(mlx5_1\)\s+PIX\s+\d)"))) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(NIC5 \(mlx5_5\)\s+rail 5, 400 Gb/s, InfiniBand, NUMA1)"))) << text;
  // nvidia-smi's own vocabulary only: no Strata-specific codes where none occur.
  EXPECT_EQ(text.find("NVB  ="), std::string::npos);
  EXPECT_EQ(text.find("GPU Legend"), std::string::npos);
}

// Two hosts whose NIC ports all hang on one leaf switch: a GPU-direct-NVLink server and a small
// NVSwitch one.
Topology twoHosts() {
  Topology t;
  hgxServer({.gpus = 8, .nvSwitches = 0}, &t);
  hgxServer({.gpus = 4, .nvSwitches = 1, .host = 1}, &t);
  Node leaf;
  leaf.kind = NodeKind::NetSwitch;
  leaf.name = "leaf0";
  leaf.tier = 0;
  leaf.radix = 64;
  const NodeId leafId = t.addNode(leaf);
  for (NodeId port : t.nodesOf(NodeKind::NicPort)) t.addLink({port, leafId, LinkKind::Net, 50, 0.5});
  return t;
}

TEST(TopologyRender, MatrixOfDirectNvLinksAndSeveralHosts) {
  const Topology t = twoHosts();
  const std::string text = matrixText(t);
  const auto m = parseMatrix(text);
  EXPECT_EQ(m.at("GPU0").at("GPU1"), "NV4");
  EXPECT_EQ(m.at("GPU0").at("GPU2"), "NVB");  // through GPU1
  EXPECT_EQ(m.at("GPU0").at("GPU8"), "NET");  // the second host's first GPU
  EXPECT_EQ(m.at("GPU8").at("GPU9"), "NV18");
  EXPECT_NE(text.find("NVB  = "), std::string::npos);
  EXPECT_NE(text.find("NET  = "), std::string::npos);
  EXPECT_NE(text.find("GPU Legend:"), std::string::npos);
  EXPECT_NE(text.find("  GPU8: GPU0 (host 1)"), std::string::npos) << text;
  EXPECT_NE(text.find("  NIC8: mlx5_0 (host 1)"), std::string::npos) << text;
}

TEST(TopologyRender, SummaryAndTree) {
  const Topology t = hgxServer();
  const std::string summary = summaryText(t);
  for (const char* expected : {"Source: hand-built test server", "Hosts: 1", "CPUs: 2", "Intel Xeon Platinum 8480C",
                               "GPUs: 8 - 8 x H100 (sm_90, 80 GiB)", "NVSwitches: 4", "PCIe switches: 4",
                               "NICs: 8 - 8 x ConnectX-7 (400 Gb/s, InfiniBand, GPUDirect RDMA); rails 0-7",
                               "NIC ports: 8", "NVLink 32 (144 lanes)", "CPU interconnect 1",
                               "  - hand-built: no discovery was run"}) {
    EXPECT_NE(summary.find(expected), std::string::npos) << expected << "\n" << summary;
  }
  const std::string tree = treeText(t);
  const auto lines = splitLines(tree);
  auto indentOf = [&](const std::string& prefix) {
    for (const std::string& line : lines) {
      const size_t start = line.find_first_not_of(' ');
      if (start != std::string::npos && line.compare(start, prefix.size(), prefix) == 0) return static_cast<int>(start);
    }
    return -1;
  };
  EXPECT_EQ(indentOf("Host 0"), 0) << tree;
  EXPECT_EQ(indentOf("CPU NUMA0"), 2) << tree;
  EXPECT_EQ(indentOf("PCIe switch PCIe0"), 4) << tree;
  EXPECT_EQ(indentOf("GPU GPU0 "), 6) << tree;
  EXPECT_EQ(indentOf("NIC mlx5_0 "), 6) << tree;
  EXPECT_EQ(indentOf("port mlx5_0/1"), 8) << tree;
  EXPECT_NE(tree.find("NUMA0 <-> NUMA1"), std::string::npos) << tree;
  EXPECT_NE(tree.find("NVLink GPU0: NVSwitch0 x5, NVSwitch1 x4, NVSwitch2 x4, NVSwitch3 x5"), std::string::npos)
      << tree;
  EXPECT_EQ(tree.find("not under any CPU"), std::string::npos) << tree;  // NVSwitches are no PCIe orphans
  // GPU4 hangs under the second socket.
  const size_t numa1 = tree.find("CPU NUMA1");
  ASSERT_NE(numa1, std::string::npos);
  EXPECT_GT(tree.find("GPU GPU4 "), numa1);
  EXPECT_LT(tree.find("GPU GPU3 "), numa1);
}

TEST(TopologyRender, JsonParsesBackWithEveryNodeLinkAndPair) {
  const Topology t = hgxServer();
  const nlohmann::json doc = nlohmann::json::parse(toJson(t));
  EXPECT_EQ(doc.at("schema"), "strata.topology/1");
  EXPECT_EQ(doc.at("nodes").size(), t.nodes().size());
  EXPECT_EQ(doc.at("links").size(), t.links().size());
  EXPECT_EQ(doc.at("gpuPairs").size(), 28u);     // 8 choose 2
  EXPECT_EQ(doc.at("gpuNicPairs").size(), 64u);  // 8 x 8
  EXPECT_EQ(doc.at("nearestNics").size(), 8u);
  int gpus = 0;
  for (const auto& node : doc.at("nodes")) {
    if (node.at("kind") == nodeKindName(NodeKind::Gpu)) {
      ++gpus;
      EXPECT_EQ(node.at("gpuSm"), 90);
      EXPECT_EQ(node.at("model"), "H100");
      EXPECT_FALSE(node.at("cpu").is_null());
    }
  }
  EXPECT_EQ(gpus, 8);
  const auto gpu0 = *t.findByName("GPU0");
  const auto port0 = *t.findByName("mlx5_0/1");
  EXPECT_EQ(doc.at("nodes").at(port0).at("guid"), "0xb8cef60300000000");
  EXPECT_EQ(doc.at("nodes").at(port0).at("speedGbps"), 400.0);
  for (const auto& pair : doc.at("gpuPairs")) {
    EXPECT_EQ(pair.at("code"), "NV18");
    EXPECT_GT(pair.at("bandwidthGBps").get<double>(), 300.0);
  }
  for (const auto& pair : doc.at("gpuNicPairs")) {
    if (pair.at("a") == gpu0 && pair.at("b") == *t.findByName("mlx5_0")) {
      EXPECT_EQ(pair.at("code"), "PIX");
      EXPECT_EQ(pair.at("nodes").size(), 3u);
    }
  }
}

TEST(TopologyRender, DotHasOneNodeLinePerDeviceAndBalancedBraces) {
  const Topology t = hgxServer();
  const std::string dot = toDot(t);
  const std::regex nodeLine(R"(^\s*n(\d+) \[label=)");
  const std::regex edgeLine(R"(^\s*n(\d+) -- n(\d+) \[)");
  std::map<int, int> declared;
  size_t edges = 0, nvEdges = 0;
  for (const std::string& line : splitLines(dot)) {
    std::smatch match;
    if (std::regex_search(line, match, nodeLine)) ++declared[std::stoi(match[1])];
    if (std::regex_search(line, match, edgeLine)) {
      ++edges;
      if (line.find("#76b900") != std::string::npos) ++nvEdges;
    }
  }
  EXPECT_EQ(declared.size(), t.nodes().size());
  for (const auto& [id, count] : declared) EXPECT_EQ(count, 1) << "n" << id;
  EXPECT_EQ(edges, t.links().size());
  EXPECT_EQ(nvEdges, 32u);  // NVLink edges are colored
  // Braces balance outside quoted labels.
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < dot.size(); ++i) {
    if (dot[i] == '\\') {
      ++i;
    } else if (dot[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && dot[i] == '{') {
      ++depth;
    } else if (!quoted && dot[i] == '}') {
      ASSERT_GT(depth, 0);
      --depth;
    }
  }
  EXPECT_EQ(depth, 0);
  EXPECT_FALSE(quoted);
  EXPECT_EQ(dot.rfind("graph topology {", 0), 0u);
  EXPECT_NE(dot.find("subgraph cluster_host0"), std::string::npos);
  EXPECT_NE(dot.find("label=\"NVLink x5 "), std::string::npos);
}

// Every <text> in the document, unescaped by the parser.
std::vector<std::string> svgTexts(const pugi::xml_document& doc) {
  std::vector<std::string> texts;
  for (const pugi::xpath_node& node : doc.select_nodes("//text")) texts.push_back(node.node().child_value());
  return texts;
}

void expectWellFormedSvgNaming(const std::string& svg, const std::vector<std::string>& names) {
  ASSERT_EQ(svg.rfind("<?xml", 0), 0u);
  pugi::xml_document doc;
  const pugi::xml_parse_result parsed = doc.load_string(svg.c_str());
  ASSERT_TRUE(parsed) << parsed.description() << " at " << parsed.offset;
  ASSERT_STREQ(doc.document_element().name(), "svg");
  EXPECT_GT(doc.document_element().attribute("width").as_double(), 100);
  const auto texts = svgTexts(doc);
  for (const std::string& name : names) {
    EXPECT_NE(std::find(texts.begin(), texts.end(), name), texts.end()) << "no <text> for " << name;
  }
}

TEST(TopologyRender, SvgIsWellFormedAndNamesEveryGpu) {
  for (int gpus : {8, 16}) {
    const Topology t = hgxServer({.gpus = gpus, .nvSwitches = gpus == 16 ? 6 : 4});
    std::vector<std::string> names;
    for (NodeId g : t.nodesOf(NodeKind::Gpu)) names.push_back(t.node(g).name);
    for (NodeId n : t.nodesOf(NodeKind::Nic)) names.push_back(t.node(n).name);
    for (NodeId s : t.nodesOf(NodeKind::NvSwitch)) names.push_back(t.node(s).name);
    const std::string svg = toSvg(t);
    expectWellFormedSvgNaming(svg, names);
    // One green line per GPU-NVSwitch bundle, plus the legend's sample.
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(svg.c_str()));
    const size_t green = doc.select_nodes("//line[@stroke='#76b900']").size();
    EXPECT_EQ(green, static_cast<size_t>(gpus * (gpus == 16 ? 6 : 4)) + 1);
  }
  // Direct NVLinks, two hosts and a network switch also draw.
  expectWellFormedSvgNaming(toSvg(twoHosts()), {"GPU0", "GPU7", "host 0", "host 1", "leaf0"});
}

TEST(TopologyRender, NamesWithMarkupAreEscaped) {
  Topology t = hgxServer({.gpus = 2, .nvSwitches = 1, .gpuPrefix = "G<&>\"'"});
  t.source = "file a&b<c>.xml";
  const std::string svg = toSvg(t);
  EXPECT_EQ(svg.find("G<&>"), std::string::npos);
  EXPECT_NE(svg.find("G&lt;&amp;&gt;&quot;&apos;0"), std::string::npos);
  expectWellFormedSvgNaming(svg, {"G<&>\"'0", "G<&>\"'1", "Topology: file a&b<c>.xml"});
  const nlohmann::json doc = nlohmann::json::parse(toJson(t));
  EXPECT_EQ(doc.at("source"), "file a&b<c>.xml");
  EXPECT_EQ(doc.at("nodes").at(*t.findByName("G<&>\"'1")).at("name"), "G<&>\"'1");
  const std::string dot = toDot(t);
  EXPECT_NE(dot.find("label=\"G<&>\\\"'0"), std::string::npos) << dot;
}

TEST(TopologyRender, EmptyTopologyRendersWithoutDevices) {
  Topology t;
  EXPECT_NE(matrixText(t).find("No GPUs or NICs"), std::string::npos);
  EXPECT_NE(summaryText(t).find("GPUs: 0"), std::string::npos);
  EXPECT_NO_THROW(treeText(t));
  EXPECT_EQ(nlohmann::json::parse(toJson(t)).at("nodes").size(), 0u);
  EXPECT_NE(toDot(t).find("graph topology {"), std::string::npos);
  pugi::xml_document doc;
  EXPECT_TRUE(doc.load_string(toSvg(t).c_str()));
}

// A fabric described by hand (the presets are tested with fabric.cc).
std::pair<Fabric, FabricSummary> handFabric() {
  Fabric f;
  f.name = "test:100k";
  f.description = "three tiers of 128-port switches <rail-optimized & non-blocking>";
  f.serverPreset = "hgx-h100";
  f.servers = 12500;
  f.extraNicsPerServer = 1;
  f.tiers = {{"leaf", 128, 400, 0.5, 1.0}, {"spine", 128, 400, 0.5, 1.0}, {"core", 128, 400, 0.5, 1.0, 128}};
  FabricSummary s;
  s.servers = 12500;
  s.gpus = 100000;
  s.nics = 100000;
  s.tiers = {{"leaf", 1563, 100000, 100000, 40000},
             {"spine", 1563, 100000, 100000, 40000},
             {"core", 782, 100000, 0, 40000}};
  s.bisectionTbps = 20000;
  s.bisectionPerGpuGbps = 200;
  s.notes = {"radix 128 x 3 tiers reaches at most 524,288 NICs"};
  return {f, s};
}

TEST(TopologyRender, FabricViews) {
  const auto [fabric, summary] = handFabric();
  const std::string text = fabricSummaryText(fabric, summary);
  for (const char* expected : {"Fabric: test:100k",
                               "Servers: 12,500 x hgx-h100 (8 GPUs, 8 NICs x 400 Gb/s + 1 off-fabric, rail-optimized)",
                               "GPUs: 100,000", "NICs: 100,000", "Bisection: 20,000 Tbit/s total, 200 Gbit/s per GPU",
                               "  - radix 128 x 3 tiers reaches at most 524,288 NICs"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  const std::regex spineRow(R"(spine\s+1,563\s+128\s+auto\s+400\s+1:1\s+100,000\s+100,000\s+40,000)");
  EXPECT_TRUE(std::regex_search(text, spineRow)) << text;

  const nlohmann::json doc = nlohmann::json::parse(fabricToJson(fabric, summary));
  EXPECT_EQ(doc.at("schema"), "strata.fabric/1");
  EXPECT_EQ(doc.at("fabric").at("tiers").size(), 3u);
  EXPECT_EQ(doc.at("summary").at("tiers").at(2).at("switches"), 782);
  EXPECT_EQ(doc.at("fabric").at("tiers").at(2).at("portsDown"), 128);
  EXPECT_EQ(doc.at("fabric").at("extraNicsPerServer"), 1);
  EXPECT_EQ(doc.at("summary").at("gpus"), 100000);

  const std::string svg = fabricToSvg(fabric, summary);
  pugi::xml_document xml;
  ASSERT_TRUE(xml.load_string(svg.c_str()));
  const auto texts = svgTexts(xml);
  auto hasText = [&](const std::string& prefix) {
    return std::any_of(texts.begin(), texts.end(), [&](const std::string& t) { return t.rfind(prefix, 0) == 0; });
  };
  for (const char* expected : {"core: 782 switches", "spine: 1,563 switches", "leaf: 1,563 switches",
                               "12,500 servers x 8 GPUs", "100,000 NIC cables", "100,000 cables", "20,000 Tbit/s",
                               "Fabric: test:100k", "three tiers of 128-port switches <rail-optimized"}) {
    EXPECT_TRUE(hasText(expected)) << expected;
  }
}

}  // namespace
}  // namespace strata::topo
