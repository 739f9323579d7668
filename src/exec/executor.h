// The executor: runs one rank's schedule over a transport. The calling thread drives progress;
// every wait is bounded by the collective's deadline and checks the communicator's abort flag.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "core/config.h"
#include "plan/schedule.h"
#include "transports/transport.h"

namespace strata {

class Executor {
 public:
  Executor(Transport& transport, const Config& config, const std::atomic<bool>* abortFlag)
      : transport_(transport), config_(config), abortFlag_(abortFlag) {}

  // Runs `schedule` with input (send buffer) and output (receive buffer); `sequence` numbers the
  // collective on this communicator for error messages. streamSlots: write transport slots with
  // non-temporal stores (see core/stream_copy.h).
  void run(const Schedule& schedule, const void* input, void* output, uint64_t sequence,
           bool streamSlots = false);

 private:
  struct Run;
  void runReduceAll(Run& run, const Phase& phase, size_t bytes);
  Transport& transport_;
  const Config& config_;
  const std::atomic<bool>* abortFlag_;
  std::vector<char> scratch_;         // own data of a reduce-all, packed
  std::vector<char> work_;            // blocks a schedule keeps outside the user's output
  std::vector<const void*> sources_;  // reused so that small collectives do not allocate
};

}  // namespace strata
