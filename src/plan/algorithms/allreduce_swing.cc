// Swing all-reduce over the whole communicator (src/plan/algorithms/swing.cc has the pattern):
// 2 log2(p) steps (+2 when n is not a power of two), each rank sending and receiving
// 2(p-1)/p of the buffer, with the largest messages going to the nearest ranks. Log-depth like
// halving-doubling, so it suits large worlds where a ring's 2(n-1) hand-offs dominate, and it
// keeps the early, large steps between neighbouring ranks (on one host when ranks are numbered
// host by host).
#include "plan/algorithms/patterns.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest&) { return true; }

double estimateSeconds(const PlanRequest& r) {
  const int tier = r.nhosts() > 1 ? 0 : -1;
  return swingSeconds(r.costModel(), r.nranks, double(r.bytes()), tier, r.messageBytes);
}

Schedule build(const PlanRequest& request) {
  const int n = request.nranks;
  const uint32_t nblocks = swingBlocksFor(n);
  Schedule s = patternSkeleton(request, "swing", nblocks, swingMaxBlocksPerStep(n, nblocks));
  appendSwing(s, s.groups[0], 0, s.nblocks, 0);
  return s;
}

}  // namespace

extern const AlgorithmInfo kAllReduceSwing{
    "swing", Collective::AllReduce,
    "Swing: log-depth bandwidth-optimal reduce-scatter + all-gather, large steps to near peers",
    supports, estimateSeconds, build};

}  // namespace strata
