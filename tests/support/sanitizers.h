// Whether the build is instrumented by AddressSanitizer or ThreadSanitizer, and the world sizes
// a sweep covers there. Their CI passes look for memory and thread errors, which every world
// size of one shape finds alike, and run each test 3-20x slower: the normal pass checks every
// size, the sanitized passes the sizes where the algorithms change shape.
#pragma once

#include <cstddef>
#include <vector>

#include "strata/strata.h"

namespace strata::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// Whether a sanitized build keeps world size n: 1 to 5 (every fold and tree of few ranks), the
// powers of two and one past them (where the log-depth algorithms stop or start folding), 7
// (an odd prime below a power of two), 12 (hosts of 2, 3, 4 and 6) and 24 (three hosts of 8).
constexpr bool isShapeChangingWorldSize(int n) {
  if (n <= 5 || n == 7 || n == 12 || n == 24) return true;
  const int below = n - 1;
  return (n & (n - 1)) == 0 || (below & (below - 1)) == 0;
}

// The world sizes lo..hi a sweep covers: all of them, or under a sanitizer the shape-changing
// ones and hi itself.
inline std::vector<int> worldSizes(int lo, int hi) {
  std::vector<int> sizes;
  for (int n = lo; n <= hi; ++n)
    if (!kSanitized || n == hi || isShapeChangingWorldSize(n)) sizes.push_back(n);
  return sizes;
}

// Whether an all-reduce sweep skips `count` elements of `type`: under a sanitizer, where every
// element filled and checked costs 5-20x more, counts above 4096 run float32 only; each type's
// kernel is the same code at the sweeps' ~1000-element counts, which every type runs.
inline bool sanitizedSweepSkips(size_t count, strataDataType_t type) {
  return kSanitized && count > 4096 && type != strataFloat32;
}

}  // namespace strata::testing
