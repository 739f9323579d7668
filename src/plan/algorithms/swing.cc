// Swing all-reduce pattern (De Sensi et al., "Swing: Short-cutting Rings for Higher Bandwidth
// Allreduce", NSDI'24), bandwidth-optimal variant, over any group.
//
// Like recursive halving-doubling it reduce-scatters in log2(p) steps, each halving the data a
// rank holds, then all-gathers in the reverse order; but the peer at step s is v + rho(s) for an
// even virtual rank and v - rho(s) for an odd one, rho = 1, -1, 3, -5, 11, ... So the first step,
// which moves half of the buffer, goes to a neighbour, the second (a quarter) to the neighbour on
// the other side, and only the small late steps travel far: on a fabric where neighbours share a
// host or a leaf switch, more of the bytes stay there than with the textbook halving-doubling
// whose first, largest step goes to the rank p/2 away. Measured from the schedules
// (tests/unit/test_allreduce_locality.cc, 1,024 ranks, 8 per host, 64-host leaf groups), per
// rank: swing sends 0.40 S across hosts and 0.012 S across leaf groups, hd 1.98 S and 1.00 S,
// both 2(p-1)/p S in all. A halving-doubling that starts at distance 1 would be more local still
// on contiguous power-of-two hosts (about 0.25 S across hosts); Swing's published gains are on
// tori and other fabrics where XOR partners are not near. docs/algorithms.md has the table.
//
// Blocks: the set of ranks whose blocks v keeps after step s (those reachable from v through steps
// s+1..L-1) is not an aligned range of ranks, but these sets nest as a binary tree, so numbering
// the blocks by that tree (swingKeptFirst in rank_math) makes every send and every receive one
// contiguous range of blocks: one packed message per step.
//
// Groups that are not a power of two fold first (rank_math's foldVirtual): the extra rank of each
// neighbouring pair sends its data to its partner in two half messages and receives the result at
// the end. Every step is a table phase of one or two rows, so a rank's program has O(log p) rows.
#include <algorithm>
#include <cmath>
#include <utility>

#include "plan/algorithms/patterns.h"
#include "plan/algorithms/rank_math.h"

namespace strata {

uint32_t swingBlocksFor(int groupSize) {
  return uint32_t(largestPowerOfTwoAtMost(std::max(1, groupSize)));
}

uint32_t swingMaxBlocksPerStep(int groupSize, uint32_t blockCount) {
  // The fold's halves and step 0's ranges are the largest: ceil(blockCount / 2) blocks.
  return groupSize <= 1 ? blockCount : (blockCount + 1) / 2;
}

void appendSwing(Schedule& s, const RankGroup& group, uint32_t blockBase, uint32_t blockCount,
                 uint8_t firstFlags) {
  const int g = group.size;
  const int i = group.self;
  if (g <= 1) {
    addTablePhase(s, StepKind::LocalCopy, uint8_t(firstFlags | kFinalize));
    addRow(s, {-1, -1, blockBase, blockCount});
    return;
  }
  const int p = largestPowerOfTwoAtMost(g);
  const int L = log2Exact(p);
  // Logical block j (of p) is schedule blocks [blockAt(j), blockAt(j + 1)): any blockCount works,
  // and a range of logical blocks stays a range of schedule blocks.
  auto blockAt = [&](uint64_t j) { return blockBase + uint32_t(j * blockCount / uint64_t(p)); };
  auto logical = [&](int64_t peer, uint32_t first, uint32_t n, bool sending) {
    StepArgs a;
    (sending ? a.sendPeer : a.recvPeer) = int32_t(peer);
    a.blockFirst = blockAt(first);
    a.blockCount = blockAt(uint64_t(first) + n) - a.blockFirst;
    return a;
  };
  // The whole range in two messages, so no message is larger than step 0's.
  const uint32_t half = blockCount / 2;
  auto halves = [&](StepKind kind, uint8_t flags, int peer, bool sending) {
    addTablePhase(s, kind, flags);
    using Range = std::pair<uint32_t, uint32_t>;
    for (const Range& r : {Range{blockBase, half}, Range{blockBase + half, blockCount - half}}) {
      const auto [first, n] = r;
      StepArgs a;
      (sending ? a.sendPeer : a.recvPeer) = peer;
      a.blockFirst = first;
      a.blockCount = n;
      addRow(s, a);
    }
  };

  const int v = foldVirtual(i, g);
  const int partner = foldPartner(i, g);
  if (v < 0) {  // an extra: hand the data over, take the result back
    halves(StepKind::Send, firstFlags, group.member(partner), true);
    halves(StepKind::Recv, 0, group.member(partner), false);
    return;
  }
  uint8_t local = firstFlags;
  if (partner >= 0) {
    halves(StepKind::RecvReduceCopy, firstFlags, group.member(partner), false);
    local = kFromOutput;
  }
  auto memberOf = [&](int virt) { return group.member(foldMember(virt, g)); };
  for (int step = 0; step < L; ++step) {
    const int q = swingPeer(v, step, p);
    const uint32_t n = uint32_t(p) >> (step + 1);
    addTablePhase(s, StepKind::Send, local);
    addRow(s, logical(memberOf(q), swingKeptFirst(q, step, p), n, true));
    addTablePhase(s, StepKind::RecvReduceCopy,
                  uint8_t(local | (step == L - 1 ? kFinalize : 0)));
    addRow(s, logical(memberOf(q), swingKeptFirst(v, step, p), n, false));
    local = kFromOutput;  // the partial sums now live in the output
  }
  for (int step = L - 1; step >= 0; --step) {
    const int q = swingPeer(v, step, p);
    const uint32_t n = uint32_t(p) >> (step + 1);
    addTablePhase(s, StepKind::Send, kFromOutput);
    addRow(s, logical(memberOf(q), swingKeptFirst(v, step, p), n, true));
    addTablePhase(s, StepKind::Recv, 0);
    addRow(s, logical(memberOf(q), swingKeptFirst(q, step, p), n, false));
  }
  if (partner >= 0) halves(StepKind::Send, kFromOutput, group.member(partner), true);
}

}  // namespace strata

namespace strata {

double swingSeconds(const CostModel& m, int groupSize, double bytes, int tier,
                    size_t messageBytes, double sharing) {
  if (groupSize <= 1) return bytes / m.intraHost.bytesPerSec;
  const int p = largestPowerOfTwoAtMost(groupSize);
  const double maxMessage = double(std::max<size_t>(1, messageBytes));
  // A step that moves b bytes sends ceil(b / maxMessage) messages.
  auto step = [&](double b, bool reduce) {
    const double chunks = std::max(1.0, std::ceil(b / maxMessage));
    return chunks * m.message(size_t(b / chunks), tier, sharing) +
           (reduce ? b / m.reduceBytesPerSec : receiveCopySeconds(m, b, tier));
  };
  double sec = 0;
  if (p != groupSize) sec += step(bytes, true) + step(bytes, false);  // fold and unfold
  for (int st = 0; st < log2Exact(p); ++st) {
    const double b = bytes / double(2 << st);  // step st's share, in each direction
    sec += step(b, true) + step(b, false);
  }
  return sec;
}

}  // namespace strata
