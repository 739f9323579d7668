// Pipelined chain reduce: the rank farthest from the root sends its buffer chunk by chunk toward
// the root; every rank on the way adds its own chunk to the one it receives and passes the sum
// on; the root adds its own and writes the finalized result. Each rank sends the buffer once
// (one link's bandwidth); the latency grows with n. Only the root writes its output: the other
// ranks' output may be NULL.
#include "plan/algorithms/pipeline.h"
#include "plan/algorithms/rank_math.h"
#include "plan/algorithms/ring_phases.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest&) { return true; }

double estimateSeconds(const PlanRequest& r) {
  return pipelineSeconds(r, r.nranks - 1, 1, true);
}

Schedule build(const PlanRequest& request) {
  const int n = request.nranks;
  Schedule s = pipelineSkeleton(request, "chain", n - 1);
  const ChainLinks l = chainLinks(request.rank, request.root, n);
  if (request.rank != request.root) s.output = BufferWindow{0, 0};  // writes go to scratch
  if (n == 1) {
    s.phases = {localCopyPhase()};
  } else if (l.awayFromRoot < 0) {  // the chain's end: its input starts the sums
    addTablePhase(s, StepKind::Send);
    addRow(s, {l.towardRoot, -1, 0, 1});
  } else if (l.towardRoot >= 0) {
    addTablePhase(s, StepKind::RecvReduceSend);
    addRow(s, {l.towardRoot, l.awayFromRoot, 0, 1});
  } else {
    addTablePhase(s, StepKind::RecvReduceCopy, kFinalize);
    addRow(s, {-1, l.awayFromRoot, 0, 1});
  }
  return s;
}

}  // namespace

extern const AlgorithmInfo kReduceChain{
    "chain", Collective::Reduce, "pipelined chain toward the root, finalized there", supports,
    estimateSeconds, build};

}  // namespace strata
