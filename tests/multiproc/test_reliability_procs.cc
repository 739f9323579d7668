// Dead and stopped ranks between real processes (docs/reliability.md): a rank killed with SIGKILL
// at a random point of a stream of all-reduces makes every survivor fail within twice the
// timeout; the survivors then shrink the communicator and finish an all-reduce with exact
// results. A stopped rank (SIGSTOP) is caught by the deadline, and the text says where.
//
// STRATA_TEST_KILL_ITERATIONS sets how many kills the main test does (default 100, the issue's
// "done when"); STRATA_TEST_SEED replays a run (the seed is printed).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "strata/strata.h"
#include "support/sanitizers.h"

namespace {

constexpr int kMaxRanks = 8;

int64_t monotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // one clock for all processes of the host
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// What a rank tells the parent, through shared memory.
struct RankReport {
  std::atomic<int> phase;  // 0 starting, 1 initialised, 2 failed as expected, 3 finished
  int64_t errorNs;         // when its collective returned the error
  int result;              // that collective's code
  int collectives;         // collectives that succeeded before
  char text[512];          // its error text, or what went wrong
};

struct Shared {
  std::atomic<int> idReady;
  strataUniqueId id;
  std::atomic<int> victim;   // the rank the parent kills or stops (-1: not chosen yet)
  std::atomic<int64_t> killNs;  // when the parent sent the signal
  RankReport reports[kMaxRanks];
};

void report(RankReport& rep, const char* format, const char* detail) {
  std::snprintf(rep.text, sizeof(rep.text), format, detail);
}

// Element i of rank r's contribution: small integers, so every sum is exact.
int32_t contribution(int oldRank, size_t i) { return (oldRank + 1) * int32_t(i % 5 + 1); }

// A rank: all-reduces of varying sizes (one-shot and ring, one message and many) until one fails,
// then a shrink without the victim and an all-reduce on the new communicator, checked exactly.
// Exit codes: 0 pass; the others name the failure (report.text says more).
int rankBody(Shared* sh, int r, int n, const strataConfig_t& config, bool stopCase) {
  RankReport& rep = sh->reports[r];
  const auto t0 = std::chrono::steady_clock::now();
  while (!sh->idReady.load()) {
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(30)) return 91;
    usleep(500);
  }
  strataComm_t comm = nullptr;
  if (strataCommInitRankConfig(&comm, n, sh->id, r, &config) != strataSuccess) {
    report(rep, "init: %s", strataGetLastError(nullptr));
    return 92;
  }
  rep.phase.store(1);
  static const size_t kCounts[] = {1, 3000, 70001, 17};
  std::vector<int32_t> x(70001);
  strataResult_t res = strataSuccess;
  for (int iter = 0;; ++iter) {
    const size_t count = kCounts[iter % 4];
    for (size_t i = 0; i < count; ++i) x[i] = contribution(r, i);
    res = strataAllReduce(x.data(), x.data(), count, strataInt32, strataSum, comm, nullptr);
    if (res != strataSuccess) break;
    for (size_t i = 0; i < count; ++i)
      if (x[i] != int32_t(n * (n + 1) / 2) * int32_t(i % 5 + 1)) {
        report(rep, "wrong sum before the failure%s", "");
        return 20;
      }
    rep.collectives = iter + 1;
  }
  rep.errorNs = monotonicNs();
  rep.result = res;
  std::snprintf(rep.text, sizeof(rep.text), "%s", strataGetLastError(comm));
  const int victim = sh->victim.load();
  if (victim < 0 || sh->killNs.load() == 0) return 21;  // failed before anybody died
  if (res != strataRemoteError && res != strataTimeout) return 22;
  rep.phase.store(2);
  if (stopCase) {
    // Stay until every survivor has failed: a survivor that exits early would turn the others'
    // timeouts into "rank exited" errors.
    for (int k = 0; k < 10000; ++k) {
      int failed = 0;
      for (int q = 0; q < n; ++q) failed += q != victim && sh->reports[q].phase.load() >= 2;
      if (failed == n - 1) break;
      usleep(1000);
    }
    strataCommAbort(comm);
    return 0;
  }

  strataComm_t small = nullptr;
  if (strataCommShrink(comm, &victim, 1, &small, nullptr) != strataSuccess) {
    report(rep, "shrink: %s", strataGetLastError(comm));
    return 23;
  }
  int newRank = -1, newN = -1;
  strataCommUserRank(small, &newRank);
  strataCommCount(small, &newN);
  if (newN != n - 1 || newRank != (r < victim ? r : r - 1)) return 24;
  const size_t count = 1001;
  for (size_t i = 0; i < count; ++i) x[i] = contribution(r, i);
  if (strataAllReduce(x.data(), x.data(), count, strataInt32, strataSum, small, nullptr) !=
      strataSuccess) {
    report(rep, "all-reduce after shrink: %s", strataGetLastError(small));
    return 25;
  }
  const int32_t survivorsSum = int32_t(n * (n + 1) / 2 - (victim + 1));
  for (size_t i = 0; i < count; ++i)
    if (x[i] != survivorsSum * int32_t(i % 5 + 1)) {
      report(rep, "wrong sum after shrink%s", "");
      return 26;
    }
  if (strataCommDestroy(small) != strataSuccess) return 27;
  // The old communicator lost a rank mid-collective: abort it (destroy would do as well).
  if (strataCommAbort(comm) != strataSuccess) return 28;
  rep.phase.store(3);
  return 0;
}

struct Outcome {
  std::vector<int> status;  // waitpid status per rank
  int victim = -1;
  double worstDetectSec = 0;  // slowest survivor: kill to error
};

// One world of n forked ranks; the parent sends `signal` to a random rank after a random delay
// of up to maxDelayUs once all ranks have their communicator.
Outcome runOnce(int n, const strataConfig_t& config, std::mt19937_64& rng, int signal,
                int maxDelayUs, Shared* sh) {
  std::memset(static_cast<void*>(sh), 0, sizeof(Shared));
  sh->victim.store(-1);
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      if (r == 0) {
        if (strataGetUniqueId(&sh->id) != strataSuccess) _exit(90);
        sh->idReady.store(1);
      }
      _exit(rankBody(sh, r, n, config, signal == SIGSTOP));
    }
    pids.push_back(pid);
  }
  Outcome out;
  out.status.assign(size_t(n), -1);
  const auto start = std::chrono::steady_clock::now();
  auto allInitialised = [&] {
    for (int r = 0; r < n; ++r)
      if (sh->reports[r].phase.load() < 1) return false;
    return true;
  };
  while (!allInitialised() && std::chrono::steady_clock::now() - start < std::chrono::seconds(30))
    usleep(200);
  out.victim = int(rng() % uint64_t(n));
  const int delayUs = int(rng() % uint64_t(maxDelayUs + 1));
  sh->victim.store(out.victim);
  usleep(useconds_t(delayUs));
  sh->killNs.store(monotonicNs());
  kill(pids[size_t(out.victim)], signal);

  // Survivors fail within 2x the timeout and shrink within another timeout or two; anything
  // still running after a generous bound is hung, which is the failure this test exists for.
  const auto limit = std::chrono::steady_clock::now() +
                     std::chrono::duration<double>(4 * config.timeoutSec + 20);
  int left = n;
  bool stoppedKilled = false;
  while (left > 0) {
    for (int r = 0; r < n; ++r) {
      if (out.status[size_t(r)] != -1) continue;
      int st;
      if (waitpid(pids[size_t(r)], &st, WNOHANG) == pids[size_t(r)]) {
        out.status[size_t(r)] = st;
        --left;
      }
    }
    // A stopped victim is killed once every survivor has reported its failure.
    if (signal == SIGSTOP && !stoppedKilled && left == 1 && out.status[size_t(out.victim)] == -1) {
      kill(pids[size_t(out.victim)], SIGKILL);
      stoppedKilled = true;
    }
    if (std::chrono::steady_clock::now() > limit)
      for (int r = 0; r < n; ++r)
        if (out.status[size_t(r)] == -1) kill(pids[size_t(r)], SIGKILL);
    usleep(1000);
  }
  for (int r = 0; r < n; ++r)
    if (r != out.victim && sh->reports[r].phase.load() >= 2)
      out.worstDetectSec =
          std::max(out.worstDetectSec, double(sh->reports[r].errorNs - sh->killNs.load()) / 1e9);
  (void)delayUs;
  return out;
}

Shared* mapShared() {
  void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return mem == MAP_FAILED ? nullptr : static_cast<Shared*>(mem);
}

uint64_t seedFromEnv() {
  if (const char* s = std::getenv("STRATA_TEST_SEED")) return std::strtoull(s, nullptr, 0);
  return uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
}

// Checks one world's outcome: the victim died by the signal, every survivor exited 0 after
// failing within twice the timeout. Returns false (with gtest failures) otherwise.
bool checkOutcome(const Outcome& out, const Shared* sh, int n, double timeoutSec, int iteration,
                  uint64_t seed) {
  bool ok = true;
  for (int r = 0; r < n; ++r) {
    const int st = out.status[size_t(r)];
    if (r == out.victim) {
      EXPECT_TRUE(WIFSIGNALED(st)) << "victim " << r << " status " << st;
      continue;
    }
    const RankReport& rep = sh->reports[r];
    const bool exited0 = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    const double detect = double(rep.errorNs - sh->killNs.load()) / 1e9;
    EXPECT_TRUE(exited0) << "iteration " << iteration << " (seed " << seed << "), n=" << n
                         << ", victim " << out.victim << ": rank " << r << " status " << st
                         << " (exit " << (WIFEXITED(st) ? WEXITSTATUS(st) : -1) << "): " << rep.text;
    EXPECT_LE(detect, 2 * timeoutSec) << "iteration " << iteration << ": rank " << r
                                      << " took " << detect << " s: " << rep.text;
    ok = ok && exited0 && detect <= 2 * timeoutSec;
  }
  return ok;
}

TEST(Reliability, RandomRankKilledMidAllReduceSurvivorsFailThenShrink) {
  // About 9 s here when idle (2 cores); under a sanitizer each kill costs 3-5x more.
  int iterations = strata::testing::kSanitized ? 40 : 100;
  if (const char* s = std::getenv("STRATA_TEST_KILL_ITERATIONS")) iterations = std::atoi(s);
  const uint64_t seed = seedFromEnv();
  std::printf("seed %llu, %d iterations\n", static_cast<unsigned long long>(seed), iterations);
  std::mt19937_64 rng(seed);
  Shared* sh = mapShared();
  ASSERT_NE(sh, nullptr);
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.timeoutSec = 1.5;
  double worst = 0;
  int byRemote = 0, byTimeout = 0;
  int fewestDone = 1 << 30, mostDone = 0;  // collectives done before the kill: how random it was
  const auto t0 = std::chrono::steady_clock::now();
  for (int it = 0; it < iterations; ++it) {
    const int n = 3 + it % 2;
    Outcome out = runOnce(n, c, rng, SIGKILL, 30000, sh);
    worst = std::max(worst, out.worstDetectSec);
    for (int r = 0; r < n; ++r)
      if (r != out.victim) {
        (sh->reports[r].result == strataRemoteError ? byRemote : byTimeout)++;
        fewestDone = std::min(fewestDone, sh->reports[r].collectives);
        mostDone = std::max(mostDone, sh->reports[r].collectives);
      }
    if (!checkOutcome(out, sh, n, c.timeoutSec, it, seed)) break;
  }
  std::printf("%d kills in %.1f s; slowest survivor failed %.3f s after the kill; %d survivors saw "
              "strataRemoteError, %d strataTimeout; %d to %d collectives done before the kill\n",
              iterations, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
              worst, byRemote, byTimeout, fewestDone, mostDone);
  // On one host a death is seen through the victim's pidfd and passed on through the failure
  // notices, not by waiting out the deadline.
  EXPECT_EQ(byTimeout, 0) << "survivors waited for the deadline instead of seeing the death";
  munmap(sh, sizeof(Shared));
}

// Whether this build and machine can run `transport` (asked in a child: a communicator, even of
// one rank, starts threads, and this process forks its ranks).
bool transportWorks(const char* transport) {
  pid_t pid = fork();
  if (pid == 0) {
    strataUniqueId id;
    strataConfig_t c = STRATA_CONFIG_INITIALIZER;
    c.transport = transport;
    c.timeoutSec = 10;
    strataComm_t comm = nullptr;
    if (strataGetUniqueId(&id) != strataSuccess) _exit(1);
    _exit(strataCommInitRankConfig(&comm, 1, id, 0, &c) == strataSuccess ? 0 : 1);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// The same over a network transport (connections that break) instead of shared memory.
void killOverNetwork(const char* transport) {
  if (!transportWorks(transport)) GTEST_SKIP() << transport << " cannot start here";
  const uint64_t seed = seedFromEnv();
  std::mt19937_64 rng(seed);
  Shared* sh = mapShared();
  ASSERT_NE(sh, nullptr);
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.timeoutSec = 1.5;
  c.transport = transport;
  for (int it = 0; it < 3; ++it) {
    Outcome out = runOnce(3, c, rng, SIGKILL, 30000, sh);
    if (!checkOutcome(out, sh, 3, c.timeoutSec, it, seed)) break;
  }
  munmap(sh, sizeof(Shared));
}

TEST(Reliability, RankKilledOverTcpSurvivorsFailThenShrink) { killOverNetwork("tcp"); }
TEST(Reliability, RankKilledOverUcxSurvivorsFailThenShrink) { killOverNetwork("ucx"); }

// A stopped rank is alive to every liveness check: only the deadline catches it, and the text
// says which collective, its sequence number and schedule step, and which rank did not deliver.
TEST(Reliability, StoppedRankIsCaughtByTheDeadline) {
  std::mt19937_64 rng(seedFromEnv());
  Shared* sh = mapShared();
  ASSERT_NE(sh, nullptr);
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.timeoutSec = 1.0;
  Outcome out = runOnce(3, c, rng, SIGSTOP, 20000, sh);
  for (int r = 0; r < 3; ++r) {
    if (r == out.victim) continue;
    const RankReport& rep = sh->reports[r];
    EXPECT_TRUE(WIFEXITED(out.status[size_t(r)]) && WEXITSTATUS(out.status[size_t(r)]) == 0)
        << "rank " << r << " status " << out.status[size_t(r)] << ": " << rep.text;
    // Its own deadline, or (on a host whose other rank's deadline passed first) that rank's
    // giving up, which carries the same timeout text.
    const bool othersTimeout = rep.result == strataRemoteError &&
                               std::string(rep.text).find("gave up on collective") != std::string::npos;
    EXPECT_TRUE(rep.result == strataTimeout || othersTimeout) << rep.result << ": " << rep.text;
    const double detect = double(rep.errorNs - sh->killNs.load()) / 1e9;
    EXPECT_LE(detect, 2 * c.timeoutSec);
    const std::string text = rep.text;
    EXPECT_NE(text.find("timed out after 1 s"), std::string::npos) << text;
    EXPECT_NE(text.find("allreduce #"), std::string::npos) << text;
    EXPECT_NE(text.find("phase"), std::string::npos) << text;
    EXPECT_NE(text.find("from rank") == std::string::npos ? text.find("to rank") : 0,
              std::string::npos) << text;
  }
  munmap(sh, sizeof(Shared));
}

}  // namespace
