// The all-reduce patterns over a group (patterns.h): halving-doubling, recursive doubling, the
// double binary tree and the ring. Each rank's program is a few table phases of O(log g) rows
// (the ring: five affine phases); the rank arithmetic is in rank_math.h.
//
// Halving-doubling and recursive doubling: groups that are not a power of two fold first
// (rank_math's foldVirtual): the extra rank of each neighbouring pair hands its data to its
// partner (non-final reduction), p = 2^L ranks run the power-of-two pattern, and the partner
// sends the finished result back. Every exchange is a Send phase then a receive phase, so the
// two ends of a pair never wait on each other.
//
// Double binary tree: tree 0 reduces and broadcasts the first half of the range, tree 1 the
// second. Pipelining comes from the lags: a rank at depth d of a tree reduces chunk c at walk
// step t = c + K - d and receives its broadcast at t = c + K + d (K bounds every depth), so every
// message is consumed exactly one step after it is sent. Two things follow. Chunk c climbs one
// level per step while newer chunks climb behind it and older ones descend, the pipeline NCCL
// gets from separate threads. And no rank ever waits for a message of its own step or a later
// one, so the walk cannot deadlock (the lowest step any rank is at can always proceed: what it
// waits for was sent a step earlier, and a channel holds at most the messages of two steps, two
// each, which fits the FIFO depth of 8). A channel can carry one tree's reduction and the other
// tree's broadcast (when a rank is a child of its peer in one tree and its parent in the other);
// both ends meet them in the same order because every rank lists all reduction phases before all
// broadcast phases and every message takes exactly one step.
#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.h"
#include "plan/algorithms/patterns.h"
#include "plan/algorithms/rank_math.h"

namespace strata {
namespace {

void localCopyRange(Schedule& s, uint32_t blockBase, uint32_t blockCount, uint8_t firstFlags) {
  addTablePhase(s, StepKind::LocalCopy, uint8_t(firstFlags | kFinalize));
  addRow(s, {-1, -1, blockBase, blockCount});
}

StepArgs row(int sendPeer, int recvPeer, uint32_t first, uint32_t count) {
  StepArgs a;
  a.sendPeer = sendPeer;
  a.recvPeer = recvPeer;
  a.blockFirst = first;
  a.blockCount = count;
  return a;
}

// One phase of `kind` over the whole range, to or from `peer`, in `pieces` rows (1 or 2 halves:
// halving-doubling keeps its fold's messages no larger than its first step's).
void wholeRange(Schedule& s, StepKind kind, uint8_t flags, int peer, uint32_t blockBase,
                uint32_t blockCount, int pieces) {
  addTablePhase(s, kind, flags);
  const bool sending = kind == StepKind::Send;
  const uint32_t half = pieces == 2 ? blockCount / 2 : 0;
  for (const auto& [first, n] : {std::pair{blockBase, half},
                                 std::pair{blockBase + half, blockCount - half}}) {
    if (n == 0) continue;  // both ends skip the same empty half
    addRow(s, row(sending ? peer : -1, sending ? -1 : peer, first, n));
  }
}

// The fold of a group that is not a power of two, around the power-of-two pattern `body`
// (called with v's virtual index, p, the flags of its first local read and the rank of a
// virtual index).
template <typename Body>
void withFold(Schedule& s, const RankGroup& group, uint32_t blockBase, uint32_t blockCount,
              uint8_t firstFlags, int pieces, Body&& body) {
  const int g = group.size;
  const int i = group.self;
  const int v = foldVirtual(i, g);
  const int partner = foldPartner(i, g);
  if (v < 0) {  // an extra: hand the data over, take the result back
    wholeRange(s, StepKind::Send, firstFlags, group.member(partner), blockBase, blockCount, pieces);
    wholeRange(s, StepKind::Recv, 0, group.member(partner), blockBase, blockCount, pieces);
    return;
  }
  uint8_t local = firstFlags;
  if (partner >= 0) {
    wholeRange(s, StepKind::RecvReduceCopy, firstFlags, group.member(partner), blockBase,
               blockCount, pieces);
    local = kFromOutput;  // the pair's sum is in the output now
  }
  const int p = largestPowerOfTwoAtMost(g);
  body(v, p, local, [&](int virt) { return group.member(foldMember(virt, g)); });
  if (partner >= 0)
    wholeRange(s, StepKind::Send, kFromOutput, group.member(partner), blockBase, blockCount,
               pieces);
}

// A step of b bytes sends ceil(b / messageBytes) messages (and reduces b bytes if `reduce`).
double stepSeconds(const CostModel& m, double b, bool reduce, int tier, size_t messageBytes,
                   double sharing) {
  const double chunks = std::max(1.0, std::ceil(b / double(std::max<size_t>(1, messageBytes))));
  return chunks * m.message(size_t(b / chunks), tier, sharing) +
         (reduce ? b / m.reduceBytesPerSec : receiveCopySeconds(m, b, tier));
}

}  // namespace

// ---- Recursive halving-doubling ----------------------------------------------------------------

uint32_t halvingDoublingBlocksFor(int groupSize) {
  return uint32_t(largestPowerOfTwoAtMost(std::max(1, groupSize)));
}

uint32_t halvingDoublingMaxBlocksPerStep(int groupSize, uint32_t blockCount) {
  return groupSize <= 1 ? std::max(1u, blockCount) : std::max(1u, (blockCount + 1) / 2);
}

void appendHalvingDoubling(Schedule& s, const RankGroup& group, uint32_t blockBase,
                           uint32_t blockCount, uint8_t firstFlags) {
  if (group.size <= 1) return localCopyRange(s, blockBase, blockCount, firstFlags);
  withFold(s, group, blockBase, blockCount, firstFlags, 2,
           [&](int v, int p, uint8_t local, auto&& rankOf) {
             const int L = log2Exact(p);
             // Logical block j (of p) is schedule blocks [blockAt(j), blockAt(j + 1)): any
             // blockCount works, and a range of logical blocks stays a range of blocks.
             auto blockAt = [&](uint64_t j) {
               return blockBase + uint32_t(j * blockCount / uint64_t(p));
             };
             auto range = [&](int sendPeer, int recvPeer, uint32_t first, uint32_t n) {
               return row(sendPeer, recvPeer, blockAt(first),
                          blockAt(uint64_t(first) + n) - blockAt(first));
             };
             for (int step = 0; step < L; ++step) {
               const int q = halvingDoublingPeer(v, step, p);
               const uint32_t n = uint32_t(p) >> (step + 1);
               addTablePhase(s, StepKind::Send, local);
               addRow(s, range(rankOf(q), -1, halvingDoublingKeptFirst(q, step, p), n));
               addTablePhase(s, StepKind::RecvReduceCopy,
                             uint8_t(local | (step == L - 1 ? kFinalize : 0)));
               addRow(s, range(-1, rankOf(q), halvingDoublingKeptFirst(v, step, p), n));
               local = kFromOutput;  // the partial sums now live in the output
             }
             for (int step = L - 1; step >= 0; --step) {
               const int q = halvingDoublingPeer(v, step, p);
               const uint32_t n = uint32_t(p) >> (step + 1);
               addTablePhase(s, StepKind::Send, kFromOutput);
               addRow(s, range(rankOf(q), -1, halvingDoublingKeptFirst(v, step, p), n));
               addTablePhase(s, StepKind::Recv, 0);
               addRow(s, range(-1, rankOf(q), halvingDoublingKeptFirst(q, step, p), n));
             }
           });
}

double halvingDoublingSeconds(const CostModel& m, int groupSize, double bytes, int tier,
                              size_t messageBytes, double sharing) {
  if (groupSize <= 1) return bytes / m.intraHost.bytesPerSec;
  const int p = largestPowerOfTwoAtMost(groupSize);
  double sec = 0;
  if (p != groupSize)  // fold and unfold: the whole buffer, in two messages at least
    sec += stepSeconds(m, bytes, true, tier, messageBytes, sharing) +
           stepSeconds(m, bytes, false, tier, messageBytes, sharing);
  for (int st = 0; st < log2Exact(p); ++st) {
    const double b = bytes / double(2 << st);  // step st's half, each way
    sec += stepSeconds(m, b, true, tier, messageBytes, sharing) +
           stepSeconds(m, b, false, tier, messageBytes, sharing);
  }
  return sec;
}

// ---- Recursive doubling ------------------------------------------------------------------------

uint32_t recursiveDoublingMaxBlocksPerStep(int, uint32_t blockCount) {
  return std::max(1u, blockCount);
}

void appendRecursiveDoubling(Schedule& s, const RankGroup& group, uint32_t blockBase,
                             uint32_t blockCount, uint8_t firstFlags) {
  if (group.size <= 1) return localCopyRange(s, blockBase, blockCount, firstFlags);
  // Both ends of an exchange add the same two partial sums (a op b and b op a give the same bits
  // for every op), and each partial sum is the same on every rank of its subcube, so every rank
  // ends with the same bits.
  withFold(s, group, blockBase, blockCount, firstFlags, 1,
           [&](int v, int p, uint8_t local, auto&& rankOf) {
             const int L = log2Exact(p);
             for (int step = 0; step < L; ++step) {
               const int q = rankOf(recursiveDoublingPeer(v, step));
               addTablePhase(s, StepKind::Send, local);
               addRow(s, row(q, -1, blockBase, blockCount));
               addTablePhase(s, StepKind::RecvReduceCopy,
                             uint8_t(local | (step == L - 1 ? kFinalize : 0)));
               addRow(s, row(-1, q, blockBase, blockCount));
               local = kFromOutput;
             }
           });
}

double receiveCopySeconds(const CostModel& m, double bytes, int tier) {
  return tier >= 0 ? bytes / m.intraHost.bytesPerSec : 0;
}

double twoRankExchangeSeconds(const CostModel& m, double block, double chunks, int tier) {
  return 2 * (m.message(size_t(block), tier) + (chunks - 1) * m.message(0, tier) * 0.1);
}

double recursiveDoublingSeconds(const CostModel& m, int groupSize, double bytes, int tier,
                                size_t messageBytes, double sharing) {
  if (groupSize <= 1) return bytes / m.intraHost.bytesPerSec;
  const int p = largestPowerOfTwoAtMost(groupSize);
  const int steps = log2Exact(p) + (p != groupSize ? 1 : 0);  // + the fold; the unfold is a copy
  double sec = steps * stepSeconds(m, bytes, true, tier, messageBytes, sharing);
  if (p != groupSize) sec += stepSeconds(m, bytes, false, tier, messageBytes, sharing);
  return sec;
}

// ---- Double binary tree ------------------------------------------------------------------------

uint32_t doubleBinaryTreeBlocksFor(int) { return 2; }

uint32_t doubleBinaryTreeLag(int groupSize) {
  return groupSize <= 1 ? 0 : 2 * uint32_t(doubleBinaryTreeMaxDepth(groupSize));
}

uint32_t doubleBinaryTreeMaxBlocksPerStep(int groupSize, uint32_t blockCount) {
  return groupSize <= 1 ? std::max(1u, blockCount) : std::max(1u, (blockCount + 1) / 2);
}

void appendDoubleBinaryTree(Schedule& s, const RankGroup& group, uint32_t blockBase,
                            uint32_t blockCount, uint8_t firstFlags) {
  const int g = group.size;
  if (g <= 1) return localCopyRange(s, blockBase, blockCount, firstFlags);
  const int i = group.self;
  const uint32_t K = uint32_t(doubleBinaryTreeMaxDepth(g));
  const uint32_t half = (blockCount + 1) / 2;
  struct Tree {
    TreeLinks links;
    uint32_t depth, first, count;
  };
  Tree trees[2];
  for (int t = 0; t < 2; ++t) {
    TreeLinks l = doubleBinaryTreeLinks(i, g, t);
    if (l.parent >= 0) l.parent = group.member(l.parent);
    for (int k = 0; k < l.nchildren; ++k) l.children[k] = group.member(l.children[k]);
    trees[t] = {l, uint32_t(doubleBinaryTreeDepth(i, g, t)),
                t == 0 ? blockBase : blockBase + half, t == 0 ? half : blockCount - half};
  }
  // Reductions of both trees first, then both broadcasts (the file's header says why).
  for (const Tree& t : trees) {
    if (t.count == 0) continue;  // one block: tree 1 has nothing to do
    const TreeLinks& l = t.links;
    const uint32_t lag = K - t.depth;
    const bool root = l.parent < 0;
    if (l.nchildren == 0) {
      addTablePhase(s, StepKind::Send, firstFlags, lag);
      addRow(s, row(l.parent, -1, t.first, t.count));
      continue;
    }
    const uint8_t finalFlags = root ? uint8_t(kFinalize) : uint8_t(0);
    if (l.nchildren == 2) {  // the first child's sum goes to the output, the second's joins it
      addTablePhase(s, StepKind::RecvReduceCopy, firstFlags, lag);
      addRow(s, row(-1, l.children[0], t.first, t.count));
    }
    const uint8_t flags = l.nchildren == 2 ? uint8_t(kFromOutput) : firstFlags;
    addTablePhase(s, root ? StepKind::RecvReduceCopy : StepKind::RecvReduceSend,
                  uint8_t(flags | finalFlags), lag);
    addRow(s, row(l.parent, l.children[l.nchildren - 1], t.first, t.count));
  }
  for (const Tree& t : trees) {
    if (t.count == 0) continue;
    const TreeLinks& l = t.links;
    const uint32_t lag = K + t.depth;
    if (l.parent < 0) {
      addTablePhase(s, StepKind::Send, kFromOutput, lag);
      for (int k = 0; k < l.nchildren; ++k) addRow(s, row(l.children[k], -1, t.first, t.count));
    } else if (l.nchildren == 0) {
      addTablePhase(s, StepKind::Recv, 0, lag);
      addRow(s, row(-1, l.parent, t.first, t.count));
    } else {
      addTablePhase(s, StepKind::RecvCopySend, 0, lag);
      addRow(s, row(l.children[0], l.parent, t.first, t.count));
      if (l.nchildren == 2) {
        addTablePhase(s, StepKind::Send, kFromOutput, lag);
        addRow(s, row(l.children[1], -1, t.first, t.count));
      }
    }
  }
}

double doubleBinaryTreeSeconds(const CostModel& m, int groupSize, double bytes, int tier,
                               size_t chunkBytes, double sharing) {
  if (groupSize <= 1) return bytes / m.intraHost.bytesPerSec;
  // Each tree moves half the bytes in chunks; a chunk climbs and descends one level per step,
  // so the pipeline fills in 2 x depth steps. In each step a rank does one tree's interior work
  // (two receives and a send up, a receive and two sends down) and the other's leaf work (a send
  // up, a receive down): about four messages of a chunk, and two reductions of it.
  const double half = bytes / 2;
  const double chunk = std::max(1.0, std::min(half, double(std::max<size_t>(1, chunkBytes))));
  const double chunks = std::max(1.0, std::ceil(half / chunk));
  const double depth = doubleBinaryTreeMaxDepth(groupSize) - 1;
  const double hop = m.message(size_t(chunk), tier, sharing);
  // The descents' two receives per step are copied into place.
  const double perStep =
      4 * hop + 2 * chunk / m.reduceBytesPerSec + 2 * receiveCopySeconds(m, chunk, tier);
  return 2 * depth * (hop + chunk / m.reduceBytesPerSec) + chunks * perStep;
}

// ---- Ring --------------------------------------------------------------------------------------

uint32_t ringBlocksFor(int groupSize) { return uint32_t(std::max(1, groupSize)); }

uint32_t ringMaxBlocksPerStep(int groupSize, uint32_t blockCount) {
  return groupSize <= 1 ? std::max(1u, blockCount)
                        : std::max(1u, blockCount / uint32_t(groupSize));
}

void appendRing(Schedule& s, const RankGroup& group, uint32_t blockBase, uint32_t blockCount,
                uint8_t firstFlags) {
  const uint32_t g = uint32_t(group.size);
  if (g <= 1) return localCopyRange(s, blockBase, blockCount, firstFlags);
  STRATA_CHECK(blockCount % g == 0 && blockCount > 0, strataInternalError,
               "{}: a ring over {} ranks needs a multiple of {} blocks, not {}", s.algorithm, g, g,
               blockCount);
  s.groups.push_back(group);
  const uint32_t q = blockCount / g;
  appendRingAllReduce(s, uint16_t(s.groups.size() - 1), blockBase, q, g, q, firstFlags);
}

}  // namespace strata
