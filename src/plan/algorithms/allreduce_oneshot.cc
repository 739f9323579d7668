// One-shot all-reduce for small messages on one host: every rank sends its whole buffer to every
// other rank in one message, then reduces all n buffers in rank order. One hand-off of latency
// instead of 2(n-1), at the price of (n-1) x the bytes, which only pays below a few KiB..64 KiB.
// Reducing in rank order on every rank gives every rank the same bits.
#include "plan/algorithms/shm_cost.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest& r) {
  return r.allOnOneHost && r.bytes() <= r.oneShotMaxBytes && r.bytes() <= r.messageBytes;
}

double estimateSeconds(const PlanRequest& r) {
  double n = r.nranks;
  // Sending to n-1 peers and reducing n-1 inputs, both of the whole buffer.
  return shmcost::kMessageSeconds + 2 * (n - 1) * double(r.bytes()) / shmcost::kBytesPerSecond;
}

Schedule build(const PlanRequest& request) {
  Schedule s = scheduleSkeleton(request, "oneshot");
  const uint32_t n = request.nranks;
  s.nblocks = 1;
  s.blockElems = request.count;
  s.chunkElems = std::max<size_t>(1, request.count);
  s.phases = {
      {StepKind::Send, n - 1, {1, 1, 1}, {}, {}},         // to rank r+1+it
      {StepKind::RecvReduceAll, n, {}, {0, 1, 0}, {}},    // from rank it, own input at it == r
  };
  return s;
}

}  // namespace

extern const AlgorithmInfo kAllReduceOneShot{
    "oneshot", "allreduce", "each rank sends its buffer to all, all reduce in rank order",
    supports, estimateSeconds, build};

}  // namespace strata
