// One-shot all-reduce for small messages on one host: every rank sends its whole buffer to every
// other rank in one message, then reduces all n buffers in rank order. One hand-off of latency
// instead of 2(n-1), at the price of (n-1) x the bytes, which only pays below a few KiB..64 KiB.
// Reducing in rank order on every rank gives every rank the same bits.
#include "plan/algorithms/ring_phases.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest& r) {
  return r.nhosts() == 1 && r.bytes() <= r.oneShotMaxBytes && r.bytes() <= r.messageBytes;
}

double estimateSeconds(const PlanRequest& r) {
  const CostModel& m = r.costModel();
  const double n = r.nranks;
  // One hand-off, then sending to n-1 peers and reducing n-1 inputs, all of the whole buffer.
  return m.intraHost.alphaSec + (n - 1) * double(r.bytes()) / m.intraHost.bytesPerSec +
         (n - 1) * double(r.bytes()) / m.reduceBytesPerSec;
}

Schedule build(const PlanRequest& request) {
  Schedule s = scheduleSkeleton(request, "oneshot");
  const uint32_t n = request.nranks;
  s.nblocks = 1;
  s.blockElems = request.count;
  s.chunkElems = std::max<size_t>(1, request.count);
  if (n == 1) {
    s.phases = {localCopyPhase()};
    return s;
  }
  s.phases = {
      affinePhase(StepKind::Send, n - 1, 0, {1, 1, 1}, {}, {}, 1),               // to r+1+it
      affinePhase(StepKind::RecvReduceAll, n, 0, {}, {0, 1, 0}, {}, 1, kFinalize),  // from it
  };
  return s;
}

}  // namespace

extern const AlgorithmInfo kAllReduceOneShot{
    "oneshot", Collective::AllReduce,
    "each rank sends its buffer to all, all reduce in rank order", supports, estimateSeconds,
    build};

}  // namespace strata
