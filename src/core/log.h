// Logging to stderr, gated by STRATA_DEBUG (WARN, INFO or TRACE; default WARN). Cheap when off:
// the level is read once.
#pragma once

#include <functional>
#include <string>

#include <fmt/format.h>

namespace strata {

enum class LogLevel { Warn = 0, Info = 1, Trace = 2 };

LogLevel logLevel();
void logLine(LogLevel level, const std::string& text);

// For tests that check what is logged: every line goes to `sink` instead of stderr, at `level`
// whatever STRATA_DEBUG says. An empty sink restores stderr and STRATA_DEBUG.
void setLogSinkForTesting(LogLevel level,
                          std::function<void(LogLevel, const std::string&)> sink);

template <typename... Args>
void log(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
  if (level <= logLevel()) logLine(level, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace strata
