// Ring all-gather: the second half of the ring all-reduce. Rank r copies its block (its input)
// into place r of its output and sends it to r+1; for n-2 steps it forwards the block it just
// received, and keeps the last one. The blocks are the user's layout (sendcount elements each).
// Bandwidth-optimal: (n-1)/n of the output in and out of each rank, n-1 hand-offs.
#include "plan/algorithms/ring_phases.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest& r) { return r.count % size_t(r.nranks) == 0; }

double estimateSeconds(const PlanRequest& r) {
  const CostModel& m = r.costModel();
  const double n = r.nranks;
  if (r.nranks == 1) return r.bytes() / m.intraHost.bytesPerSec;
  const int tier = r.nhosts() > 1 ? 0 : -1;
  const double block = double(r.bytes()) / n;
  const double chunks = std::max(1.0, block / double(std::max<size_t>(1, r.messageBytes)));
  return (n - 1) * m.message(size_t(block / chunks), tier) * chunks;
}

Schedule build(const PlanRequest& request) {
  Schedule s = scheduleSkeleton(request, "ring");
  const uint32_t n = uint32_t(request.nranks);
  s.nblocks = n;
  s.blockElems = request.count / n;
  s.input = BufferWindow{uint32_t(request.rank), 1};
  const AffineRule next{1, 0, 1}, prev{1, 0, -1}, none{};
  // Not kFinalize: nothing is reduced, the op plays no part.
  s.phases = {affinePhase(StepKind::LocalCopy, 1, 0, none, none, {1, 0, 0}, n)};  // block r
  if (n == 1) return s;
  s.phases.push_back(affinePhase(StepKind::Send, 1, 0, next, none, {1, 0, 0}, n));  // block r
  s.phases.push_back(
      affinePhase(StepKind::RecvCopySend, n - 2, 0, next, prev, {1, -1, -1}, n));  // r-1-it
  s.phases.push_back(affinePhase(StepKind::Recv, 1, 0, none, prev, {1, 0, 1}, n));  // r+1
  return s;
}

}  // namespace

extern const AlgorithmInfo kAllGatherRing{
    "ring", Collective::AllGather,
    "all-gather around a ring, chunked and pipelined", supports, estimateSeconds, build};

}  // namespace strata
