// The executor: runs one rank's schedule over a transport. The calling thread drives progress;
// every wait is bounded by the collective's deadline and checks the communicator's abort flag.
//
// A schedule whose lanes run concurrently (schedule.h, "Lanes") gets one walker per lane; the
// thread round-robins over them, each doing every step it can without waiting, and only waits
// (spin, yield, sleep) when none can move. Otherwise one walker runs the sequential walk.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/config.h"
#include "plan/schedule.h"
#include "transports/transport.h"

namespace strata {

class Executor {
 public:
  // peerHealth(waited) -> empty while the collective can still complete, else why not (see
  // waitUntil in core/deadline.h); `waited` holds the ranks the stuck walkers wait on. How a wait
  // on a peer that died, on a transport without connections (shared memory), ends before its
  // deadline. May be empty (no check).
  using PeerHealth = std::function<std::string(const std::vector<int>& waited)>;
  Executor(Transport& transport, const Config& config, const std::atomic<bool>* abortFlag,
           PeerHealth peerHealth = {})
      : transport_(transport), config_(config), abortFlag_(abortFlag),
        peerHealth_(std::move(peerHealth)) {}

  // Runs `schedule` with input (send buffer) and output (receive buffer); `sequence` numbers the
  // collective on this communicator for error messages. streamSlots: write transport slots with
  // non-temporal stores (see core/stream_copy.h).
  void run(const Schedule& schedule, const void* input, void* output, uint64_t sequence,
           bool streamSlots = false);

 private:
  struct Run;
  struct Walker {
    std::vector<uint32_t> phases;  // this lane's, in phase order
    size_t t = 0;
    uint32_t k = 0;          // index into phases
    uint32_t iteration = 0;
    bool reduced = false;    // RecvReduceCopySend: the receive half is done, the send is not
    bool finished = false;
    // What the walker waits for, for the error text: a slot to or data from `waitPeer`, or
    // chunk waitChunk of phase waitPhase.
    enum class Wait : uint8_t { Nothing, Slot, Data, Chunk } wait = Wait::Nothing;
    int waitPeer = -1;
    std::vector<char> own;               // own data of a reduce-all, packed
    std::vector<const void*> sources;    // reused so that small collectives do not allocate
  };
  bool advance(Run& run, Walker& w);
  bool tryStep(Run& run, Walker& w, const Phase& phase, size_t chunk);
  bool tryReduceAll(Run& run, Walker& w, const Phase& phase, size_t chunk, size_t bytes);

  // Per peer rank: whether this run (epoch) has sent its call fingerprint to it and checked the
  // one from it, and how many bytes of the message in hand from it are that fingerprint.
  struct PeerCall {
    uint64_t sentEpoch = 0;
    uint64_t checkedEpoch = 0;
    size_t skipBytes = 0;
  };

  Transport& transport_;
  const Config& config_;
  const std::atomic<bool>* abortFlag_;
  PeerHealth peerHealth_;
  std::vector<int> waited_;  // reused by the health check
  std::vector<char> work_;        // blocks a schedule keeps outside the user's output
  std::vector<Walker> walkers_;   // reused between runs
  std::vector<size_t> done_;      // per phase: chunks completed (concurrent lanes)
  std::vector<PeerCall> peerCalls_;  // by rank; entries are current when they hold epoch_
  uint64_t epoch_ = 0;               // runs so far
};

}  // namespace strata
