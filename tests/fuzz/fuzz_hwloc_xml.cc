// libFuzzer target: readHwlocXml on any bytes. A TopologyFileError (or another std::exception)
// is the reader refusing bad input; a crash, an abort or a sanitizer report is a bug.
#include <cstdint>
#include <exception>
#include <string_view>

#include "topology/formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    strata::topo::readHwlocXml(text, "<fuzz>");
  } catch (const strata::topo::TopologyFileError&) {
  } catch (const std::exception&) {
  }
  return 0;
}
