// Recursive doubling all-reduce over the whole communicator (src/plan/algorithms/patterns.cc):
// log2(p) pairwise exchanges of the whole buffer (plus a fold and an unfold when n is not a
// power of two). The fewest hand-offs of any pairwise algorithm, at log2(p) times the bytes, so
// it only pays for small buffers, across hosts where a hand-off costs most.
#include "plan/algorithms/patterns.h"
#include "plan/registry.h"

namespace strata {
namespace {

// Beyond this each step's log2(p) x S bytes lose to halving-doubling's 2 S whatever the latency.
// Not so on two ranks, where the one exchange of S is what every all-reduce sends.
constexpr size_t kMaxBytes = 256 << 10;

bool supports(const PlanRequest& r) { return r.bytes() <= kMaxBytes || r.nranks == 2; }

double estimateSeconds(const PlanRequest& r) {
  const int tier = r.nhosts() > 1 ? 0 : -1;
  if (r.nranks == 2 && tier >= 0) {
    // Two hosts: the ring's pipelined exchange of the same bytes, and a reduction of all of
    // them straight out of the received slot. Where the network sends leave from the input
    // (TCP: SendChannel::postFrom) that is all; else the input is first copied into the slots.
    // Between two namespaces over TCP, 1-2 MiB: 3.3-3.8 GB/s against the ring's 2.6-3.6.
    const CostModel& m = r.costModel();
    const double bytes = double(r.bytes()), half = bytes / 2;
    const double chunks = std::max(1.0, half / double(std::max<size_t>(1, r.messageBytes)));
    return twoRankExchangeSeconds(m, half, chunks, tier) + bytes / m.reduceBytesPerSec +
           (r.networkSendsFromBuffers ? 0 : bytes / m.intraHost.bytesPerSec);
  }
  return recursiveDoublingSeconds(r.costModel(), r.nranks, double(r.bytes()), tier,
                                  r.messageBytes);
}

Schedule build(const PlanRequest& request) {
  Schedule s = scheduleSkeleton(request, "rd");
  // One block: every step moves the whole buffer, chunked to the slot size.
  s.nblocks = 1;
  s.blockElems = request.count;
  appendRecursiveDoubling(s, s.groups[0], 0, 1, 0);
  return s;
}

}  // namespace

extern const AlgorithmInfo kAllReduceRecursiveDoubling{
    "rd", Collective::AllReduce,
    "recursive doubling: log2(p) exchanges of the whole buffer, for small messages", supports,
    estimateSeconds, build};

}  // namespace strata
