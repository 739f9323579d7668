// libFuzzer target: readNcclXml on any bytes. A TopologyFileError (or another std::exception)
// is the reader refusing bad input; a crash, an abort or a sanitizer report is a bug. What the
// reader accepts must also survive writeNcclXml: the text written reads back to the same model.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "topology/formats.h"

using strata::topo::Topology;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Topology topology;
  try {
    topology = strata::topo::readNcclXml(text, "<fuzz>");
  } catch (const strata::topo::TopologyFileError&) {
    return 0;
  } catch (const std::exception&) {
    return 0;
  }
  // Outside the try: any exception here is a bug too (written XML the reader refuses).
  const std::string written = strata::topo::writeNcclXml(topology);
  const Topology back = strata::topo::readNcclXml(written, "<fuzz, rewritten>");
  std::string difference;
  if (!back.sameAs(topology, &difference)) {
    std::fprintf(stderr, "round trip differs: %s\nwritten:\n%s\n", difference.c_str(), written.c_str());
    std::abort();
  }
  return 0;
}
