// Mixed-radix all-reduces over the whole communicator (patterns.h, mixed_radix.cc):
//  - radix-hd: halving-doubling with one step per radix of n's factorization: bandwidth-optimal
//    for any n without the fold that costs the classic algorithm's extra ranks' partners a second
//    copy of the buffer; 2 x (number of radices) steps of up to 15 concurrent messages.
//  - radix-rd: recursive doubling the same way: one exchange of the whole buffer per radix, the
//    fewest hand-offs of all, for small buffers.
// Both need n's prime factors to be small (at most 64), which keeps the per-rank tables short.
#include <algorithm>

#include "plan/algorithms/patterns.h"
#include "plan/registry.h"

namespace strata {
namespace {

int tierOf(const PlanRequest& r) { return r.nhosts() > 1 ? 0 : -1; }

Schedule buildHd(const PlanRequest& req) {
  const int n = req.nranks;
  const uint32_t nblocks = mixedRadixBlocksFor(n);
  Schedule s = patternSkeleton(req, "radix-hd", nblocks, mixedRadixMaxBlocksPerStep(n, nblocks));
  appendMixedRadixHalvingDoubling(s, s.groups[0], 0, s.nblocks, 0);
  return s;
}

Schedule buildRd(const PlanRequest& req) {
  Schedule s = scheduleSkeleton(req, "radix-rd");
  s.nblocks = 1;
  s.blockElems = req.count;
  appendMixedRadixDoubling(s, s.groups[0], 0, 1, 0);
  return s;
}

}  // namespace

// The whole buffer travels in every exchange: only for buffers that fit one message.
constexpr size_t kRadixRdMaxBytes = size_t(1) << 20;

extern const AlgorithmInfo kAllReduceRadixHd{
    "radix-hd", Collective::AllReduce,
    "mixed-radix halving-doubling: bandwidth-optimal log-depth for any rank count",
    [](const PlanRequest& r) { return mixedRadixSupports(r.nranks); },
    [](const PlanRequest& r) {
      return mixedRadixHalvingDoublingSeconds(r.costModel(), r.nranks, double(r.bytes()),
                                              tierOf(r), r.messageBytes);
    },
    buildHd};

extern const AlgorithmInfo kAllReduceRadixRd{
    "radix-rd", Collective::AllReduce,
    "mixed-radix recursive doubling: one whole-buffer exchange per radix, for small buffers",
    [](const PlanRequest& r) {
      return mixedRadixSupports(r.nranks) && r.bytes() <= std::min(kRadixRdMaxBytes, r.messageBytes);
    },
    [](const PlanRequest& r) {
      return mixedRadixDoublingSeconds(r.costModel(), r.nranks, double(r.bytes()), tierOf(r));
    },
    buildRd};

}  // namespace strata
