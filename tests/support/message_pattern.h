// Message contents that differ with sender, receiver, message index and byte offset, so that a
// lost, repeated, reordered or shifted byte shows (the transport tests).
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::testing {

inline uint8_t pattern(int from, int to, uint64_t message, size_t i) {
  return static_cast<uint8_t>(message * 131 + i * 7 + (i >> 8) + from * 17 + to * 5);
}

inline void fill(void* p, size_t bytes, int from, int to, uint64_t message) {
  auto* c = static_cast<uint8_t*>(p);
  for (size_t i = 0; i < bytes; ++i) c[i] = pattern(from, to, message, i);
}

// The first offset that differs from the pattern, or -1.
inline long mismatch(const void* p, size_t bytes, int from, int to, uint64_t message) {
  auto* c = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < bytes; ++i)
    if (c[i] != pattern(from, to, message, i)) return static_cast<long>(i);
  return -1;
}

}  // namespace strata::testing
