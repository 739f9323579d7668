#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace strata {
namespace {

// -1: STRATA_DEBUG decides; else a level forced by a test's sink.
std::atomic<int> forcedLevel{-1};
std::mutex sinkMutex;
std::function<void(LogLevel, const std::string&)>& testSink() {
  static auto* sink = new std::function<void(LogLevel, const std::string&)>();  // outlives exit
  return *sink;
}

}  // namespace

LogLevel logLevel() {
  static const LogLevel level = [] {
    const char* v = std::getenv("STRATA_DEBUG");
    if (!v) return LogLevel::Warn;
    if (!strcasecmp(v, "INFO")) return LogLevel::Info;
    if (!strcasecmp(v, "TRACE")) return LogLevel::Trace;
    return LogLevel::Warn;
  }();
  const int forced = forcedLevel.load(std::memory_order_relaxed);
  return forced >= 0 ? static_cast<LogLevel>(forced) : level;
}

void logLine(LogLevel level, const std::string& text) {
  if (forcedLevel.load(std::memory_order_acquire) >= 0) {
    std::lock_guard<std::mutex> lock(sinkMutex);
    if (testSink()) {
      testSink()(level, text);
      return;
    }
  }
  static const char* names[] = {"WARN", "INFO", "TRACE"};
  std::fprintf(stderr, "strata %d %s: %s\n", static_cast<int>(getpid()),
               names[static_cast<int>(level)], text.c_str());
}

void setLogSinkForTesting(LogLevel level, std::function<void(LogLevel, const std::string&)> sink) {
  std::lock_guard<std::mutex> lock(sinkMutex);
  const bool on = static_cast<bool>(sink);
  testSink() = std::move(sink);
  forcedLevel.store(on ? static_cast<int>(level) : -1, std::memory_order_release);
}

}  // namespace strata
