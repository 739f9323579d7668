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
  Schedule s = scheduleSkeleton(request, "hd");
  const int n = request.nranks;
  s.nblocks = halvingDoublingBlocksFor(n);
  // Blocks start on 64-byte boundaries so that the kernels run aligned.
  s.blockElems =
      blockElemsFor(request.count, s.nblocks, std::max<size_t>(1, 64 / request.elemBytes));
  // Every message fits one slot: the largest step carries this many blocks' chunks.
  const size_t maxBlocks = halvingDoublingMaxBlocksPerStep(n, s.nblocks);
  s.chunkElems = std::max<size_t>(1, request.messageBytes / request.elemBytes / maxBlocks);
  appendHalvingDoubling(s, s.groups[0], 0, s.nblocks, 0);
  return s;
}

}  // namespace

extern const AlgorithmInfo kAllReduceHalvingDoubling{
    "hd", Collective::AllReduce,
    "recursive halving-doubling (Rabenseifner): log-depth reduce-scatter + all-gather", supports,
    estimateSeconds, build};

}  // namespace strata
