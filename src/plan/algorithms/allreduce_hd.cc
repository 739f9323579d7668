// Recursive halving-doubling (Rabenseifner) all-reduce over the whole communicator
// (src/plan/algorithms/patterns.cc has the pattern): a reduce-scatter that halves the data each
// rank holds in log2(p) pairwise exchanges, then an all-gather that doubles it back; ranks beyond
// the largest power of two p fold into a partner first. Bandwidth-optimal like the ring
// (2(p-1)/p of the buffer each way) with 2 log2(p) hand-offs instead of 2(n-1), so it suits large
// worlds and mid-size buffers; its first, largest step goes to the rank p/2 away, which costs on
// tapered upper switch tiers.
#include "plan/algorithms/patterns.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest&) { return true; }

double estimateSeconds(const PlanRequest& r) {
  const int tier = r.nhosts() > 1 ? 0 : -1;
  return halvingDoublingSeconds(r.costModel(), r.nranks, double(r.bytes()), tier,
                                r.messageBytes);
}

Schedule build(const PlanRequest& request) {
  const int n = request.nranks;
  const uint32_t nblocks = halvingDoublingBlocksFor(n);
  Schedule s =
      patternSkeleton(request, "hd", nblocks, halvingDoublingMaxBlocksPerStep(n, nblocks));
  appendHalvingDoubling(s, s.groups[0], 0, s.nblocks, 0);
  return s;
}

}  // namespace

extern const AlgorithmInfo kAllReduceHalvingDoubling{
    "hd", Collective::AllReduce,
    "recursive halving-doubling (Rabenseifner): log-depth reduce-scatter + all-gather", supports,
    estimateSeconds, build};

}  // namespace strata
