// Logging to stderr, gated by STRATA_DEBUG (WARN, INFO or TRACE; default WARN). Cheap when off:
// the level is read once.
#pragma once

#include <fmt/format.h>

namespace strata {

enum class LogLevel { Warn = 0, Info = 1, Trace = 2 };

LogLevel logLevel();
void logLine(LogLevel level, const std::string& text);

template <typename... Args>
void log(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
  if (level <= logLevel()) logLine(level, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace strata
