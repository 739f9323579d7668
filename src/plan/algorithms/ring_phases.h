// Ring phases shared by the ring algorithms and the hierarchical one (which runs rings inside a
// host and across hosts): the patterns as affine rules over a group's indices.
#pragma once

#include "plan/schedule.h"

namespace strata {

inline Phase affinePhase(StepKind kind, uint32_t iterations, uint16_t group, AffineRule send,
                         AffineRule recv, AffineRule block, uint32_t blockModulus,
                         uint8_t flags = 0) {
  Phase p;
  p.kind = kind;
  p.flags = flags;
  p.group = group;
  p.iterations = iterations;
  p.sendPeer = send;
  p.recvPeer = recv;
  p.block = block;
  p.blockModulus = blockModulus;
  return p;
}

// output = input for a world of one (finalized: avg over one rank is the value).
inline Phase localCopyPhase() {
  return affinePhase(StepKind::LocalCopy, 1, 0, {}, {}, {}, 1, kFinalize);
}

// Reduce-scatter + all-gather over group `group` of size g >= 2. Group index i owns (finishes
// reducing) block base + stride*((i+1) mod g) after the reduce-scatter; each logical block is
// `blockCount` consecutive schedule blocks. Appends 5 phases.
inline void appendRingAllReduce(Schedule& s, uint16_t group, uint32_t base, uint32_t stride,
                                uint32_t g, uint32_t blockCount = 1, uint8_t firstFlags = 0) {
  const AffineRule next{1, 0, 1}, prev{1, 0, -1}, none{};
  const uint32_t middle = g - 2;
  auto ph = [&](StepKind k, uint32_t iters, AffineRule send, AffineRule recv, AffineRule block,
                uint8_t flags) {
    Phase p = affinePhase(k, iters, group, send, recv, block, g, flags);
    p.blockBase = base;
    p.blockStride = stride;
    p.blockCount = blockCount;
    s.phases.push_back(p);
  };
  ph(StepKind::Send, 1, next, none, {1, 0, 0}, firstFlags);                       // block i
  ph(StepKind::RecvReduceSend, middle, next, prev, {1, -1, -1}, firstFlags);      // i-1-it
  ph(StepKind::RecvReduceCopySend, 1, next, prev, {1, 0, 1}, firstFlags | kFinalize);  // i+1
  ph(StepKind::RecvCopySend, middle, next, prev, {1, -1, 0}, 0);                  // i-it
  ph(StepKind::Recv, 1, none, prev, {1, 0, 2}, 0);                                // i+2
}

// The two halves of appendRingAllReduce on their own, for algorithms that put something between
// them (the hierarchical all-reduce reduces each shard across hosts). Unlike the all-reduce, the
// reduce-scatter leaves group index i with logical block i (block base + stride*i, blockCount
// schedule blocks), reduced over the group, in its output; `lastFlags` go on that final
// reduction (kFinalize when the group is the whole communicator). The all-gather starts from
// logical block i in every index's output (finished) and leaves all g blocks everywhere.
// g >= 2; three phases each.
inline void appendRingReduceScatter(Schedule& s, uint16_t group, uint32_t base, uint32_t stride,
                                    uint32_t g, uint32_t blockCount = 1, uint8_t firstFlags = 0,
                                    uint8_t lastFlags = 0) {
  const AffineRule next{1, 0, 1}, prev{1, 0, -1}, none{};
  auto ph = [&](StepKind k, uint32_t iters, AffineRule send, AffineRule recv, AffineRule block,
                uint8_t flags) {
    Phase p = affinePhase(k, iters, group, send, recv, block, g, flags);
    p.blockBase = base;
    p.blockStride = stride;
    p.blockCount = blockCount;
    s.phases.push_back(p);
  };
  // Block x starts at index x-1 and travels g-1 hops forward, so it is finished at index x.
  ph(StepKind::Send, 1, next, none, {1, 0, -1}, firstFlags);                 // i-1
  ph(StepKind::RecvReduceSend, g - 2, next, prev, {1, -1, -2}, firstFlags);  // i-2-it
  ph(StepKind::RecvReduceCopy, 1, none, prev, {1, 0, 0}, firstFlags | lastFlags);  // i
}

inline void appendRingAllGather(Schedule& s, uint16_t group, uint32_t base, uint32_t stride,
                                uint32_t g, uint32_t blockCount = 1) {
  const AffineRule next{1, 0, 1}, prev{1, 0, -1}, none{};
  auto ph = [&](StepKind k, uint32_t iters, AffineRule send, AffineRule recv, AffineRule block,
                uint8_t flags) {
    Phase p = affinePhase(k, iters, group, send, recv, block, g, flags);
    p.blockBase = base;
    p.blockStride = stride;
    p.blockCount = blockCount;
    s.phases.push_back(p);
  };
  ph(StepKind::Send, 1, next, none, {1, 0, 0}, kFromOutput);    // i
  ph(StepKind::RecvCopySend, g - 2, next, prev, {1, -1, -1}, 0);  // i-1-it
  ph(StepKind::Recv, 1, none, prev, {1, 0, 1}, 0);              // i+1
}

}  // namespace strata
