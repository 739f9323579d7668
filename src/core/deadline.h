// Deadlines and polite waiting. Every wait in Strata polls a condition under a Deadline with a
// Backoff: spin briefly (cheap when the peer is running on another core), then yield, then sleep,
// so that more ranks than cores still make progress.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include <sched.h>

#include "core/error.h"

namespace strata {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  explicit Deadline(double seconds)
      : end_(seconds <= 0 ? Clock::time_point::max()
                          : Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(seconds))),
        seconds_(seconds) {}
  bool expired() const { return Clock::now() >= end_; }
  double seconds() const { return seconds_; }
  // Milliseconds left, at least 0, capped to fit an int (for poll()).
  int msLeft() const {
    if (end_ == Clock::time_point::max()) return 1 << 30;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end_ - Clock::now()).count();
    return left <= 0 ? 0 : (left > (1 << 30) ? (1 << 30) : static_cast<int>(left));
  }

 private:
  Clock::time_point end_;
  double seconds_;
};

// A deadline whose clock starts at its first check: a collective whose waits all succeed while
// spinning never reads the clock, which is a measurable part of an 8-byte all-reduce. The first
// check comes after the spin phase, so the bound is the timeout plus a few microseconds.
class LazyDeadline {
 public:
  explicit LazyDeadline(double seconds) : seconds_(seconds) {}
  bool expired() {
    if (!started_) {
      started_ = true;
      deadline_ = Deadline(seconds_);
      return false;
    }
    return deadline_.expired();
  }
  double seconds() const { return seconds_; }

 private:
  double seconds_;
  bool started_ = false;
  Deadline deadline_{0};
};

// Spin, then yield, then sleep with growing naps (capped so that wake-up latency stays small).
class Backoff {
 public:
  explicit Backoff(int spinCount) : spinCount_(spinCount) {}
  void pause() {
    ++polls_;
    blocked_ = false;
    if (polls_ <= spinCount_) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else if (polls_ <= spinCount_ + kYields) {
      sched_yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(napUs_));
      if (napUs_ < kMaxNapUs) napUs_ *= 2;
    }
  }
  // As pause(), but once the spin phase is over it blocks in waitEvents(micros) (a transport's
  // event wait, which wakes as soon as data or room arrives) whenever that can wait on something,
  // instead of yielding and napping blind.
  // The spin is short there: a rank that spins on a socket takes the CPU from the kernel's
  // network processing (softirq), which on a busy host is what delivers the bytes it waits for.
  template <typename WaitEvents>
  void pause(WaitEvents&& waitEvents) {
    if (polls_ >= std::min(spinCount_, kEventSpins) && waitEvents(eventWaitUs_)) {
      ++polls_;
      blocked_ = true;
      if (eventWaitUs_ < kMaxEventWaitUs) eventWaitUs_ *= 2;
      return;
    }
    pause();
  }
  // True every so often, to check the clock and the abort flag without paying for it per poll:
  // after every poll once spinning is over, and after every event wait (which may have lasted
  // milliseconds: checking only every 64th would let an abort wait 64 of them).
  bool timeToCheck() const { return blocked_ || (polls_ & 63) == 0 || polls_ > spinCount_; }
  // True once the wait has stopped spinning: it yields, sleeps or blocks on events.
  bool pastSpin() const { return blocked_ || polls_ > spinCount_; }

 private:
  static constexpr int kYields = 2000;
  static constexpr int kMaxNapUs = 200;
  static constexpr int kEventSpins = 16;
  // An event wait ends when data arrives; the cap only bounds how late abort and the deadline
  // are seen.
  static constexpr int kMaxEventWaitUs = 2000;
  int eventWaitUs_ = 50;
  int spinCount_;
  int64_t polls_ = 0;
  int napUs_ = 5;
  bool blocked_ = false;  // the last pause was an event wait
};

// How often a wait that has stopped spinning asks whether its peers still live (Health below):
// often enough that a dead peer ends the wait well inside any sane timeout, rare enough to cost
// nothing (one poll() of a few pidfds every 10 ms).
constexpr std::chrono::milliseconds kHealthCheckInterval{10};

// Polls ready() until it returns true. Throws strataTimeout when the deadline passes and
// strataAborted when *abortFlag becomes true. `what` names the wait for the error text.
// waitEvents(micros) -> bool: see Backoff::pause. health() -> std::string: empty while the peers
// live, else why not (the wait then fails with strataRemoteError); it is called only once the
// wait has stopped spinning, and at most every kHealthCheckInterval, so a collective whose waits
// end while spinning never pays for it.
template <typename Ready, typename DeadlineT, typename What, typename WaitEvents, typename Health>
void waitUntil(Ready&& ready, DeadlineT& deadline, const std::atomic<bool>* abortFlag,
               int spinCount, What&& what, WaitEvents&& waitEvents, Health&& health) {
  Backoff backoff(spinCount);
  Clock::time_point nextHealthCheck{};  // the first check after the spin phase runs at once
  while (!ready()) {
    backoff.pause(waitEvents);
    if (backoff.timeToCheck()) {
      if (abortFlag && abortFlag->load(std::memory_order_relaxed))
        fail(strataAborted, "aborted while waiting for {}", what());
      if (deadline.expired())
        fail(strataTimeout, "timed out after {:.3g} s waiting for {}", deadline.seconds(), what());
      if (backoff.pastSpin()) {
        const Clock::time_point now = Clock::now();
        if (now >= nextHealthCheck) {
          nextHealthCheck = now + kHealthCheckInterval;
          std::string dead = health();
          // A peer may post its last message and exit between our poll and the check: look
          // once more, now that whatever it sent is there, and fail only if still stuck on it.
          if (!dead.empty()) {
            if (ready()) return;
            dead = health();
            if (!dead.empty()) fail(strataRemoteError, "{} while waiting for {}", dead, what());
          }
        }
      }
    }
  }
}

template <typename Ready, typename DeadlineT, typename What, typename WaitEvents>
void waitUntil(Ready&& ready, DeadlineT& deadline, const std::atomic<bool>* abortFlag,
               int spinCount, What&& what, WaitEvents&& waitEvents) {
  waitUntil(ready, deadline, abortFlag, spinCount, what, waitEvents, [] { return std::string(); });
}

template <typename Ready, typename DeadlineT, typename What>
void waitUntil(Ready&& ready, DeadlineT& deadline, const std::atomic<bool>* abortFlag,
               int spinCount, What&& what) {
  waitUntil(ready, deadline, abortFlag, spinCount, what, [](int) { return false; });
}

}  // namespace strata
