#include "plan/schedule.h"

#include <fmt/format.h>

#include "core/error.h"

namespace strata {

const char* stepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::Send: return "send";
    case StepKind::Recv: return "recv";
    case StepKind::RecvReduceSend: return "recv-reduce-send";
    case StepKind::RecvReduceCopy: return "recv-reduce-copy";
    case StepKind::RecvReduceCopySend: return "recv-reduce-copy-send";
    case StepKind::RecvCopySend: return "recv-copy-send";
    case StepKind::LocalCopy: return "local-copy";
    case StepKind::RecvReduceAll: return "recv-reduce-all";
  }
  return "?";
}

bool stepSends(StepKind kind) {
  switch (kind) {
    case StepKind::Send:
    case StepKind::RecvReduceSend:
    case StepKind::RecvReduceCopySend:
    case StepKind::RecvCopySend: return true;
    default: return false;
  }
}

bool stepReceives(StepKind kind) {
  return kind != StepKind::Send && kind != StepKind::LocalCopy;
}

bool stepWritesOutput(StepKind kind) {
  return kind != StepKind::Send && kind != StepKind::RecvReduceSend;
}

namespace {
// Blocks hold blockElems elements up to the one that holds the tail, then nothing: the full
// blocks of [first, first + n) and whether the tail block is among them, in O(1).
struct RangeBlocks {
  size_t full = 0, tail = 0;  // tail: the tail block's elements if it is in the range, else 0
};
RangeBlocks rangeBlocks(size_t count, size_t blockElems, uint32_t first, uint32_t n) {
  const size_t fullBlocks = count / blockElems, tail = count % blockElems;
  const size_t last = size_t(first) + n;  // exclusive
  RangeBlocks r;
  r.full = last <= fullBlocks ? n : (first >= fullBlocks ? 0 : fullBlocks - first);
  if (tail != 0 && first <= fullBlocks && fullBlocks < last) r.tail = tail;
  return r;
}
}  // namespace

// Calls f(shard's elements, first block in it, blocks) for each shard [first, first + n) meets.
template <typename F>
void forShards(const Schedule& s, uint32_t first, uint32_t n, F&& f) {
  if (s.shardBlocks == 0) return f(s.count, first, n);
  const uint32_t last = first + n;  // exclusive
  while (first < last) {
    const uint32_t shard = first / s.shardBlocks, local = first % s.shardBlocks;
    const uint32_t take = std::min(last - first, s.shardBlocks - local);
    const size_t begin = size_t(shard) * s.shardElems;
    f(begin >= s.count ? 0 : std::min(s.shardElems, s.count - begin), local, take);
    first += take;
  }
}

size_t Schedule::rangeChunkElems(uint32_t first, uint32_t n, size_t c) const {
  if (blockElems == 0 || n == 0) return 0;
  auto chunkOf = [&](size_t blockSize) -> size_t {
    size_t begin = c * chunkElems;
    return begin >= blockSize ? 0 : std::min(chunkElems, blockSize - begin);
  };
  size_t elems = 0;
  forShards(*this, first, n, [&](size_t shardCount, uint32_t from, uint32_t blocks) {
    const RangeBlocks r = rangeBlocks(shardCount, blockElems, from, blocks);
    elems += r.full * chunkOf(blockElems) + (r.tail ? chunkOf(r.tail) : 0);
  });
  return elems;
}

size_t Schedule::rangeElems(uint32_t first, uint32_t n) const {
  if (blockElems == 0 || n == 0) return 0;
  size_t elems = 0;
  forShards(*this, first, n, [&](size_t shardCount, uint32_t from, uint32_t blocks) {
    const RangeBlocks r = rangeBlocks(shardCount, blockElems, from, blocks);
    elems += r.full * blockElems + r.tail;
  });
  return elems;
}

size_t Schedule::footprintBytes() const {
  size_t bytes = sizeof(*this) + algorithm.capacity() + phases.capacity() * sizeof(Phase) +
                 table.capacity() * sizeof(StepArgs);
  for (const RankGroup& g : groups) bytes += sizeof(g) + g.members.capacity() * sizeof(int32_t);
  bytes += lanes.of.capacity() * sizeof(uint16_t) + lanes.after.capacity() * sizeof(lanes.after[0]);
  for (const auto& a : lanes.after) bytes += a.capacity() * sizeof(uint32_t);
  return bytes;
}

std::string Schedule::describe() const {
  std::string s = fmt::format("{} {} rank {}/{} count {} blocks {}x{} chunk {}:", collective,
                              algorithm, rank, nranks, count, nblocks, blockElems, chunkElems);
  if (shardBlocks) s.insert(s.size() - 1, fmt::format(" shards of {} blocks, {} elements", shardBlocks, shardElems));
  for (const auto& p : phases) {
    s += fmt::format(" [{} x{}", stepKindName(p.kind), p.iterations);
    if (p.chunkLag) s += fmt::format(" lag {}", p.chunkLag);
    if (lanes.count > 1) s += fmt::format(" lane {}", lanes.of[size_t(&p - phases.data())]);
    s += "]";
  }
  return s;
}

size_t blockElemsFor(size_t count, uint32_t nblocks, size_t alignElems) {
  if (count == 0 || nblocks == 0) return 0;
  const size_t per = (count + nblocks - 1) / nblocks;
  const size_t aligned = (per + alignElems - 1) / alignElems * alignElems;
  // Rounding a small block up empties the blocks at the tail: 1 MiB on 131,072 ranks, blocks of
  // 2 elements rounded up to 16, left 7 of 8 blocks empty, and a hierarchical schedule put the
  // whole buffer in GPU 0's shard, on one rail of eight. Aligned only where that costs at most
  // a sixteenth of a block; the kernels take any alignment.
  return (aligned - per) * 16 <= per ? aligned : per;
}

Phase& addTablePhase(Schedule& s, StepKind kind, uint8_t flags, uint32_t chunkLag) {
  Phase p;
  p.kind = kind;
  p.flags = flags;
  p.chunkLag = chunkLag;
  p.iterations = 0;
  p.table = int32_t(s.table.size());
  s.phases.push_back(p);
  return s.phases.back();
}

void addRow(Schedule& s, StepArgs row) {
  STRATA_CHECK(!s.phases.empty() && s.phases.back().table >= 0 &&
                   size_t(s.phases.back().table) + s.phases.back().iterations == s.table.size(),
               strataInternalError, "addRow: the last phase of {} is not a table phase",
               s.algorithm);
  s.table.push_back(row);
  ++s.phases.back().iterations;
}

}  // namespace strata
