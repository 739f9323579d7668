#include "core/log.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace strata {

LogLevel logLevel() {
  static const LogLevel level = [] {
    const char* v = std::getenv("STRATA_DEBUG");
    if (!v) return LogLevel::Warn;
    if (!strcasecmp(v, "INFO")) return LogLevel::Info;
    if (!strcasecmp(v, "TRACE")) return LogLevel::Trace;
    return LogLevel::Warn;
  }();
  return level;
}

void logLine(LogLevel level, const std::string& text) {
  static const char* names[] = {"WARN", "INFO", "TRACE"};
  std::fprintf(stderr, "strata %d %s: %s\n", static_cast<int>(getpid()),
               names[static_cast<int>(level)], text.c_str());
}

}  // namespace strata
