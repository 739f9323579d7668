// Topology files: NCCL's topology XML (the NCCL_TOPO_FILE format) and hwloc XML 2.x, read into
// the model and written from it. A malformed or inconsistent file is a TopologyFileError naming
// the file, the line and what is wrong; the readers never crash on any input.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "topology/model.h"

namespace strata::topo {

class TopologyFileError : public std::runtime_error {
 public:
  TopologyFileError(const std::string& file, int line, const std::string& what);
  const std::string& file() const { return file_; }
  int line() const { return line_; }  // 0 when not tied to a line

 private:
  std::string file_;
  int line_;
};

enum class FileFormat { NcclXml, HwlocXml, Json };
const char* fileFormatName(FileFormat format);

// `name` is what errors call the text (a path, or "<string>").
Topology readNcclXml(std::string_view text, const std::string& name);
std::string writeNcclXml(const Topology& topology);
Topology readHwlocXml(std::string_view text, const std::string& name);
std::string writeHwlocXml(const Topology& topology);

// Reads a file of either XML format, told apart by its root element.
Topology loadTopologyFile(const std::string& path);

}  // namespace strata::topo
