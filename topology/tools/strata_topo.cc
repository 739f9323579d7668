// strata-topo: shows what Strata sees of a machine or a fabric, the way the field's tools do
// (nvidia-smi topo -m, lstopo), and exports it (NCCL XML, hwloc XML, JSON, DOT, SVG).
//
//   strata-topo                          the local machine (discovery)
//   strata-topo --input FILE             an NCCL or hwloc topology XML
//   strata-topo --preset dgx-h100        a machine preset
//   strata-topo --fabric colossus:100k   a whole fabric, summarized
//   strata-topo --list                   the presets
// Views: --summary, --tree, --matrix (default: summary and matrix). Exports: --export FORMAT
// [-o FILE]. Errors print "strata-topo: <message>" and exit 1.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "topology/discovery.h"
#include "topology/fabric.h"
#include "topology/formats.h"
#include "topology/presets.h"
#include "topology/render.h"

namespace {

using namespace strata::topo;

const std::vector<std::string> kMachineFormats = {"nccl-xml", "hwloc-xml", "json", "dot", "svg"};
const std::vector<std::string> kFabricFormats = {"json", "svg"};

struct Request {
  std::string inputFile;
  std::string presetName;
  std::string fabricName;
  bool list = false;
  bool tree = false;
  bool matrix = false;
  bool summary = false;
  std::string exportFormat;
  std::string outputFile;
  bool anyView() const { return tree || matrix || summary; }
};

std::string presetList(const std::vector<PresetInfo>& presets) {
  std::string names;
  for (const PresetInfo& p : presets) names += (names.empty() ? "" : ", ") + p.name;
  return names;
}

// The preset lookups promise to list the known names; say them here too if one does not, since
// a user who mistyped a name needs them.
[[noreturn]] void rethrowWithNames(const std::invalid_argument& error, const std::vector<PresetInfo>& presets) {
  const std::string message = error.what();
  if (!presets.empty() && message.find(presets.front().name) == std::string::npos) {
    throw std::invalid_argument(message + " (known: " + presetList(presets) + ")");
  }
  throw error;
}

void printList() {
  auto section = [](const char* title, const std::vector<PresetInfo>& presets) {
    std::cout << title << "\n";
    size_t width = 0;
    for (const PresetInfo& p : presets) width = std::max(width, p.name.size());
    for (const PresetInfo& p : presets) std::cout << fmt::format("  {:<{}}  {}\n", p.name, width, p.description);
  };
  section("Machine presets (--preset NAME):", machinePresets());
  section("Fabric presets (--fabric NAME):", fabricPresets());
}

// The export goes to -o FILE, or to stdout.
void emit(const std::string& text, const std::string& outputFile) {
  if (outputFile.empty() || outputFile == "-") {
    std::cout << text << std::flush;
    return;
  }
  std::ofstream out(outputFile, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + outputFile);
}

void checkExportFormat(const std::string& format, const std::vector<std::string>& allowed, const char* what) {
  if (format.empty() || std::find(allowed.begin(), allowed.end(), format) != allowed.end()) return;
  std::string names;
  for (const std::string& a : allowed) names += (names.empty() ? "" : ", ") + a;
  throw std::invalid_argument(fmt::format("--export {} is not available for {}; use one of: {}", format, what, names));
}

int runFabric(const Request& request) {
  if (request.tree || request.matrix) {
    throw std::invalid_argument("--tree and --matrix show one machine; a fabric has --summary and --export json|svg");
  }
  checkExportFormat(request.exportFormat, kFabricFormats, "a fabric");
  Fabric fabric;
  try {
    fabric = fabricPreset(request.fabricName);
  } catch (const std::invalid_argument& error) {
    rethrowWithNames(error, fabricPresets());
  }
  const FabricSummary summary = summarize(fabric);
  if (request.exportFormat.empty()) {
    emit(fabricSummaryText(fabric, summary), request.outputFile);
    return 0;
  }
  if (request.summary) std::cout << fabricSummaryText(fabric, summary);
  emit(request.exportFormat == "json" ? fabricToJson(fabric, summary) : fabricToSvg(fabric, summary),
       request.outputFile);
  return 0;
}

Topology loadTopology(const Request& request) {
  if (!request.inputFile.empty()) {
    // Say plainly when the file is not there, before a parser reports it as malformed.
    if (!std::ifstream(request.inputFile)) throw std::invalid_argument("cannot read " + request.inputFile);
    return loadTopologyFile(request.inputFile);
  }
  if (!request.presetName.empty()) {
    try {
      return machinePreset(request.presetName);
    } catch (const std::invalid_argument& error) {
      rethrowWithNames(error, machinePresets());
    }
  }
  return discoverLocal();
}

std::string exported(const Topology& topology, const std::string& format) {
  if (format == "nccl-xml") return writeNcclXml(topology);
  if (format == "hwloc-xml") return writeHwlocXml(topology);
  if (format == "json") return toJson(topology);
  if (format == "dot") return toDot(topology);
  return toSvg(topology);
}

std::string views(const Topology& topology, const Request& request) {
  const bool all = !request.anyView();
  std::string out;
  auto add = [&](const std::string& text) { out += (out.empty() ? "" : "\n") + text; };
  if (all || request.summary) add(summaryText(topology));
  if (request.tree) add(treeText(topology));
  if (all || request.matrix) add(matrixText(topology));
  return out;
}

int runMachine(const Request& request) {
  checkExportFormat(request.exportFormat, kMachineFormats, "a machine");
  const Topology topology = loadTopology(request);
  if (request.exportFormat.empty()) {
    emit(views(topology, request), request.outputFile);
    return 0;
  }
  if (request.anyView()) {
    // Views and an export cannot share stdout: the export would not parse.
    if (request.outputFile.empty() || request.outputFile == "-") {
      throw std::invalid_argument("views and --export both write to stdout; send the export to a file with -o FILE");
    }
    std::cout << views(topology, request);
  }
  emit(exported(topology, request.exportFormat), request.outputFile);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Request request;
  CLI::App app{"strata-topo: the topology Strata sees of a machine or a fabric", "strata-topo"};
  auto* input = app.add_option("-i,--input", request.inputFile, "an NCCL or hwloc topology XML file");
  auto* preset = app.add_option("-p,--preset", request.presetName, "a machine preset (see --list)");
  auto* fabric = app.add_option("-f,--fabric", request.fabricName, "a fabric preset, summarized (see --list)");
  input->excludes(preset, fabric);
  preset->excludes(fabric);
  app.add_flag("-l,--list", request.list, "list the machine and fabric presets");
  app.add_flag("--summary", request.summary, "counts, models, NICs and rails, notes");
  app.add_flag("--tree", request.tree, "CPU > PCIe switches > devices, indented");
  app.add_flag("--matrix", request.matrix, "the nvidia-smi topo -m matrix, legends, GPU-NIC affinity and rails");
  app.add_option("-e,--export", request.exportFormat,
                 "export as nccl-xml, hwloc-xml, json, dot or svg (fabrics: json, svg)");
  app.add_option("-o,--output", request.outputFile, "write the export (or the views) to FILE instead of stdout");
  CLI11_PARSE(app, argc, argv);

  try {
    if (request.list) {
      printList();
      return 0;
    }
    return request.fabricName.empty() ? runMachine(request) : runFabric(request);
  } catch (const std::exception& error) {
    // TopologyFileError (file, line, what), std::invalid_argument (a bad name or combination,
    // listing what is known) and I/O failures all read best as one line.
    std::cerr << "strata-topo: " << error.what() << "\n";
  }
  return 1;
}
