// A schedule: what one rank does in one collective, as data (docs/schedules.md).
//
// The collective's full buffer of `count` elements is cut into `nblocks` blocks (the last may be
// short or empty), and each block into chunks of at most `chunkElems` elements. Blocks may come
// in shards of `shardBlocks` blocks each holding `shardElems` elements (a hierarchical schedule's
// shard per GPU of a host), so that a small buffer still splits evenly over the shards. A step moves a
// contiguous range of blocks; its message carries chunk c of every block of the range, packed one
// after another. The executor's outer loop is over the chunk index, so every algorithm pipelines.
//
// A rank's program is a short list of phases. A phase repeats one step kind `iterations` times;
// the peers and blocks of iteration `it` come either from affine rules over the rank's index in a
// group of ranks (a ring of n ranks is five phases, whatever n), or from a small per-rank table
// (log-depth and tree algorithms: O(log n) rows). Nothing is unrolled over the ranks, so a
// schedule for 131,072 ranks is a few KiB and the simulator expands it lazily.
//
// The executor runs, for t = 0 .. chunks + maxLag - 1, for each phase, for each iteration: the
// step on chunk (t - phase.chunkLag) of that iteration's blocks, skipping chunks outside
// [0, chunks). Every rank walks the same (t, phase, iteration) order, which is what makes the
// messages on each channel arrive in the order their receiver expects them. A lag lets a later
// phase (a tree's broadcast) work on an older chunk while an earlier one (its reduction) works on
// a newer one, so the two overlap instead of each chunk making the round trip alone.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace strata {

// The step vocabulary, with NCCL's fused forms that save passes over memory. "local" is the
// rank's input buffer, or its output buffer for phases flagged kFromOutput; "in" is a received
// message, "out" a send slot. All act on the phase's block range, chunk by chunk.
enum class StepKind : uint8_t {
  Send,                // out = local
  Recv,                // output = in
  RecvReduceSend,      // out = in op local
  RecvReduceCopy,      // output = in op local
  RecvReduceCopySend,  // output = in op local; out = output
  RecvCopySend,        // output = in; out = in
  LocalCopy,           // output = local
  RecvReduceAll,       // output = ordered op over every group member's blocks, the others' from
                       // recvPeer(it) for it in [0, iterations), in that order (so every rank
                       // computes the same bits); the rank itself appears once, as "local"
};

const char* stepKindName(StepKind kind);
bool stepSends(StepKind kind);     // posts a message
bool stepReceives(StepKind kind);  // consumes one (RecvReduceAll: several)
bool stepWritesOutput(StepKind kind);

// value = (rankCoef * x + iterCoef * iteration + offset) mod modulus, always in [0, modulus).
struct AffineRule {
  int64_t rankCoef = 0;
  int64_t iterCoef = 0;
  int64_t offset = 0;
  int64_t eval(int64_t x, int64_t iteration, int64_t modulus) const {
    int64_t v = (rankCoef * x + iterCoef * iteration + offset) % modulus;
    return v < 0 ? v + modulus : v;
  }
};

// A set of ranks that a phase's affine peer rules index into: member(i) = base + stride * i, or
// members[i] when the set is not an arithmetic progression (hosts whose ranks are interleaved).
// `self` is this rank's index in the group.
struct RankGroup {
  int32_t base = 0;
  int32_t stride = 1;
  int32_t size = 1;
  int32_t self = 0;
  std::vector<int32_t> members;
  int member(int64_t i) const {
    return members.empty() ? int(base + stride * i) : members[size_t(i)];
  }
};

// One row of a table phase: peers are communicator ranks (-1: none), blocks a range.
struct StepArgs {
  int32_t sendPeer = -1;
  int32_t recvPeer = -1;
  uint32_t blockFirst = 0;
  uint32_t blockCount = 1;
};

enum PhaseFlags : uint8_t {
  kFromOutput = 1,  // the local operand is the output buffer (a partial result kept there)
  kFinalize = 2,    // this step writes fully reduced values: apply the op's finalization (avg)
};

struct Phase {
  StepKind kind = StepKind::Send;
  uint8_t flags = 0;
  uint16_t group = 0;       // affine phases: index into Schedule::groups
  uint32_t iterations = 1;
  uint32_t chunkLag = 0;
  int32_t table = -1;       // >= 0: iteration it uses Schedule::table[table + it]; rules unused
  // Affine phases. Peers: group.member(rule.eval(group.self, it, group.size)).
  // Blocks: first = blockBase + blockStride * block.eval(group.self, it, blockModulus), then
  // blockCount consecutive blocks.
  AffineRule sendPeer, recvPeer, block;
  uint32_t blockModulus = 1;
  uint32_t blockBase = 0;
  uint32_t blockStride = 1;
  uint32_t blockCount = 1;
};

// The user's buffer may hold only some blocks of the collective's full buffer (reduce-scatter's
// output, all-gather's input): blocks [firstBlock, firstBlock + blocks) sit at its start. Blocks
// outside it that a schedule writes go to the executor's scratch memory.
struct BufferWindow {
  uint32_t firstBlock = 0;
  uint32_t blocks = UINT32_MAX;  // all
  bool whole() const { return firstBlock == 0 && blocks == UINT32_MAX; }
  bool contains(uint32_t b) const { return b >= firstBlock && b - firstBlock < blocks; }
};

// What one iteration of a phase does, resolved.
struct StepInstance {
  int sendPeer = -1;
  int recvPeer = -1;
  uint32_t blockFirst = 0;
  uint32_t blockCount = 0;
};

// Lanes (docs/schedules.md, "Lanes"): a partition of a rank's phases such that every peer is
// sent to from one lane only and received from in one lane only. Each channel's messages then
// keep the order the sequential walk gives them however the lanes interleave, so the lanes of a
// chunked schedule may run concurrently: a walker per lane, each in the sequential (t, phase,
// iteration) order over its own phases, where the step on chunk c of phase p first waits for
// chunk c of the phases in `after[p]` (per other lane, the last one that precedes p on the same
// chunk in the sequential walk). Different chunks touch disjoint elements, so nothing else orders
// them. A hierarchical all-reduce's NVLink and NIC phases overlap this way, and so do the steps
// of a log-depth pattern on successive chunks.
struct Lanes {
  uint16_t count = 1;
  std::vector<uint16_t> of;                  // lane of each phase
  std::vector<std::vector<uint32_t>> after;  // per phase
  std::vector<uint32_t> first;               // per lane: its first phase
  std::vector<uint32_t> next;                // per phase: the next phase of its lane, or phases.size()
};

struct Schedule {
  std::string algorithm;
  const char* collective = "allreduce";
  int rank = 0;
  int nranks = 1;
  int root = 0;           // broadcast, reduce
  size_t count = 0;       // elements of the full buffer
  strataDataType_t type = strataFloat32;
  strataRedOp_t op = strataSum;
  size_t elemBytes = 4;
  uint32_t nblocks = 1;
  size_t blockElems = 0;  // elements per block (the last block may hold fewer)
  size_t chunkElems = 1;  // elements per block per message
  // 0: one shard of every block. Else blocks [j x shardBlocks, (j + 1) x shardBlocks) cut
  // elements [j x shardElems, (j + 1) x shardElems) as above (the last shard short or empty).
  uint32_t shardBlocks = 0;
  size_t shardElems = 0;
  BufferWindow input, output;
  std::vector<Phase> phases;
  std::vector<RankGroup> groups;  // at least one when a phase is affine
  std::vector<StepArgs> table;
  Lanes lanes;  // set by assignLanes(); one lane until then
  // The builder asks for its lanes to run concurrently: schedules whose lanes are different
  // tiers (hierarchical) or directions (a tree's climb and descent). A flat log-depth pattern's
  // lanes would only pipeline its steps, and cost the simulator a walker per lane per rank.
  bool overlapLanes = false;

  // Chunks per block: the executor's outer loop count, before lags.
  size_t chunksPerBlock() const {
    return blockElems == 0 ? 0 : (blockElems + chunkElems - 1) / chunkElems;
  }
  uint32_t maxChunkLag() const {
    uint32_t lag = 0;
    for (const Phase& p : phases) lag = std::max(lag, p.chunkLag);
    return lag;
  }
  // First element of block b, and the end of its shard (count when unsharded).
  size_t blockBegin(size_t block) const {
    if (shardBlocks == 0) return block * blockElems;
    return block / shardBlocks * shardElems + block % shardBlocks * blockElems;
  }
  size_t shardEnd(size_t block) const {
    return shardBlocks == 0 ? count : std::min(count, (block / shardBlocks + 1) * shardElems);
  }
  // Element range [*begin, *begin + return) of chunk c of block b; 0 when empty.
  size_t chunkRange(size_t block, size_t c, size_t* begin) const {
    size_t first = blockBegin(block);
    size_t blockEnd = std::min(shardEnd(block), first + blockElems);
    size_t b = first + c * chunkElems;
    *begin = b;
    if (first >= blockEnd || b >= blockEnd) return 0;
    return std::min(chunkElems, blockEnd - b);
  }
  // Elements of chunk c over blocks [first, first + n): the size of that step's message.
  size_t rangeChunkElems(uint32_t first, uint32_t n, size_t c) const;
  // Elements of blocks [first, first + n) over all chunks: what that step sends in all.
  size_t rangeElems(uint32_t first, uint32_t n) const;
  // Elements of block b (the last may be short, trailing ones empty).
  size_t blockSize(size_t b) const {
    size_t begin = blockBegin(b), end = shardEnd(b);
    return begin >= end ? 0 : std::min(blockElems, end - begin);
  }
  // Peers and blocks of iteration `it` of phase p.
  StepInstance step(const Phase& p, uint32_t it) const {
    if (p.table >= 0) {
      const StepArgs& a = table[size_t(p.table) + it];
      return {a.sendPeer, a.recvPeer, a.blockFirst, a.blockCount};
    }
    const RankGroup& g = groups[p.group];
    StepInstance s;
    if (stepSends(p.kind)) s.sendPeer = g.member(p.sendPeer.eval(g.self, it, g.size));
    if (stepReceives(p.kind)) s.recvPeer = g.member(p.recvPeer.eval(g.self, it, g.size));
    s.blockFirst = p.blockBase + p.blockStride * uint32_t(p.block.eval(g.self, it, p.blockModulus));
    s.blockCount = p.blockCount;
    return s;
  }
  // Whether the executor and the simulator run the lanes concurrently: when the builder asked,
  // and only for a pipeline of several chunks, since one chunk has nothing to overlap.
  bool concurrentLanes() const { return overlapLanes && lanes.count > 1 && chunksPerBlock() > 1; }
  // Bytes of the schedule's representation (the design bounds it at 1 MiB for 131,072 ranks).
  size_t footprintBytes() const;
  std::string describe() const;
};

// Computes s.lanes from the phases' peers (union of phases that share a peer in one direction;
// a phase without peers joins its predecessor's lane). AlgorithmInfo::build calls it.
void assignLanes(Schedule& s);

// Splits count elements into nblocks blocks of one size, the last short or empty. The size is a
// multiple of `alignElems` (every block starts on a vector boundary) where rounding up adds at
// most a sixteenth to it; smaller blocks are not rounded (tail blocks would be left empty).
size_t blockElemsFor(size_t count, uint32_t nblocks, size_t alignElems);

// Appends a table phase; rows are added with addRow. Returns the phase.
Phase& addTablePhase(Schedule& s, StepKind kind, uint8_t flags = 0, uint32_t chunkLag = 0);
void addRow(Schedule& s, StepArgs row);  // to the last phase, which must be a table phase

}  // namespace strata
