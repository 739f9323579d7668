// Recursive doubling all-reduce over the whole communicator (src/plan/algorithms/patterns.cc):
// log2(p) pairwise exchanges of the whole buffer (plus a fold and an unfold when n is not a
// power of two). The fewest hand-offs of any pairwise algorithm, at log2(p) times the bytes, so
// it only pays for small buffers, across hosts where a hand-off costs most.
#include "plan/algorithms/patterns.h"
#include "plan/registry.h"

namespace strata {
namespace {

// Beyond this each step's log2(p) x S bytes lose to halving-doubling's 2 S whatever the latency.
constexpr size_t kMaxBytes = 256 << 10;

bool supports(const PlanRequest& r) { return r.bytes() <= kMaxBytes; }

double estimateSeconds(const PlanRequest& r) {
  const int tier = r.nhosts() > 1 ? 0 : -1;
  return recursiveDoublingSeconds(r.costModel(), r.nranks, double(r.bytes()), tier,
                                  r.messageBytes);
}

Schedule build(const PlanRequest& request) {
  Schedule s = scheduleSkeleton(request, "rd");
  // One block: every step moves the whole buffer, chunked to the slot size.
  s.nblocks = 1;
  s.blockElems = request.count;
  appendRecursiveDoubling(s, s.groups[0], 0, 1, 0);
  return s;
}

}  // namespace

extern const AlgorithmInfo kAllReduceRecursiveDoubling{
    "rd", Collective::AllReduce,
    "recursive doubling: log2(p) exchanges of the whole buffer, for small messages", supports,
    estimateSeconds, build};

}  // namespace strata
