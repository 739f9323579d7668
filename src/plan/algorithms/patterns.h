// Patterns: all-reduce building blocks over a group of ranks, shared by the flat algorithms (the
// group is the whole communicator) and the hierarchical one (the group is one rail: the ranks of
// the same local index on every host). Each appends phases to a schedule that all-reduce blocks
// [blockBase, blockBase + blockCount) of the full buffer among the group's members and leave the
// finalized result in every member's output.
//
// firstFlags: kFromOutput when the data to reduce already sits in the output buffer (after an
// intra-host reduce-scatter); 0 to read the input.
// Block counts: a pattern works on any blockCount >= 1, but balances best when blockCount is a
// multiple of the value its blocksFor() returns (the builder chooses nblocks accordingly).
// Message size: appenders leave s.chunkElems alone. The builder sets it so that the largest
// message of every pattern it appends fits one slot: messageBytes / elemBytes / the most blocks
// any of them sends at once (their ...MaxBlocksPerStep()).
#pragma once

#include "plan/algorithms/ring_phases.h"
#include "plan/cost_model.h"
#include "plan/registry.h"
#include "plan/schedule.h"

namespace strata {

// The skeleton of an all-reduce over the whole communicator by one pattern: nblocks blocks on
// 64-byte boundaries where that costs little (blockElemsFor), and chunks small enough that the
// pattern's largest step, maxBlocksPerStep blocks' worth, fits one transport message.
Schedule patternSkeleton(const PlanRequest& request, const char* name, uint32_t nblocks,
                         uint32_t maxBlocksPerStep);

// Recursive halving-doubling (Rabenseifner) for any group size: the ranks beyond the largest power
// of two p first fold their data into a partner, p ranks reduce-scatter by halving and all-gather
// by doubling, and the partners get the result back. 2 log2(p) + 2 steps.
uint32_t halvingDoublingBlocksFor(int groupSize);
void appendHalvingDoubling(Schedule& s, const RankGroup& group, uint32_t blockBase,
                           uint32_t blockCount, uint8_t firstFlags);
// Schedule blocks in the largest message: ceil(blockCount / 2) (step 0 and the fold's halves).
uint32_t halvingDoublingMaxBlocksPerStep(int groupSize, uint32_t blockCount);
// Seconds for appendHalvingDoubling on `bytes` over a group whose messages cross `tier` (-1: one
// host), messages of at most `messageBytes`, `sharing` flows per link.
double halvingDoublingSeconds(const CostModel& m, int groupSize, double bytes, int tier,
                              size_t messageBytes, double sharing = 1);

// Recursive doubling: log2(p) (+2) exchanges of the whole range; latency-optimal for small sizes.
void appendRecursiveDoubling(Schedule& s, const RankGroup& group, uint32_t blockBase,
                             uint32_t blockCount, uint8_t firstFlags);
uint32_t recursiveDoublingMaxBlocksPerStep(int groupSize, uint32_t blockCount);  // blockCount
// Across hosts, bytes that arrive to be put in place rather than reduced (an all-gather's) are
// copied out of the receive slot: a pass over them the network's rate does not include. Over
// shared memory the link's measured rate is already that of a copy through a slot: 0.
double receiveCopySeconds(const CostModel& m, double bytes, int tier);
// Two ranks exchanging `block` bytes twice (the two halves of a bandwidth-optimal all-reduce),
// each pipelined in `chunks` messages: the later messages' latency hides behind the first's.
double twoRankExchangeSeconds(const CostModel& m, double block, double chunks, int tier);
double recursiveDoublingSeconds(const CostModel& m, int groupSize, double bytes, int tier,
                                size_t messageBytes, double sharing = 1);

// Double binary tree (NCCL 2.4): two complementary binary trees, each reducing and broadcasting
// half of the range, pipelined chunk by chunk; every rank is interior in at most one tree.
uint32_t doubleBinaryTreeBlocksFor(int groupSize);  // 2
void appendDoubleBinaryTree(Schedule& s, const RankGroup& group, uint32_t blockBase,
                            uint32_t blockCount, uint8_t firstFlags);
// Each tree moves its half in messages of ceil(blockCount / 2) blocks' chunks.
uint32_t doubleBinaryTreeMaxBlocksPerStep(int groupSize, uint32_t blockCount);
// `chunkBytes`: the bytes of one tree's message per chunk (its half of a chunk step).
double doubleBinaryTreeSeconds(const CostModel& m, int groupSize, double bytes, int tier,
                               size_t chunkBytes, double sharing = 1);
// The tree pipelines with chunk lags (up to this many): chunk c is final on every member only at
// walk step c + doubleBinaryTreeLag(). Phases appended after the pattern that read its results
// (an intra-host all-gather) must have chunkLag >= this on every rank; the other patterns
// finish chunk c at step c (lag 0).
uint32_t doubleBinaryTreeLag(int groupSize);

// Ring over the group (affine, five phases), for any group: adds it to Schedule::groups.
uint32_t ringBlocksFor(int groupSize);  // groupSize
void appendRing(Schedule& s, const RankGroup& group, uint32_t blockBase, uint32_t blockCount,
                uint8_t firstFlags);
// Logical block j of the ring is schedule blocks [blockBase + j*q, +q), q = blockCount / size:
// blockCount must be a multiple of the group size. Messages carry q blocks' chunks.
uint32_t ringMaxBlocksPerStep(int groupSize, uint32_t blockCount);

// Swing (De Sensi et al., NSDI'24) for any group size: halving-doubling's fold for the ranks
// beyond the largest power of two p, then a reduce-scatter and an all-gather of log2(p) steps
// each whose peers sit at distances 1, 1, 3, 5, 11, ... (alternating directions), so the largest
// messages go to the nearest ranks. Blocks are numbered so that every step's sets are ranges
// (src/plan/algorithms/swing.cc). 2 log2(p) steps, + 2 with a fold.
uint32_t swingBlocksFor(int groupSize);  // p
// Schedule blocks in the largest message appendSwing sends for a range of blockCount blocks.
uint32_t swingMaxBlocksPerStep(int groupSize, uint32_t blockCount);
void appendSwing(Schedule& s, const RankGroup& group, uint32_t blockBase, uint32_t blockCount,
                 uint8_t firstFlags);
// Seconds for appendSwing on `bytes` over a group whose messages cross `tier` (-1: one host),
// messages of at most `messageBytes`, `sharing` flows per link.
double swingSeconds(const CostModel& m, int groupSize, double bytes, int tier,
                    size_t messageBytes, double sharing = 1);

}  // namespace strata

namespace strata {

// Mixed-radix halving-doubling (rank_math.h, mixedRadices): a reduce-scatter in one step per
// radix, each rank sending (r-1)/r of its current range to the r-1 ranks of its digit group and
// reducing the 1/r it keeps, then the mirror-image all-gather. Bandwidth-optimal for any group
// size (no folding), with 2 x (number of radices) steps of concurrent messages.
// Radices are merged up to this: each radix step of a hierarchical schedule's rails is a lane,
// a pipeline stage that fills and drains, so fewer, wider steps win at scale (docs/planner.md:
// on colossus:100k at 1 GiB, 32 gave 82.5 % of the bound where 16 gave 71.4 %).
constexpr int kMaxRadix = 32;
// The wide variant (hier-radix128-hd): two rail steps up to 16,384 servers, at up to 127
// messages per step. On three steps the rail's lanes drift out of step and share receivers'
// links (full mode, 1,960 ranks); on colossus:100k at 1 GiB fast mode gives two wide steps 95 %
// of the bound against 86 % for three (docs/planner.md, with what is not settled).
constexpr int kMaxWideRadix = 128;
bool mixedRadixSupports(int groupSize);  // its largest prime factor is at most 64
uint32_t mixedRadixBlocksFor(int groupSize);  // groupSize
uint32_t mixedRadixMaxBlocksPerStep(int groupSize, uint32_t blockCount, int maxRadix = kMaxRadix);
void appendMixedRadixHalvingDoubling(Schedule& s, const RankGroup& group, uint32_t blockBase,
                                     uint32_t blockCount, uint8_t firstFlags, int maxRadix = kMaxRadix);
// Its two halves. After the reduce-scatter, this rank holds (finalized only if asked) the blocks
// of mixedRadixKept's last step; the all-gather starts from there. With one radix (a group of at
// most kMaxRadix) each is a single direct exchange: every rank sends to every other at once.
void appendMixedRadixReduceScatter(Schedule& s, const RankGroup& group, uint32_t blockBase,
                                   uint32_t blockCount, uint8_t firstFlags, bool finalize,
                                   int maxRadix = kMaxRadix);
void appendMixedRadixAllGather(Schedule& s, const RankGroup& group, uint32_t blockBase,
                               uint32_t blockCount, int maxRadix = kMaxRadix);

double mixedRadixHalvingDoublingSeconds(const CostModel& m, int groupSize, double bytes, int tier,
                                        size_t messageBytes, int maxRadix = kMaxRadix);

// Mixed-radix recursive doubling: per radix, the whole range to the r-1 other ranks of the digit
// group, then every member reduces the r ranges in digit order (the same bits everywhere). One
// step per radix: the fewest hand-offs, for small buffers.
void appendMixedRadixDoubling(Schedule& s, const RankGroup& group, uint32_t blockBase,
                              uint32_t blockCount, uint8_t firstFlags);
double mixedRadixDoublingSeconds(const CostModel& m, int groupSize, double bytes, int tier);

}  // namespace strata
