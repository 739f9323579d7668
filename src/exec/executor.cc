#include "exec/executor.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "core/deadline.h"
#include "core/error.h"
#include "core/log.h"
#include "core/stream_copy.h"
#include "exec/call_fingerprint.h"
#include "reduce/reduce.h"

namespace strata {

namespace {
// Up to this size a call's first message to a peer carries the fingerprint in front of its data
// (one message, as before); a larger one would move its data off the slot's alignment for a
// saving that no longer shows, so the fingerprint goes alone just before it.
constexpr size_t kFingerprintInlineMaxBytes = 4096;
}  // namespace

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
  CallFingerprint fingerprint;     // this rank's view of the call, checked by every receiver
  uint64_t epoch;                  // this executor's run number: marks peerCalls entries as current
  std::vector<PeerCall>& peerCalls;
  bool concurrent = false;  // one walker per lane
  // Messages of this run sent from the user's buffers where they lie (SendChannel::postFrom).
  // While there are any, a step moves those that have not left and that it is about to
  // overwrite into their slots first (writable()), and a failed run moves all of them.
  uint64_t sentFromBuffers = 0;
  size_t chunks = 0;
  size_t steps = 0;  // chunks + the largest lag: the walk's t range

  // Where walker w is, for error texts.
  std::string where(const Walker& w) const {
    if (w.finished || w.k >= w.phases.size())
      return fmt::format("{} #{} ({}), finished", s.collective, sequence, s.algorithm);
    const uint32_t pi = w.phases[w.k];
    const Phase& p = s.phases[pi];
    return fmt::format("{} #{} ({}, {} elements of {}), phase {} {} iteration {} chunk {}",
                       s.collective, sequence, s.algorithm, s.count, strataTypeName(s.type), pi,
                       stepKindName(p.kind), w.iteration, w.t - p.chunkLag);
  }
  std::string waitText(const Walker& w) const {
    switch (w.wait) {
      case Walker::Wait::Slot:
        return fmt::format("a free slot to rank {} in {}", w.waitPeer, where(w));
      case Walker::Wait::Data:
        return fmt::format("data from rank {} in {}", w.waitPeer, where(w));
      case Walker::Wait::Chunk:
        return fmt::format("phase {} to finish the same chunk in {}", w.waitPeer, where(w));
      case Walker::Wait::Nothing: break;
    }
    return where(w);
  }

  // Where element `begin` of block `block` lives in the user's buffers.
  const char* inputAt(const Walker& w, size_t block, size_t begin) const {
    if (s.input.whole()) return input + begin * s.elemBytes;
    STRATA_CHECK(s.input.contains(uint32_t(block)), strataInternalError,
                 "{} reads block {} outside its input in {}", s.algorithm, block, where(w));
    return input + (begin - s.blockBegin(s.input.firstBlock)) * s.elemBytes;
  }
  char* outputAt(size_t block, size_t begin) const {
    if (s.output.whole()) return output + begin * s.elemBytes;
    if (s.output.contains(uint32_t(block)))
      return output + (begin - s.blockBegin(s.output.firstBlock)) * s.elemBytes;
    return scratch + begin * s.elemBytes;
  }
  const char* localAt(const Walker& w, const Phase& p, size_t block, size_t begin) const {
    return (p.flags & kFromOutput) ? outputAt(block, begin) : inputAt(w, block, begin);
  }

  // A slot for `bytes` to `peer`, or nullptr (and the walker notes the wait). The call's first
  // message to a peer starts with the fingerprint, or follows it in a message of its own.
  char* trySlot(Walker& w, int peer, size_t bytes) {
    SendChannel& channel = transport.sendChannel(peer);
    PeerCall& pc = peerCalls[size_t(peer)];
    size_t header = 0;
    if (pc.sentEpoch != epoch) {
      if (bytes + kFingerprintBytes <= std::min(channel.maxMessageBytes(), kFingerprintInlineMaxBytes)) {
        header = kFingerprintBytes;  // post() sees sentEpoch still old and adds it
      } else {
        void* alone = channel.trySlot(kFingerprintBytes);
        if (!alone) return noteSlotWait(w, peer);
        std::memcpy(alone, &fingerprint, kFingerprintBytes);
        channel.post(kFingerprintBytes);
        pc.sentEpoch = epoch;
      }
    }
    void* slot = channel.trySlot(bytes + header);
    if (!slot) return noteSlotWait(w, peer);
    if (header) std::memcpy(slot, &fingerprint, header);
    return static_cast<char*>(slot) + header;
  }
  // Where a step writes `bytes` of the output (or scratch): messages sent from there that have
  // not left yet move into their slots first.
  char* writable(char* out, size_t bytes) {
    if (sentFromBuffers) transport.releaseCallerMemory(out, bytes);
    return out;
  }
  // Whether a message of `bytes` to `peer` may leave from the user's buffers where it lies: the
  // channel can (SendChannel::postFrom), and it does not carry the call's fingerprint in front
  // (a small first message does, in the slot).
  bool canSendFromBuffers(int peer, size_t bytes) {
    SendChannel& channel = transport.sendChannel(peer);
    const bool fingerprintInline =
        peerCalls[size_t(peer)].sentEpoch != epoch &&
        bytes + kFingerprintBytes <= std::min(channel.maxMessageBytes(), kFingerprintInlineMaxBytes);
    return !fingerprintInline && channel.canPostFrom();
  }
  // Sends the `bytes` at `src` (in the user's buffers) to `peer` from there. False (the walker
  // notes the wait) while no slot is free.
  bool trySendFrom(Walker& w, int peer, const char* src, size_t bytes) {
    if (!trySlot(w, peer, bytes)) return false;  // reserves the slot; the fingerprint went alone
    transport.sendChannel(peer).postFrom(src, bytes);
    ++sentFromBuffers;
    return true;
  }
  // Where the message of a step that sends its own data lies, if it lies in one piece of the
  // input or the output; nullptr if not.
  const char* localRun(const Walker& w, const Phase& p, const StepInstance& st, size_t chunk) const {
    const char* first = nullptr;
    const char* end = nullptr;
    bool contiguous = true;
    forPieces(st, chunk, [&](uint32_t b, size_t begin, size_t n, size_t) {
      const char* at = localAt(w, p, b, begin);
      if (!first) first = at;
      else if (at != end) contiguous = false;
      end = at + n * s.elemBytes;
    });
    return contiguous ? first : nullptr;
  }
  char* noteSlotWait(Walker& w, int peer) {
    w.wait = Walker::Wait::Slot;
    w.waitPeer = peer;
    return nullptr;
  }
  void post(int peer, size_t bytes) {
    PeerCall& pc = peerCalls[size_t(peer)];
    if (pc.sentEpoch != epoch) {  // the fingerprint rides in front of these bytes
      pc.sentEpoch = epoch;
      bytes += kFingerprintBytes;
    }
    transport.sendChannel(peer).post(bytes);
  }

  // The next message from `peer` if it has arrived, checked to be `expectBytes` long. The call's
  // first message from a peer is checked against this rank's fingerprint before anything of it
  // is used.
  const char* tryMessage(Walker& w, int peer, size_t expectBytes) {
    RecvChannel& channel = transport.recvChannel(peer);
    PeerCall& pc = peerCalls[size_t(peer)];
    size_t bytes = 0;
    const void* msg = channel.tryPeek(&bytes);
    if (msg && pc.checkedEpoch != epoch) {
      checkFingerprint(w, peer, msg, bytes, expectBytes);
      pc.checkedEpoch = epoch;
      if (bytes == kFingerprintBytes) {  // it came alone: the data is the next message
        channel.release();
        msg = channel.tryPeek(&bytes);
      } else {
        pc.skipBytes = kFingerprintBytes;  // until release(): the data starts after it
      }
    }
    if (!msg) {
      w.wait = Walker::Wait::Data;
      w.waitPeer = peer;
      return nullptr;
    }
    bytes -= pc.skipBytes;
    STRATA_CHECK(bytes == expectBytes, strataInvalidUsage,
                 "rank {} sent {} bytes where rank {} expected {} in {}: do all ranks call the same "
                 "collective with the same count, datatype and root?",
                 peer, bytes, s.rank, expectBytes, where(w));
    return static_cast<const char*>(msg) + pc.skipBytes;
  }
  void release(int peer) {
    peerCalls[size_t(peer)].skipBytes = 0;
    transport.recvChannel(peer).release();
  }

  // The first message of this call from `peer` (`bytes` long, the fingerprint alone or in front
  // of `expectBytes` of data) must carry a fingerprint equal to ours.
  void checkFingerprint(const Walker& w, int peer, const void* msg, size_t bytes,
                        size_t expectBytes) const {
    const std::optional<CallFingerprint> theirs = readFingerprint(msg, bytes);
    STRATA_CHECK(theirs, strataInvalidUsage,
                 "rank {} sent a message of {} bytes that does not start a collective call where "
                 "rank {} is in {}: do all ranks call the same collectives in the same order?",
                 peer, bytes, s.rank, where(w));
    const std::string difference = callDifference(fingerprint, *theirs);
    STRATA_CHECK(difference.empty(), strataInvalidUsage,
                 "rank {} called {} but rank {} called {} ({}): every rank must call the same "
                 "collective with the same count, datatype, op and root, in the same order",
                 peer, describeCall(*theirs), s.rank, describeCall(fingerprint), difference);
    STRATA_CHECK(bytes == kFingerprintBytes || bytes == expectBytes + kFingerprintBytes,
                 strataInvalidUsage,
                 "rank {} sent {} bytes where rank {} expected {} in {}, though both call {}: do "
                 "all ranks use the same algorithm (STRATA_ALGO) and chunk size "
                 "(STRATA_CHUNK_BYTES)?",
                 peer, bytes - kFingerprintBytes, s.rank, expectBytes, where(w),
                 describeCall(fingerprint));
  }

  void copyToSlot(void* slot, const void* src, size_t bytes) const {
    if (streamSlots) streamCopy(slot, src, bytes);
    else std::memcpy(slot, src, bytes);
  }

  // Calls f(block, begin, n, offsetBytes) for chunk `chunk` of every non-empty block of the
  // range, offsetBytes being its place in the packed message.
  template <typename F>
  void forPieces(const StepInstance& st, size_t chunk, F&& f) const {
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

// Reduces chunk `chunk` of the phase's blocks over every group member in the phase's order: the
// sources are the members' messages and this rank's own data, held in place until all have
// arrived. False (nothing done) while a message is missing.
bool Executor::tryReduceAll(Run& r, Walker& w, const Phase& p, size_t chunk, size_t bytes) {
  const Schedule& s = r.s;
  w.sources.assign(p.iterations, nullptr);
  uint32_t selfPosition = 0;
  for (w.iteration = 0; w.iteration < p.iterations; ++w.iteration) {
    const int from = s.step(p, w.iteration).recvPeer;
    if (from == s.rank) selfPosition = w.iteration;
    else if (!(w.sources[w.iteration] = r.tryMessage(w, from, bytes))) return false;
  }
  w.iteration = 0;
  const StepInstance st0 = s.step(p, 0);
  // Own data, packed like the messages. In place, the output would be overwritten before this
  // rank's turn in the order comes, so it is copied out first.
  if (w.own.size() < bytes) w.own.resize(bytes);
  r.forPieces(st0, chunk, [&](uint32_t b, size_t begin, size_t n, size_t off) {
    std::memcpy(w.own.data() + off, r.localAt(w, p, b, begin), n * s.elemBytes);
  });
  w.sources[selfPosition] = w.own.data();
  r.forPieces(st0, chunk, [&](uint32_t b, size_t begin, size_t n, size_t off) {
    char* out = r.writable(r.outputAt(b, begin), n * s.elemBytes);
    const auto src = [&](size_t k) { return static_cast<const char*>(w.sources[k]) + off; };
    if (p.iterations == 1) {
      std::memcpy(out, src(0), n * s.elemBytes);
    } else {
      reduce(out, src(0), src(1), n, s.type, s.op);
      for (size_t k = 2; k < w.sources.size(); ++k) reduce(out, out, src(k), n, s.type, s.op);
    }
    if (p.flags & kFinalize) finalize(out, out, n, s.type, s.op, s.nranks);
  });
  for (uint32_t it = 0; it < p.iterations; ++it) {
    const int from = s.step(p, it).recvPeer;
    if (from != s.rank) r.release(from);
  }
  return true;
}

// Iteration w.iteration of phase p on `chunk`, if what it needs is there: true when the step is
// complete. A step that has done its receive half but waits for a slot sets w.reduced.
bool Executor::tryStep(Run& r, Walker& w, const Phase& p, size_t chunk) {
  const Schedule& s = r.s;
  const size_t eb = s.elemBytes;
  const StepInstance st = s.step(p, w.iteration);
  const size_t bytes = s.rangeChunkElems(st.blockFirst, st.blockCount, chunk) * eb;
  if (bytes == 0) return true;  // both ends compute the same empty range and skip it
  const bool fin = p.flags & kFinalize;
  switch (p.kind) {
    case StepKind::Send: {
      if (r.canSendFromBuffers(st.sendPeer, bytes))
        if (const char* run = r.localRun(w, p, st, chunk)) return r.trySendFrom(w, st.sendPeer, run, bytes);
      char* slot = r.trySlot(w, st.sendPeer, bytes);
      if (!slot) return false;
      r.forPieces(st, chunk, [&](uint32_t b, size_t begin, size_t n, size_t off) {
        r.copyToSlot(slot + off, r.localAt(w, p, b, begin), n * eb);
      });
      r.post(st.sendPeer, bytes);
      return true;
    }
    case StepKind::Recv: {
      const char* msg = r.tryMessage(w, st.recvPeer, bytes);
      if (!msg) return false;
      r.forPieces(st, chunk, [&](uint32_t b, size_t begin, size_t n, size_t off) {
        std::memcpy(r.writable(r.outputAt(b, begin), n * eb), msg + off, n * eb);
      });
      r.release(st.recvPeer);
      return true;
    }
    case StepKind::RecvReduceSend: {
      const char* msg = r.tryMessage(w, st.recvPeer, bytes);
      if (!msg) return false;
      char* slot = r.trySlot(w, st.sendPeer, bytes);
      if (!slot) return false;
      r.forPieces(st, chunk, [&](uint32_t b, size_t begin, size_t n, size_t off) {
        reduce(slot + off, msg + off, r.localAt(w, p, b, begin), n, s.type, s.op);
      });
      r.post(st.sendPeer, bytes);
      r.release(st.recvPeer);
      return true;
    }
    case StepKind::RecvReduceCopy:
    case StepKind::RecvReduceCopySend: {
      if (!w.reduced) {
        const char* msg = r.tryMessage(w, st.recvPeer, bytes);
        if (!msg) return false;
        r.forPieces(st, chunk, [&](uint32_t b, size_t begin, size_t n, size_t off) {
          char* out = r.writable(r.outputAt(b, begin), n * eb);
          reduce(out, msg + off, r.localAt(w, p, b, begin), n, s.type, s.op);
          if (fin) finalize(out, out, n, s.type, s.op, s.nranks);
        });
        r.release(st.recvPeer);
        if (p.kind == StepKind::RecvReduceCopy) return true;
        w.reduced = true;
      }
      // The chunk just written is in cache: copying it on costs little.
      char* slot = r.trySlot(w, st.sendPeer, bytes);
      if (!slot) return false;
      r.forPieces(st, chunk, [&](uint32_t b, size_t begin, size_t n, size_t off) {
        r.copyToSlot(slot + off, r.outputAt(b, begin), n * eb);
      });
      r.post(st.sendPeer, bytes);
      w.reduced = false;
      return true;
    }
    case StepKind::RecvCopySend: {
      const char* msg = r.tryMessage(w, st.recvPeer, bytes);
      if (!msg) return false;
      char* slot = r.trySlot(w, st.sendPeer, bytes);
      if (!slot) return false;
      r.forPieces(st, chunk, [&](uint32_t b, size_t begin, size_t n, size_t off) {
        char* out = r.writable(r.outputAt(b, begin), n * eb);
        std::memcpy(out, msg + off, n * eb);
        r.copyToSlot(slot + off, out, n * eb);
      });
      r.post(st.sendPeer, bytes);
      r.release(st.recvPeer);
      return true;
    }
    case StepKind::LocalCopy:
      r.forPieces(st, chunk, [&](uint32_t b, size_t begin, size_t n, size_t) {
        char* out = r.writable(r.outputAt(b, begin), n * eb);
        const char* local = r.localAt(w, p, b, begin);
        if (fin) finalize(out, local, n, s.type, s.op, s.nranks);
        else if (out != local) std::memmove(out, local, n * eb);
      });
      return true;
    case StepKind::RecvReduceAll:
      break;  // tryReduceAll
  }
  return true;
}

// Runs walker w as far as it goes without waiting: true if it did anything or finished.
bool Executor::advance(Run& r, Walker& w) {
  const Schedule& s = r.s;
  bool moved = false;
  for (;;) {
    // Onto the next step whose chunk exists.
    while (w.t < r.steps) {
      if (w.k >= w.phases.size()) {
        ++w.t;
        w.k = 0;
        continue;
      }
      const uint32_t lag = s.phases[w.phases[w.k]].chunkLag;
      if (w.t < lag || w.t - lag >= r.chunks) {
        ++w.k;
        continue;
      }
      break;
    }
    if (w.t >= r.steps) {
      w.finished = true;
      return true;
    }
    const uint32_t pi = w.phases[w.k];
    const Phase& p = s.phases[pi];
    const size_t chunk = w.t - p.chunkLag;
    if (r.concurrent && w.iteration == 0 && !w.reduced) {
      for (uint32_t q : s.lanes.after[pi])
        if (done_[q] <= chunk) {
          w.wait = Walker::Wait::Chunk;
          w.waitPeer = int(q);
          return moved;
        }
    }
    if (p.kind == StepKind::RecvReduceAll) {
      const StepInstance st = s.step(p, 0);
      const size_t bytes = s.rangeChunkElems(st.blockFirst, st.blockCount, chunk) * s.elemBytes;
      if (bytes != 0 && !tryReduceAll(r, w, p, chunk, bytes)) return moved;
    } else {
      while (w.iteration < p.iterations) {
        const bool wasReduced = w.reduced;
        if (!tryStep(r, w, p, chunk)) return moved || (w.reduced && !wasReduced);
        ++w.iteration;
        moved = true;
      }
    }
    if (r.concurrent) done_[pi] = chunk + 1;
    w.iteration = 0;
    ++w.k;
    moved = true;
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
  if (peerCalls_.size() < size_t(s.nranks)) peerCalls_.resize(size_t(s.nranks));
  Run r{s, static_cast<const char*>(input), static_cast<char*>(output), scratch, sequence,
        streamSlots, LazyDeadline(config_.timeoutSec), abortFlag_, config_.spinCount, transport_,
        makeFingerprint(s.collective, sequence, s.count, s.type, s.op, s.root), ++epoch_,
        peerCalls_};
  r.chunks = s.chunksPerBlock();
  if (r.chunks == 0) return;
  r.steps = r.chunks + s.maxChunkLag();
  r.concurrent = s.concurrentLanes();
  const size_t nwalkers = r.concurrent ? s.lanes.count : 1;
  if (walkers_.size() < nwalkers) walkers_.resize(nwalkers);
  for (size_t i = 0; i < nwalkers; ++i) {
    Walker& w = walkers_[i];
    w.phases.clear();
    w.t = 0;
    w.k = 0;
    w.iteration = 0;
    w.reduced = false;
    w.finished = false;
    w.wait = Walker::Wait::Nothing;
  }
  for (uint32_t p = 0; p < s.phases.size(); ++p)
    walkers_[r.concurrent ? s.lanes.of[p] : 0].phases.push_back(p);
  if (r.concurrent) done_.assign(s.phases.size(), 0);
  size_t unfinished = nwalkers;
  auto pass = [&] {
    bool moved = false;
    for (size_t i = 0; i < nwalkers; ++i) {
      Walker& w = walkers_[i];
      if (w.finished) continue;
      moved = advance(r, w) || moved;
      if (w.finished) --unfinished;
    }
    // Stuck on one peer: move what was posted to the others too. A walker waiting on a
    // shared-memory peer runs no network transport's progress by itself, and a rendezvous (UCX)
    // or a message larger than the socket buffers (TCP) moves only while the sender progresses.
    if (!moved && unfinished > 0) transport_.progress();
    return moved || unfinished == 0;
  };
  auto what = [&] {
    if (nwalkers == 1) return r.waitText(walkers_[0]);
    std::string text;
    for (size_t i = 0; i < nwalkers; ++i)
      if (!walkers_[i].finished)
        text += fmt::format("{}lane {}: {}", text.empty() ? "" : "; ", i, r.waitText(walkers_[i]));
    return text;
  };
  // Block on the transport's events only when every waiting walker waits on a peer whose
  // news comes as events: one waiting on shared memory must keep polling.
  auto waitEvents = [&](int micros) {
    bool network = false;
    for (size_t i = 0; i < nwalkers; ++i) {
      const Walker& w = walkers_[i];
      if (w.finished || w.wait == Walker::Wait::Chunk) continue;
      if (w.wait == Walker::Wait::Nothing || !transport_.eventDriven(w.waitPeer)) return false;
      network = true;
    }
    return network && transport_.waitForEvents(micros);
  };
  auto flushEvents = [&](int micros) { return transport_.waitForEvents(micros); };
  auto health = [&] {
    if (!peerHealth_) return std::string();
    waited_.clear();
    for (size_t i = 0; i < nwalkers; ++i) {
      const Walker& w = walkers_[i];
      if (!w.finished && (w.wait == Walker::Wait::Slot || w.wait == Walker::Wait::Data))
        waited_.push_back(w.waitPeer);
    }
    return peerHealth_(waited_);
  };
  try {
    while (unfinished > 0)
      waitUntil(pass, r.deadline, abortFlag_, r.spinCount, what, waitEvents, health);
    // A transport that queues bytes (TCP) may still hold this rank's last messages: they must
    // leave before the collective returns, or a peer could wait for them forever.
    waitUntil([&] { return !transport_.progress(); }, r.deadline, abortFlag_, r.spinCount,
              [&] { return fmt::format("the last messages of {} #{} to leave", s.collective, sequence); },
              flushEvents, health);
  } catch (...) {
    // Messages sent from the user's buffers may still be queued, and the caller may free them
    // once we return: they move into their slots (TCP), or are waited for (UCX, bounded; those
    // that cannot leave keep the memory, docs/transports.md). The error to report is the first.
    if (r.sentFromBuffers) {
      try {
        transport_.releaseCallerMemory();
      } catch (const Error& e) {
        log(LogLevel::Info, "rank {}: after the collective failed: {}", s.rank, e.what());
      }
    }
    throw;
  }
}

}  // namespace strata
