#include "exec/executor.h"

#include <cstring>

#include "core/deadline.h"
#include "core/stream_copy.h"
#include "core/error.h"
#include "reduce/reduce.h"

namespace strata {

// The state of one run: the schedule, buffers and deadline, and the waits with error context.
struct Executor::Run {
  const Schedule& s;
  const char* input;
  char* output;
  uint64_t sequence;
  bool streamSlots;
  LazyDeadline deadline;
  const std::atomic<bool>* abortFlag;
  int spinCount;
  Transport& transport;
  // Where we are, for the error text of a wait that fails.
  size_t chunk = 0;
  size_t phaseIndex = 0;
  uint32_t iteration = 0;

  std::string where() const {
    const Phase& p = s.phases[phaseIndex];
    return fmt::format("all-reduce #{} ({}, {} elements of {}), phase {} {} iteration {} chunk {}",
                       sequence, s.algorithm, s.count, strataTypeName(s.type), phaseIndex,
                       stepKindName(p.kind), iteration, chunk);
  }

  void* waitSlot(int peer, size_t bytes) {
    SendChannel& ch = transport.sendChannel(peer);
    void* slot = nullptr;
    waitUntil([&] { return (slot = ch.trySlot(bytes)) != nullptr; }, deadline, abortFlag, spinCount,
              [&] { return fmt::format("a free slot to rank {} in {}", peer, where()); });
    return slot;
  }
  void post(int peer, size_t bytes) { transport.sendChannel(peer).post(bytes); }

  const char* waitMessage(int peer, size_t expectBytes) {
    RecvChannel& ch = transport.recvChannel(peer);
    const void* msg = nullptr;
    size_t bytes = 0;
    waitUntil([&] { return (msg = ch.tryPeek(&bytes)) != nullptr; }, deadline, abortFlag,
              spinCount, [&] { return fmt::format("data from rank {} in {}", peer, where()); });
    STRATA_CHECK(bytes == expectBytes, strataInvalidUsage,
                 "rank {} sent {} bytes where rank {} expected {} in {}: do all ranks call the same "
                 "collective with the same count and datatype?",
                 peer, bytes, s.rank, expectBytes, where());
    return static_cast<const char*>(msg);
  }
  void release(int peer) { transport.recvChannel(peer).release(); }

  void copyToSlot(void* slot, const void* src, size_t bytes) const {
    if (streamSlots) streamCopy(slot, src, bytes);
    else std::memcpy(slot, src, bytes);
  }
};

// Reduces chunk `run.chunk` of block 0 over every rank in rank order: the sources are the
// messages of the peers and this rank's own input, held in place until all have arrived.
void Executor::runReduceAll(Run& r, const Phase& p) {
  const Schedule& s = r.s;
  size_t begin = 0;
  const size_t n = s.chunkRange(p.block.eval(s.rank, 0, s.nblocks), r.chunk, &begin);
  if (n == 0) return;
  const size_t bytes = n * s.elemBytes;
  const char* own = r.input + begin * s.elemBytes;
  char* out = r.output + begin * s.elemBytes;
  if (own == out && s.rank >= 2) {
    // In place, the output is overwritten before this rank's turn in the order comes.
    if (scratch_.size() < bytes) scratch_.resize(bytes);
    std::memcpy(scratch_.data(), own, bytes);
    own = scratch_.data();
  }
  sources_.assign(p.iterations, nullptr);
  for (r.iteration = 0; r.iteration < p.iterations; ++r.iteration) {
    const int from = static_cast<int>(p.recvPeer.eval(s.rank, r.iteration, s.nranks));
    sources_[r.iteration] = from == s.rank ? own : r.waitMessage(from, bytes);
  }
  if (p.iterations == 1) {
    finalize(out, sources_[0], n, s.type, s.op, s.nranks);
  } else {
    reduce(out, sources_[0], sources_[1], n, s.type, s.op);
    for (size_t k = 2; k < sources_.size(); ++k) reduce(out, out, sources_[k], n, s.type, s.op);
    finalize(out, out, n, s.type, s.op, s.nranks);
  }
  for (r.iteration = 0; r.iteration < p.iterations; ++r.iteration) {
    const int from = static_cast<int>(p.recvPeer.eval(s.rank, r.iteration, s.nranks));
    if (from != s.rank) r.release(from);
  }
}

void Executor::run(const Schedule& s, const void* input, void* output, uint64_t sequence,
                   bool streamSlots) {
  Run r{s, static_cast<const char*>(input), static_cast<char*>(output), sequence, streamSlots,
        LazyDeadline(config_.timeoutSec), abortFlag_, config_.spinCount, transport_};
  const size_t eb = s.elemBytes;
  const size_t chunks = s.chunksPerBlock();
  for (r.chunk = 0; r.chunk < chunks; ++r.chunk) {
    for (r.phaseIndex = 0; r.phaseIndex < s.phases.size(); ++r.phaseIndex) {
      const Phase& p = s.phases[r.phaseIndex];
      if (p.kind == StepKind::RecvReduceAll) {
        runReduceAll(r, p);
        continue;
      }
      for (r.iteration = 0; r.iteration < p.iterations; ++r.iteration) {
        size_t begin = 0;
        const size_t block = p.block.eval(s.rank, r.iteration, s.nblocks);
        const size_t n = s.chunkRange(block, r.chunk, &begin);
        if (n == 0) continue;  // both ends compute the same empty range and skip it
        const size_t bytes = n * eb;
        const char* in = r.input + begin * eb;
        char* out = r.output + begin * eb;
        const int to = static_cast<int>(p.sendPeer.eval(s.rank, r.iteration, s.nranks));
        const int from = static_cast<int>(p.recvPeer.eval(s.rank, r.iteration, s.nranks));
        switch (p.kind) {
          case StepKind::Send: {
            void* slot = r.waitSlot(to, bytes);
            r.copyToSlot(slot, in, bytes);
            r.post(to, bytes);
            break;
          }
          case StepKind::Recv: {
            const char* msg = r.waitMessage(from, bytes);
            std::memcpy(out, msg, bytes);
            r.release(from);
            break;
          }
          case StepKind::RecvReduceSend: {
            const char* msg = r.waitMessage(from, bytes);
            void* slot = r.waitSlot(to, bytes);
            reduce(slot, msg, in, n, s.type, s.op);
            r.post(to, bytes);
            r.release(from);
            break;
          }
          case StepKind::RecvReduceCopy:
          case StepKind::RecvReduceCopySend: {
            const char* msg = r.waitMessage(from, bytes);
            reduce(out, msg, in, n, s.type, s.op);
            finalize(out, out, n, s.type, s.op, s.nranks);
            r.release(from);
            if (p.kind == StepKind::RecvReduceCopySend) {
              // The chunk just written is in cache: copying it on costs little.
              void* slot = r.waitSlot(to, bytes);
              r.copyToSlot(slot, out, bytes);
              r.post(to, bytes);
            }
            break;
          }
          case StepKind::RecvCopySend: {
            const char* msg = r.waitMessage(from, bytes);
            void* slot = r.waitSlot(to, bytes);
            std::memcpy(out, msg, bytes);
            r.copyToSlot(slot, out, bytes);
            r.post(to, bytes);
            r.release(from);
            break;
          }
          case StepKind::LocalCopy:
            finalize(out, in, n, s.type, s.op, s.nranks);
            break;
          case StepKind::RecvReduceAll:
            break;  // handled above
        }
      }
    }
  }
}

}  // namespace strata
