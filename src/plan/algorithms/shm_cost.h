// Rough alpha-beta constants of the shared-memory transport on a CPU host, used by the
// algorithms' cost estimates until the cost model of the planner replaces them. Measured on the
// project's 2-core machine (strata-bench): per-message hand-off latency and copy bandwidth.
#pragma once

namespace strata::shmcost {
constexpr double kMessageSeconds = 0.4e-6;
constexpr double kBytesPerSecond = 6e9;
}  // namespace strata::shmcost
