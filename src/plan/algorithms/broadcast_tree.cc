// Pipelined binary-tree broadcast: ranks relative to the root form a binary tree in heap order
// (rank_math.h); each rank receives a chunk from its parent, writes it to its output and sends it
// to its (at most two) children, chunk after chunk. floor(log2 n) hops instead of the chain's
// n-1, at the price of sending each chunk twice from interior ranks. Non-root ranks never read
// their input.
#include "plan/algorithms/pipeline.h"
#include "plan/algorithms/rank_math.h"
#include "plan/algorithms/ring_phases.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest&) { return true; }

double estimateSeconds(const PlanRequest& r) {
  return pipelineSeconds(r, binaryTreeDepth(r.nranks), r.nranks > 2 ? 2 : 1, false);
}

Schedule build(const PlanRequest& request) {
  const int n = request.nranks;
  Schedule s = pipelineSkeleton(request, "tree", binaryTreeDepth(n));
  const TreeLinks l = binaryTreeLinks(request.rank, request.root, n);
  int firstSend = 0;  // children served by a Send phase from here on
  if (l.parent < 0) {
    s.phases.push_back(affinePhase(StepKind::LocalCopy, 1, 0, {}, {}, {}, 1));
  } else {
    s.input = BufferWindow{0, 0};  // the input of a non-root rank may be NULL
    if (l.nchildren == 0) {
      addTablePhase(s, StepKind::Recv);
      addRow(s, {-1, l.parent, 0, 1});
    } else {
      addTablePhase(s, StepKind::RecvCopySend);
      addRow(s, {l.children[0], l.parent, 0, 1});
      firstSend = 1;
    }
  }
  if (firstSend < l.nchildren) {
    // The root sends from its input; the others what they just wrote to their output.
    addTablePhase(s, StepKind::Send, l.parent < 0 ? 0 : kFromOutput);
    for (int k = firstSend; k < l.nchildren; ++k) addRow(s, {l.children[k], -1, 0, 1});
  }
  return s;
}

}  // namespace

extern const AlgorithmInfo kBroadcastTree{
    "tree", Collective::Broadcast, "pipelined binary tree from the root, log-depth", supports,
    estimateSeconds, build};

}  // namespace strata
