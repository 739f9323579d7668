// What the topology file formats share: the error type, format names, and loading a file of
// either XML format, told apart by its root element.
#include "topology/formats.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace strata::topo {
namespace {

std::string errorMessage(const std::string& file, int line, const std::string& what) {
  return line > 0 ? fmt::format("{}:{}: {}", file, line, what) : fmt::format("{}: {}", file, what);
}

struct RootElement {
  std::string name;  // empty when the text has no element
  int line = 0;
  bool json = false;  // the text starts like JSON instead
};

// Finds the first element's name without parsing the document: skips a byte-order mark,
// whitespace, the XML declaration and other processing instructions, comments and a DOCTYPE.
RootElement sniffRoot(std::string_view text) {
  RootElement root;
  size_t pos = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
  auto lineAt = [&](size_t at) {
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(at), '\n'));
  };
  auto skipPast = [&](std::string_view terminator) {
    const size_t end = text.find(terminator, pos);
    pos = end == std::string_view::npos ? text.size() : end + terminator.size();
  };
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++pos;
    } else if (text.substr(pos, 4) == "<!--") {
      skipPast("-->");
    } else if (text.substr(pos, 2) == "<?" || text.substr(pos, 2) == "<!") {
      skipPast(">");
    } else if (c == '<') {
      size_t end = pos + 1;
      while (end < text.size() && text[end] != '>' && text[end] != '/' && text[end] != ' ' && text[end] != '\t' &&
             text[end] != '\r' && text[end] != '\n')
        ++end;
      root.name = std::string(text.substr(pos + 1, std::min<size_t>(end - pos - 1, 64)));
      root.line = lineAt(pos);
      return root;
    } else {
      root.json = c == '{' || c == '[';
      root.line = lineAt(pos);
      return root;
    }
  }
  return root;
}

std::string baseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

TopologyFileError::TopologyFileError(const std::string& file, int line, const std::string& what)
    : std::runtime_error(errorMessage(file, line, what)), file_(file), line_(line) {}

const char* fileFormatName(FileFormat format) {
  switch (format) {
    case FileFormat::NcclXml: return "nccl-xml";
    case FileFormat::HwlocXml: return "hwloc-xml";
    case FileFormat::Json: return "json";
  }
  return "?";
}

Topology loadTopologyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TopologyFileError(path, 0, fmt::format("cannot open: {}", std::strerror(errno)));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw TopologyFileError(path, 0, "read error");
  const std::string text = buffer.str();

  const RootElement root = sniffRoot(text);
  Topology topology;
  if (root.name == "system") {
    topology = readNcclXml(text, path);
  } else if (root.name == "topology") {
    topology = readHwlocXml(text, path);
  } else if (root.json) {
    // Strata writes JSON for people and tools (render.h); it is a view, not a format to load.
    throw TopologyFileError(path, root.line, "JSON is not a loadable topology format; expected NCCL or hwloc XML");
  } else if (root.name.empty()) {
    throw TopologyFileError(path, root.line,
                            text.empty() ? "empty file: expected NCCL or hwloc XML" : "no XML root element found");
  } else {
    std::string shown;
    for (char c : root.name) shown += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    throw TopologyFileError(path, root.line,
                            fmt::format("root element <{}> is neither <system> (NCCL topology XML) nor <topology> "
                                        "(hwloc XML)", shown));
  }
  topology.source = "file " + baseName(path);
  return topology;
}

}  // namespace strata::topo
