// Ring reduce-scatter: the first half of the ring all-reduce, shifted so that rank r finishes
// block r, the block its output holds. Rank r sends its block r-1 to r+1; for n-2 steps it
// receives the partial sum of a block, adds its own and passes it on; the last block it receives
// is r, which it reduces and writes finalized to its output. The blocks are the user's layout
// (recvcount elements each, no alignment rounding). Bandwidth-optimal: (n-1)/n of the buffer in
// and out of each rank, n-1 hand-offs.
#include "plan/algorithms/ring_phases.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest& r) { return r.count % size_t(r.nranks) == 0; }

double estimateSeconds(const PlanRequest& r) {
  const CostModel& m = r.costModel();
  const double n = r.nranks;
  if (r.nranks == 1) return r.bytes() / m.intraHost.bytesPerSec;
  const int tier = r.nhosts() > 1 ? 0 : -1;  // a ring across hosts runs at its slowest hop
  const double block = double(r.bytes()) / n;
  const double chunks = std::max(1.0, block / double(std::max<size_t>(1, r.messageBytes)));
  return (n - 1) * (m.message(size_t(block / chunks), tier) * chunks + block / m.reduceBytesPerSec);
}

Schedule build(const PlanRequest& request) {
  Schedule s = scheduleSkeleton(request, "ring");
  const uint32_t n = uint32_t(request.nranks);
  s.nblocks = n;
  s.blockElems = request.count / n;
  s.output = BufferWindow{uint32_t(request.rank), 1};
  if (n == 1) {
    s.phases = {localCopyPhase()};
    return s;
  }
  const AffineRule next{1, 0, 1}, prev{1, 0, -1}, none{};
  s.phases = {
      affinePhase(StepKind::Send, 1, 0, next, none, {1, 0, -1}, n),                 // block r-1
      affinePhase(StepKind::RecvReduceSend, n - 2, 0, next, prev, {1, -1, -2}, n),  // r-2-it
      affinePhase(StepKind::RecvReduceCopy, 1, 0, none, prev, {1, 0, 0}, n, kFinalize),  // r
  };
  return s;
}

}  // namespace

extern const AlgorithmInfo kReduceScatterRing{
    "ring", Collective::ReduceScatter,
    "reduce-scatter around a ring, chunked and pipelined; rank r finishes block r", supports,
    estimateSeconds, build};

}  // namespace strata
