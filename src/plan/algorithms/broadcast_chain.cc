// Pipelined chain broadcast: the root sends its buffer chunk by chunk to root+1, every rank
// copies each chunk it receives into its output and forwards it at once, the last keeps it. Each
// rank sends the buffer once, so the bandwidth is a single link's; the latency grows with n
// (n - 1 + chunks - 1 hand-offs), which the tree avoids. Non-root ranks never read their input.
#include "plan/algorithms/pipeline.h"
#include "plan/algorithms/rank_math.h"
#include "plan/algorithms/ring_phases.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest&) { return true; }

double estimateSeconds(const PlanRequest& r) {
  return pipelineSeconds(r, r.nranks - 1, 1, false);
}

Schedule build(const PlanRequest& request) {
  const int n = request.nranks;
  Schedule s = pipelineSkeleton(request, "chain", n - 1);
  const bool root = request.rank == request.root;
  if (!root) s.input = BufferWindow{0, 0};  // the input of a non-root rank may be NULL
  const ChainLinks l = chainLinks(request.rank, request.root, n);
  if (root) {
    s.phases.push_back(affinePhase(StepKind::LocalCopy, 1, 0, {}, {}, {}, 1));
    if (l.awayFromRoot >= 0) {
      addTablePhase(s, StepKind::Send);
      addRow(s, {l.awayFromRoot, -1, 0, 1});
    }
  } else if (l.awayFromRoot >= 0) {
    addTablePhase(s, StepKind::RecvCopySend);
    addRow(s, {l.awayFromRoot, l.towardRoot, 0, 1});
  } else {
    addTablePhase(s, StepKind::Recv);
    addRow(s, {-1, l.towardRoot, 0, 1});
  }
  return s;
}

}  // namespace

extern const AlgorithmInfo kBroadcastChain{
    "chain", Collective::Broadcast, "pipelined chain from the root, one copy per rank", supports,
    estimateSeconds, build};

}  // namespace strata
