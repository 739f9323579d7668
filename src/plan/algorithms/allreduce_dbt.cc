// Double binary tree all-reduce over the whole communicator (NCCL 2.4; the pattern is in
// src/plan/algorithms/patterns.cc): two binary trees, each reducing half of the buffer to its
// root and broadcasting it back, chunk by chunk, with the chunks of one tree climbing and
// descending at once. Every rank is interior in at most one tree, so the two halves' work is
// spread evenly. 2 log2(n) hand-offs of latency and about 2 S per rank: between the ring
// (bandwidth) and recursive doubling (latency), for mid-size buffers on many ranks.
#include "plan/algorithms/patterns.h"
#include "plan/algorithms/pipeline.h"
#include "plan/algorithms/rank_math.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest&) { return true; }

// Elements per chunk of each tree's half: pipeline.h's balance of fill (2 x depth hand-offs)
// against per-message latency, capped at one slot.
size_t chunkElemsFor(const PlanRequest& r) {
  PlanRequest half = r;
  half.count = (r.count + 1) / 2;
  return pipelineChunkElems(half, 2 * (doubleBinaryTreeMaxDepth(r.nranks) - 1));
}

double estimateSeconds(const PlanRequest& r) {
  return doubleBinaryTreeSeconds(r.costModel(), r.nranks, double(r.bytes()), pipelineTier(r),
                                 chunkElemsFor(r) * r.elemBytes);
}

Schedule build(const PlanRequest& request) {
  const int n = request.nranks;
  const uint32_t nblocks = doubleBinaryTreeBlocksFor(n);
  Schedule s =
      patternSkeleton(request, "dbt", nblocks, doubleBinaryTreeMaxBlocksPerStep(n, nblocks));
  // The pipeline's own chunk, when smaller than the slot (pipeline.h).
  s.chunkElems = std::max<size_t>(1, std::min(chunkElemsFor(request), s.chunkElems));
  appendDoubleBinaryTree(s, s.groups[0], 0, s.nblocks, 0);
  s.overlapLanes = true;  // the trees' climbs and descents
  return s;
}

}  // namespace

extern const AlgorithmInfo kAllReduceDoubleBinaryTree{
    "dbt", Collective::AllReduce,
    "double binary tree: two pipelined trees, each reducing and broadcasting half the buffer",
    supports, estimateSeconds, build};

}  // namespace strata
