// Lower bounds on a collective's time, for strata-plan's "fraction of the bound" column
// (docs/planner.md derives them). Bandwidth bounds only count bytes that some link must carry;
// the latency bound is the one-way latency between the two farthest ranks, which any result that
// depends on every rank's data must cross at least once. The bound is the larger of the two.
#pragma once

#include <cstddef>

#include "plan/registry.h"

namespace strata {

struct BoundInputs {
  int nranks = 1;
  int ranksPerServer = 1;        // servers = nranks / ranksPerServer
  double intraGBps = 0;          // per rank and direction inside a server (NVLink, shm)
  double nicGBps = 0;            // per rank and direction to the network (0: one server)
  double diameterSec = 0;        // one-way latency between the two farthest ranks
};

struct Bound {
  double seconds = 0;
  double bandwidthSec = 0;
  double latencySec = 0;
  const char* limitedBy = "";    // "network", "injection", "latency"
};

Bound lowerBound(Collective c, size_t bytes, const BoundInputs& in);

}  // namespace strata
