// The mixed-radix patterns (patterns.h): halving-doubling and recursive doubling for any group
// size, one step per radix of mixedRadices(m). The rank arithmetic lives in rank_math.h.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "plan/algorithms/patterns.h"
#include "plan/algorithms/rank_math.h"

namespace strata {
namespace {

// Logical block j (of m) is schedule blocks [at(j), at(j+1)) of the pattern's range: any
// blockCount works and a range of logical blocks stays a range of blocks.
struct BlockMap {
  uint32_t base, count;
  int m;
  uint32_t at(int64_t j) const { return base + uint32_t(uint64_t(j) * count / uint64_t(m)); }
  StepArgs span(int send, int recv, BlockSpan s) const {
    return {send, recv, at(s.first), at(int64_t(s.first) + s.size) - at(s.first)};
  }
};

void localCopy(Schedule& s, uint32_t base, uint32_t count, uint8_t firstFlags) {
  addTablePhase(s, StepKind::LocalCopy, uint8_t(firstFlags | kFinalize));
  addRow(s, StepArgs{-1, -1, base, count});
}

}  // namespace

Schedule patternSkeleton(const PlanRequest& request, const char* name, uint32_t nblocks,
                         uint32_t maxBlocksPerStep) {
  Schedule s = scheduleSkeleton(request, name);
  s.nblocks = nblocks;
  s.blockElems =
      blockElemsFor(request.count, nblocks, std::max<size_t>(1, 64 / request.elemBytes));
  s.chunkElems = std::max<size_t>(
      1, request.messageBytes / request.elemBytes / std::max<uint32_t>(1, maxBlocksPerStep));
  return s;
}

bool mixedRadixSupports(int groupSize) { return largestPrimeFactor(groupSize) <= 64; }

uint32_t mixedRadixBlocksFor(int groupSize) { return uint32_t(std::max(1, groupSize)); }

uint32_t mixedRadixMaxBlocksPerStep(int groupSize, uint32_t blockCount, int maxRadix) {
  const std::vector<int> radices = mixedRadices(groupSize, maxRadix);
  if (radices.empty()) return std::max(1u, blockCount);
  // Step 0's parts are the largest: m / r_0 logical blocks, rounded up by the block map.
  return std::max(1u, uint32_t((uint64_t(blockCount) + radices[0] - 1) / radices[0]) + 1);
}

void appendMixedRadixReduceScatter(Schedule& s, const RankGroup& group, uint32_t blockBase,
                                   uint32_t blockCount, uint8_t firstFlags, bool finalize,
                                   int maxRadix) {
  const int m = group.size;
  if (m <= 1) {
    if (finalize || !(firstFlags & kFromOutput)) {
      addTablePhase(s, StepKind::LocalCopy, uint8_t(firstFlags | (finalize ? kFinalize : 0)));
      addRow(s, StepArgs{-1, -1, blockBase, blockCount});
    }
    return;
  }
  const std::vector<int> radices = mixedRadices(m, maxRadix);
  const BlockMap map{blockBase, blockCount, m};
  const int self = group.self;
  // Per step, send every other part of the current range (starting after our own digit, so that
  // the group's ranks do not all send to digit 0 first), then reduce the parts the others send
  // us into the part we keep.
  int weight = 1;
  BlockSpan current{0, m};
  for (size_t st = 0; st < radices.size(); ++st) {
    const int r = radices[st], d = mixedRadixDigit(self, weight, r);
    const int part = current.size / r;
    const uint8_t local = st == 0 ? firstFlags : uint8_t(kFromOutput);
    addTablePhase(s, StepKind::Send, local);
    for (int o = 1; o < r; ++o) {
      const int j = (d + o) % r;
      addRow(s, map.span(group.member(mixedRadixPeer(self, weight, r, j)), -1,
                         {current.first + j * part, part}));
    }
    const BlockSpan kept{current.first + d * part, part};
    for (int o = 1; o < r; ++o) {
      const int j = (d - o + r) % r;  // peer j sends to us as its o-th message
      const bool last = finalize && st + 1 == radices.size() && o + 1 == r;
      addTablePhase(s, StepKind::RecvReduceCopy,
                    uint8_t((o == 1 ? local : uint8_t(kFromOutput)) | (last ? kFinalize : 0)));
      addRow(s, map.span(-1, group.member(mixedRadixPeer(self, weight, r, j)), kept));
    }
    current = kept;
    weight *= r;
  }
}

void appendMixedRadixAllGather(Schedule& s, const RankGroup& group, uint32_t blockBase,
                               uint32_t blockCount, int maxRadix) {
  const int m = group.size;
  if (m <= 1) return;
  const std::vector<int> radices = mixedRadices(m, maxRadix);
  const BlockMap map{blockBase, blockCount, m};
  const int self = group.self;
  int weight = 1;
  for (int r : radices) weight *= r;
  // The reduce-scatter's steps in reverse: send the range we hold to the digit group, receive
  // theirs.
  for (size_t st = radices.size(); st-- > 0;) {
    const int r = radices[st];
    weight /= r;
    const int d = mixedRadixDigit(self, weight, r);
    const BlockSpan held = mixedRadixKept(self, radices, int(st));
    const BlockSpan parent{held.first - d * held.size, held.size * r};
    addTablePhase(s, StepKind::Send, kFromOutput);
    for (int o = 1; o < r; ++o) {
      const int j = (d + o) % r;
      addRow(s, map.span(group.member(mixedRadixPeer(self, weight, r, j)), -1, held));
    }
    addTablePhase(s, StepKind::Recv);
    for (int o = 1; o < r; ++o) {
      const int j = (d - o + r) % r;
      addRow(s, map.span(-1, group.member(mixedRadixPeer(self, weight, r, j)),
                         {parent.first + j * held.size, held.size}));
    }
  }
}

void appendMixedRadixHalvingDoubling(Schedule& s, const RankGroup& group, uint32_t blockBase,
                                     uint32_t blockCount, uint8_t firstFlags, int maxRadix) {
  if (group.size <= 1) return localCopy(s, blockBase, blockCount, firstFlags);
  appendMixedRadixReduceScatter(s, group, blockBase, blockCount, firstFlags, true, maxRadix);
  appendMixedRadixAllGather(s, group, blockBase, blockCount, maxRadix);
}

void appendMixedRadixDoubling(Schedule& s, const RankGroup& group, uint32_t blockBase,
                              uint32_t blockCount, uint8_t firstFlags) {
  const int m = group.size;
  if (m <= 1) return localCopy(s, blockBase, blockCount, firstFlags);
  const std::vector<int> radices = mixedRadices(m, kMaxRadix);
  const int self = group.self;
  int weight = 1;
  for (size_t st = 0; st < radices.size(); ++st) {
    const int r = radices[st], d = mixedRadixDigit(self, weight, r);
    const uint8_t local = st == 0 ? firstFlags : uint8_t(kFromOutput);
    addTablePhase(s, StepKind::Send, local);
    for (int o = 1; o < r; ++o)
      addRow(s, StepArgs{group.member(mixedRadixPeer(self, weight, r, (d + o) % r)), -1,
                         blockBase, blockCount});
    // Every member of the digit group reduces the same r partial results in digit order.
    const bool last = st + 1 == radices.size();
    addTablePhase(s, StepKind::RecvReduceAll, uint8_t(local | (last ? kFinalize : 0)));
    for (int j = 0; j < r; ++j)
      addRow(s, StepArgs{-1, group.member(mixedRadixPeer(self, weight, r, j)), blockBase,
                         blockCount});
    weight *= r;
  }
}

double mixedRadixHalvingDoublingSeconds(const CostModel& c, int groupSize, double bytes, int tier,
                                        size_t messageBytes, int maxRadix) {
  if (groupSize <= 1) return bytes / c.intraHost.bytesPerSec;
  double sec = 0, range = bytes;
  for (int r : mixedRadices(groupSize, maxRadix)) {
    const double out = range * (r - 1) / r;  // sent (and received) this step, each way
    const double messages = std::max(double(r - 1), std::ceil(out / double(std::max<size_t>(1, messageBytes))));
    // The r-1 messages leave back to back: one latency, the bytes at the link's rate.
    const double step = c.message(size_t(out), tier) + (messages - 1) * c.message(0, tier) * 0.1;
    sec += 2 * step + out / c.reduceBytesPerSec + receiveCopySeconds(c, out, tier);
    range /= r;
  }
  return sec;
}

double mixedRadixDoublingSeconds(const CostModel& c, int groupSize, double bytes, int tier) {
  if (groupSize <= 1) return bytes / c.intraHost.bytesPerSec;
  double sec = 0;
  for (int r : mixedRadices(groupSize, kMaxRadix))
    sec += c.message(size_t(bytes * (r - 1)), tier) + (r - 1) * bytes / c.reduceBytesPerSec;
  return sec;
}

}  // namespace strata
