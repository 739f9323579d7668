#include "exec/executor.h"

#include <cstring>

#include "core/deadline.h"
#include "core/error.h"
#include "core/stream_copy.h"
#include "reduce/reduce.h"

namespace strata {

// The state of one run: the schedule, buffers and deadline, and the waits with error context.
struct Executor::Run {
  const Schedule& s;
  const char* input;
  char* output;
  char* scratch;  // the full buffer's blocks that lie outside the user's output window
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
    return fmt::format("{} #{} ({}, {} elements of {}), phase {} {} iteration {} chunk {}",
                       s.collective, sequence, s.algorithm, s.count, strataTypeName(s.type),
                       phaseIndex, stepKindName(p.kind), iteration, chunk);
  }

  // Where element `begin` of block `block` lives in the user's buffers.
  const char* inputAt(size_t block, size_t begin) const {
    if (s.input.whole()) return input + begin * s.elemBytes;
    STRATA_CHECK(s.input.contains(uint32_t(block)), strataInternalError,
                 "{} reads block {} outside its input in {}", s.algorithm, block, where());
    return input + (begin - size_t(s.input.firstBlock) * s.blockElems) * s.elemBytes;
  }
  char* outputAt(size_t block, size_t begin) const {
    if (s.output.whole()) return output + begin * s.elemBytes;
    if (s.output.contains(uint32_t(block)))
      return output + (begin - size_t(s.output.firstBlock) * s.blockElems) * s.elemBytes;
    return scratch + begin * s.elemBytes;
  }
  const char* localAt(const Phase& p, size_t block, size_t begin) const {
    return (p.flags & kFromOutput) ? outputAt(block, begin) : inputAt(block, begin);
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
                 "collective with the same count, datatype and root?",
                 peer, bytes, s.rank, expectBytes, where());
    return static_cast<const char*>(msg);
  }
  void release(int peer) { transport.recvChannel(peer).release(); }

  void copyToSlot(void* slot, const void* src, size_t bytes) const {
    if (streamSlots) streamCopy(slot, src, bytes);
    else std::memcpy(slot, src, bytes);
  }

  // Calls f(block, begin, n, offsetBytes) for chunk `chunk` of every non-empty block of the
  // range, offsetBytes being its place in the packed message.
  template <typename F>
  void forPieces(const StepInstance& st, F&& f) const {
    size_t offset = 0;
    for (uint32_t b = st.blockFirst; b < st.blockFirst + st.blockCount; ++b) {
      size_t begin = 0;
      const size_t n = s.chunkRange(b, chunk, &begin);
      if (n == 0) continue;
      f(b, begin, n, offset);
      offset += n * s.elemBytes;
    }
  }
};

// Reduces chunk `run.chunk` of the phase's blocks over every group member in the phase's order:
// the sources are the members' messages and this rank's own data, held in place until all have
// arrived.
void Executor::runReduceAll(Run& r, const Phase& p, size_t bytes) {
  const Schedule& s = r.s;
  const StepInstance st0 = s.step(p, 0);
  sources_.assign(p.iterations, nullptr);
  uint32_t selfPosition = 0;
  for (r.iteration = 0; r.iteration < p.iterations; ++r.iteration) {
    const int from = s.step(p, r.iteration).recvPeer;
    if (from == s.rank) selfPosition = r.iteration;
    else sources_[r.iteration] = r.waitMessage(from, bytes);
  }
  // Own data, packed like the messages. In place, the output would be overwritten before this
  // rank's turn in the order comes, so it is copied out first.
  if (scratch_.size() < bytes) scratch_.resize(bytes);
  r.forPieces(st0, [&](uint32_t b, size_t begin, size_t n, size_t off) {
    std::memcpy(scratch_.data() + off, r.localAt(p, b, begin), n * s.elemBytes);
  });
  sources_[selfPosition] = scratch_.data();
  r.forPieces(st0, [&](uint32_t b, size_t begin, size_t n, size_t off) {
    char* out = r.outputAt(b, begin);
    if (p.iterations == 1) {
      std::memcpy(out, static_cast<const char*>(sources_[0]) + off, n * s.elemBytes);
    } else {
      reduce(out, static_cast<const char*>(sources_[0]) + off,
             static_cast<const char*>(sources_[1]) + off, n, s.type, s.op);
      for (size_t k = 2; k < sources_.size(); ++k)
        reduce(out, out, static_cast<const char*>(sources_[k]) + off, n, s.type, s.op);
    }
    if (p.flags & kFinalize) finalize(out, out, n, s.type, s.op, s.nranks);
  });
  for (r.iteration = 0; r.iteration < p.iterations; ++r.iteration) {
    const int from = s.step(p, r.iteration).recvPeer;
    if (from != s.rank) r.release(from);
  }
}

void Executor::run(const Schedule& s, const void* input, void* output, uint64_t sequence,
                   bool streamSlots) {
  char* scratch = nullptr;
  if (!s.output.whole()) {
    // Blocks outside the user's output that the schedule keeps partial results in.
    if (work_.size() < s.count * s.elemBytes) work_.resize(s.count * s.elemBytes);
    scratch = work_.data();
  }
  Run r{s, static_cast<const char*>(input), static_cast<char*>(output), scratch, sequence,
        streamSlots, LazyDeadline(config_.timeoutSec), abortFlag_, config_.spinCount, transport_};
  const size_t eb = s.elemBytes;
  const size_t chunks = s.chunksPerBlock();
  const size_t steps = chunks == 0 ? 0 : chunks + s.maxChunkLag();
  for (size_t t = 0; t < steps; ++t) {
    for (r.phaseIndex = 0; r.phaseIndex < s.phases.size(); ++r.phaseIndex) {
      const Phase& p = s.phases[r.phaseIndex];
      if (t < p.chunkLag || t - p.chunkLag >= chunks) continue;
      r.chunk = t - p.chunkLag;
      if (p.kind == StepKind::RecvReduceAll) {
        const StepInstance st = s.step(p, 0);
        const size_t bytes = s.rangeChunkElems(st.blockFirst, st.blockCount, r.chunk) * eb;
        if (bytes != 0) runReduceAll(r, p, bytes);
        continue;
      }
      for (r.iteration = 0; r.iteration < p.iterations; ++r.iteration) {
        const StepInstance st = s.step(p, r.iteration);
        const size_t bytes = s.rangeChunkElems(st.blockFirst, st.blockCount, r.chunk) * eb;
        if (bytes == 0) continue;  // both ends compute the same empty range and skip it
        const bool fin = p.flags & kFinalize;
        switch (p.kind) {
          case StepKind::Send: {
            char* slot = static_cast<char*>(r.waitSlot(st.sendPeer, bytes));
            r.forPieces(st, [&](uint32_t b, size_t begin, size_t n, size_t off) {
              r.copyToSlot(slot + off, r.localAt(p, b, begin), n * eb);
            });
            r.post(st.sendPeer, bytes);
            break;
          }
          case StepKind::Recv: {
            const char* msg = r.waitMessage(st.recvPeer, bytes);
            r.forPieces(st, [&](uint32_t b, size_t begin, size_t n, size_t off) {
              std::memcpy(r.outputAt(b, begin), msg + off, n * eb);
            });
            r.release(st.recvPeer);
            break;
          }
          case StepKind::RecvReduceSend: {
            const char* msg = r.waitMessage(st.recvPeer, bytes);
            char* slot = static_cast<char*>(r.waitSlot(st.sendPeer, bytes));
            r.forPieces(st, [&](uint32_t b, size_t begin, size_t n, size_t off) {
              reduce(slot + off, msg + off, r.localAt(p, b, begin), n, s.type, s.op);
            });
            r.post(st.sendPeer, bytes);
            r.release(st.recvPeer);
            break;
          }
          case StepKind::RecvReduceCopy:
          case StepKind::RecvReduceCopySend: {
            const char* msg = r.waitMessage(st.recvPeer, bytes);
            r.forPieces(st, [&](uint32_t b, size_t begin, size_t n, size_t off) {
              char* out = r.outputAt(b, begin);
              reduce(out, msg + off, r.localAt(p, b, begin), n, s.type, s.op);
              if (fin) finalize(out, out, n, s.type, s.op, s.nranks);
            });
            r.release(st.recvPeer);
            if (p.kind == StepKind::RecvReduceCopySend) {
              // The chunk just written is in cache: copying it on costs little.
              char* slot = static_cast<char*>(r.waitSlot(st.sendPeer, bytes));
              r.forPieces(st, [&](uint32_t b, size_t begin, size_t n, size_t off) {
                r.copyToSlot(slot + off, r.outputAt(b, begin), n * eb);
              });
              r.post(st.sendPeer, bytes);
            }
            break;
          }
          case StepKind::RecvCopySend: {
            const char* msg = r.waitMessage(st.recvPeer, bytes);
            char* slot = static_cast<char*>(r.waitSlot(st.sendPeer, bytes));
            r.forPieces(st, [&](uint32_t b, size_t begin, size_t n, size_t off) {
              char* out = r.outputAt(b, begin);
              std::memcpy(out, msg + off, n * eb);
              r.copyToSlot(slot + off, out, n * eb);
            });
            r.post(st.sendPeer, bytes);
            r.release(st.recvPeer);
            break;
          }
          case StepKind::LocalCopy:
            r.forPieces(st, [&](uint32_t b, size_t begin, size_t n, size_t) {
              char* out = r.outputAt(b, begin);
              const char* local = r.localAt(p, b, begin);
              if (fin) finalize(out, local, n, s.type, s.op, s.nranks);
              else if (out != local) std::memmove(out, local, n * eb);
            });
            break;
          case StepKind::RecvReduceAll:
            break;  // handled above
        }
      }
    }
  }
}

}  // namespace strata
