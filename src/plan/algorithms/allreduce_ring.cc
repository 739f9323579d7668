// Ring all-reduce: reduce-scatter then all-gather around the ring r -> r+1, each of the n blocks
// pipelined in chunks. Rank r sends its block r, then for n-2 steps receives the partial sum of
// the block before, adds its own and passes it on; the block it completes (r+1) is written to the
// output and starts the all-gather, which forwards n-2 finished blocks and keeps the last.
// Bandwidth-optimal: each rank sends and receives 2(n-1)/n of the buffer.
#include "plan/algorithms/patterns.h"
#include "plan/algorithms/ring_phases.h"
#include "plan/registry.h"

namespace strata {
namespace {

bool supports(const PlanRequest&) { return true; }

double estimateSeconds(const PlanRequest& r) {
  const CostModel& m = r.costModel();
  const double n = r.nranks;
  if (r.nranks == 1) return r.bytes() / m.intraHost.bytesPerSec;
  // A ring that spans hosts runs at the pace of its slowest hop.
  const int tier = r.nhosts() > 1 ? 0 : -1;
  const double block = double(r.bytes()) / n;
  const double chunks = std::max(1.0, block / double(std::max<size_t>(1, r.messageBytes)));
  if (r.nranks == 2) {
    // Two ranks: every bandwidth-optimal all-reduce exchanges the same two half-blocks, and the
    // estimate is the pipelined exchange that radix-hd's model uses too; the tie goes to the ring
    // (first in the table), whose reduce-and-send fused per chunk measured faster at 1 MiB (shared
    // memory 13-14 against radix-hd's 9-10 GB/s).
    return twoRankExchangeSeconds(m, block, chunks, tier) + block / m.reduceBytesPerSec +
           receiveCopySeconds(m, block, tier);
  }
  // 2(n-1) hand-offs of a block, and n-1 reductions of one (the reduce-scatter half).
  return 2 * (n - 1) * (m.message(size_t(block / chunks), tier) * chunks) +
         (n - 1) * (block / m.reduceBytesPerSec + receiveCopySeconds(m, block, tier));
}

Schedule build(const PlanRequest& request) {
  Schedule s = scheduleSkeleton(request, "ring");
  const int n = request.nranks;
  if (n == 1) {
    s.nblocks = 1;
    s.blockElems = request.count;
    s.phases = {localCopyPhase()};
    return s;
  }
  s.nblocks = n;
  // Blocks start on 64-byte boundaries where that costs little (blockElemsFor).
  s.blockElems = blockElemsFor(request.count, n, std::max<size_t>(1, 64 / request.elemBytes));
  appendRingAllReduce(s, 0, 0, 1, n);
  return s;
}

}  // namespace

extern const AlgorithmInfo kAllReduceRing{
    "ring", Collective::AllReduce,
    "reduce-scatter + all-gather around a ring, chunked and pipelined", supports,
    estimateSeconds, build};

}  // namespace strata
