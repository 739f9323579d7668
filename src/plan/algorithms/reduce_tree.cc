// Pipelined binary-tree reduce: ranks relative to the root form a binary tree in heap order
// (rank_math.h). A leaf sends its chunk to its parent; a rank with one child adds its own chunk
// to the child's and sends the sum up; a rank with two children first adds the first child's
// chunk to its own (kept in scratch: only the root's output is the user's), then the second
// child's, and sends that up. The root finalizes. floor(log2 n) hops instead of the chain's n-1.
#include "plan/algorithms/pipeline.h"
#include "plan/algorithms/rank_math.h"
#include "plan/algorithms/ring_phases.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest&) { return true; }

double estimateSeconds(const PlanRequest& r) {
  return pipelineSeconds(r, binaryTreeDepth(r.nranks), r.nranks > 2 ? 2 : 1, true);
}

Schedule build(const PlanRequest& request) {
  const int n = request.nranks;
  Schedule s = pipelineSkeleton(request, "tree", binaryTreeDepth(n));
  const TreeLinks l = binaryTreeLinks(request.rank, request.root, n);
  const bool root = l.parent < 0;
  if (!root) s.output = BufferWindow{0, 0};  // partial sums go to scratch
  if (n == 1) {
    s.phases = {localCopyPhase()};
    return s;
  }
  if (l.nchildren == 0) {
    addTablePhase(s, StepKind::Send);
    addRow(s, {l.parent, -1, 0, 1});
    return s;
  }
  uint8_t lastFlags = 0;
  if (l.nchildren == 2) {
    addTablePhase(s, StepKind::RecvReduceCopy);  // output (or scratch) = child 0 + own
    addRow(s, {-1, l.children[0], 0, 1});
    lastFlags = kFromOutput;
  }
  const int lastChild = l.children[l.nchildren - 1];
  if (root) {
    addTablePhase(s, StepKind::RecvReduceCopy, uint8_t(lastFlags | kFinalize));
    addRow(s, {-1, lastChild, 0, 1});
  } else {
    addTablePhase(s, StepKind::RecvReduceSend, lastFlags);
    addRow(s, {l.parent, lastChild, 0, 1});
  }
  return s;
}

}  // namespace

extern const AlgorithmInfo kReduceTree{
    "tree", Collective::Reduce, "pipelined binary tree toward the root, log-depth", supports,
    estimateSeconds, build};

}  // namespace strata
