// Ring all-reduce: reduce-scatter then all-gather around the ring r -> r+1, each of the n blocks
// pipelined in chunks. Rank r sends its block r, then for n-2 steps receives the partial sum of
// the block before, adds its own and passes it on; the block it completes (r+1) is written to the
// output and starts the all-gather, which forwards n-2 finished blocks and keeps the last.
// Bandwidth-optimal: each rank sends and receives 2(n-1)/n of the buffer.
#include "plan/algorithms/shm_cost.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest&) { return true; }

double estimateSeconds(const PlanRequest& r) {
  double n = r.nranks;
  if (r.nranks == 1) return r.bytes() / shmcost::kBytesPerSecond;
  double chunks = std::max(1.0, double(r.bytes()) / n / double(r.messageBytes));
  return 2 * (n - 1) * chunks * shmcost::kMessageSeconds +
         2 * (n - 1) / n * double(r.bytes()) / shmcost::kBytesPerSecond;
}

Schedule build(const PlanRequest& request) {
  Schedule s = scheduleSkeleton(request, "ring");
  const int n = request.nranks;
  const AffineRule next{1, 0, 1}, prev{1, 0, -1}, none{};
  if (n == 1) {
    s.nblocks = 1;
    s.blockElems = request.count;
    s.phases = {{StepKind::LocalCopy, 1, none, none, {}}};
    return s;
  }
  s.nblocks = n;
  // Blocks start on 64-byte boundaries so that the kernels run aligned.
  s.blockElems = blockElemsFor(request.count, n, std::max<size_t>(1, 64 / request.elemBytes));
  const uint32_t middle = n - 2;
  s.phases = {
      {StepKind::Send, 1, next, none, {1, 0, 0}},                       // block r
      {StepKind::RecvReduceSend, middle, next, prev, {1, -1, -1}},      // block r-1-it
      {StepKind::RecvReduceCopySend, 1, next, prev, {1, 0, 1}},         // block r+1
      {StepKind::RecvCopySend, middle, next, prev, {1, -1, 0}},         // block r-it
      {StepKind::Recv, 1, none, prev, {1, 0, 2}},                       // block r+2
  };
  return s;
}

}  // namespace

extern const AlgorithmInfo kAllReduceRing{
    "ring", "allreduce", "reduce-scatter + all-gather around a ring, chunked and pipelined",
    supports, estimateSeconds, build};

}  // namespace strata
