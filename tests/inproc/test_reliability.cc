// Reliability with ranks as threads (docs/reliability.md): non-blocking init, abort ending every
// kind of wait within the bound, shrink, and what a hang tells the user (error text, INFO log).
// Dead processes are tested between real processes (tests/multiproc/test_reliability_procs.cc).
#include <gtest/gtest.h>

#include <dirent.h>

#include <cstdio>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"
#include "support/comm_threads.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Polls the async error until it is no longer strataInProgress (or limitSec passes).
strataResult_t awaitConnected(strataComm_t comm, double limitSec = 30) {
  const auto t0 = Clock::now();
  strataResult_t state = strataInProgress;
  while (secondsSince(t0) < limitSec) {
    if (strataCommGetAsyncError(comm, &state) != strataSuccess) return strataInternalError;
    if (state != strataInProgress) return state;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return state;
}

TEST(NonBlockingInit, InProgressUntilEveryRankJoinsThenSuccess) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  strataConfig_t c = testing::testConfig(30);
  c.blocking = 0;
  strataComm_t comms[2] = {};
  ASSERT_EQ(strataCommInitRankConfig(&comms[0], 2, id, 0, &c), strataInProgress);
  ASSERT_NE(comms[0], nullptr);
  // Rank 1 has not called yet, so rank 0 cannot be connected.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  strataResult_t state = strataSuccess;
  EXPECT_EQ(strataCommGetAsyncError(comms[0], &state), strataSuccess);
  EXPECT_EQ(state, strataInProgress);
  int count = 0, rank = -1;
  EXPECT_EQ(strataCommCount(comms[0], &count), strataSuccess);
  EXPECT_EQ(strataCommUserRank(comms[0], &rank), strataSuccess);
  EXPECT_EQ(count, 2);
  EXPECT_EQ(rank, 0);
  int32_t x[3] = {1, 2, 3};
  // Too early: refused, without breaking the communicator.
  EXPECT_EQ(strataAllReduce(x, x, 3, strataInt32, strataSum, comms[0], nullptr), strataInProgress);
  EXPECT_EQ(strataCommGetAsyncError(comms[0], &state), strataSuccess);
  EXPECT_EQ(state, strataInProgress);

  ASSERT_EQ(strataCommInitRankConfig(&comms[1], 2, id, 1, &c), strataInProgress);
  EXPECT_EQ(awaitConnected(comms[0]), strataSuccess) << strataGetLastError(comms[0]);
  EXPECT_EQ(awaitConnected(comms[1]), strataSuccess) << strataGetLastError(comms[1]);
  testing::runRanks(2, [&](int r) {
    int32_t y[3] = {1 + r, 2 + r, 3 + r};
    EXPECT_EQ(strataAllReduce(y, y, 3, strataInt32, strataSum, comms[r], nullptr), strataSuccess);
    EXPECT_EQ(y[0], 3);
    EXPECT_EQ(y[1], 5);
    EXPECT_EQ(y[2], 7);
  });
  EXPECT_EQ(strataCommDestroy(comms[0]), strataSuccess);
  EXPECT_EQ(strataCommDestroy(comms[1]), strataSuccess);
}

TEST(NonBlockingInit, FailureBecomesTheAsyncError) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  strataConfig_t c = testing::testConfig(0.5);
  c.blocking = 0;
  strataComm_t comm = nullptr;
  ASSERT_EQ(strataCommInitRankConfig(&comm, 2, id, 0, &c), strataInProgress);  // rank 1 never comes
  EXPECT_EQ(awaitConnected(comm), strataTimeout);
  EXPECT_NE(std::string(strataGetLastError(comm)).find("timed out"), std::string::npos)
      << strataGetLastError(comm);
  EXPECT_EQ(strataCommDestroy(comm), strataSuccess);
}

// Abort must end any wait within 100 ms; the bound asserted here is that, and the time is
// printed. (The machine is shared: a thread may not run for a while after it is woken.)
constexpr double kAbortBoundSec = 0.1;

TEST(AbortLatency, EndsAConnectingNonBlockingInit) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  strataConfig_t c = testing::testConfig(60);
  c.blocking = 0;
  strataComm_t comm = nullptr;
  ASSERT_EQ(strataCommInitRankConfig(&comm, 2, id, 0, &c), strataInProgress);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // waiting in the bootstrap now
  const auto t0 = Clock::now();
  EXPECT_EQ(strataCommAbort(comm), strataSuccess);
  const double took = secondsSince(t0);
  std::printf("abort of a connecting init took %.1f ms\n", took * 1e3);
  EXPECT_LT(took, kAbortBoundSec);
}

// A collective waiting on a network transport's events (rank 1 never joins) ends on abort.
void expectAbortEndsANetworkWait(const char* transport) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  strataConfig_t c = testing::testConfig(60);
  c.transport = transport;
  strataComm_t comms[2] = {};
  std::atomic<int> unavailable{0};
  testing::runRanks(2, [&](int r) {
    strataResult_t res = strataCommInitRankConfig(&comms[r], 2, id, r, &c);
    if (res == strataInvalidArgument || res == strataSystemError) ++unavailable;  // no UCX here
    else ASSERT_EQ(res, strataSuccess) << strataGetLastError(nullptr);
  });
  if (unavailable) GTEST_SKIP() << transport << " is not available: " << strataGetLastError(nullptr);
  std::vector<float> x(100000, 1.0f);
  std::atomic<int> result{-1};
  std::atomic<double> returnedAfter{-1};
  std::atomic<int64_t> abortAtNs{0};
  std::thread waiter([&] {
    result = strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, comms[0], nullptr);
    returnedAfter = double(Clock::now().time_since_epoch().count() - abortAtNs.load()) / 1e9;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // rank 1 never joins
  abortAtNs = Clock::now().time_since_epoch().count();
  EXPECT_EQ(strataCommAbort(comms[0]), strataSuccess);
  waiter.join();
  std::printf("a %s wait returned %.1f ms after abort\n", transport, returnedAfter.load() * 1e3);
  EXPECT_EQ(result.load(), strataAborted);
  EXPECT_LT(returnedAfter.load(), kAbortBoundSec);
  EXPECT_EQ(strataCommDestroy(comms[1]), strataSuccess);
}

TEST(AbortLatency, EndsATcpTransportWait) { expectAbortEndsANetworkWait("tcp"); }
TEST(AbortLatency, EndsAUcxTransportWait) { expectAbortEndsANetworkWait("ucx"); }

// A shrink of live ranks: the excluded rank does not call; survivors agree on a new root (here
// rank 0 is excluded, so rank 1 hosts it) and the new communicator reduces exactly.
TEST(Shrink, ExcludedRanksLeaveAndTheRestReduceExactly) {
  for (int excluded : {0, 2}) {
    strataConfig_t c = testing::testConfig(30);
    testing::withComm(4, c, [excluded](int r, strataComm_t comm) {
      if (r == excluded) return;
      strataComm_t small = nullptr;
      ASSERT_EQ(strataCommShrink(comm, &excluded, 1, &small, nullptr), strataSuccess)
          << strataGetLastError(comm);
      int n = 0, newRank = -1;
      EXPECT_EQ(strataCommCount(small, &n), strataSuccess);
      EXPECT_EQ(strataCommUserRank(small, &newRank), strataSuccess);
      EXPECT_EQ(n, 3);
      EXPECT_EQ(newRank, r < excluded ? r : r - 1);
      std::vector<int64_t> x(5000);
      for (size_t i = 0; i < x.size(); ++i) x[i] = int64_t(r + 1) * int64_t(i % 7);
      ASSERT_EQ(strataAllReduce(x.data(), x.data(), x.size(), strataInt64, strataSum, small, nullptr),
                strataSuccess) << strataGetLastError(small);
      const int64_t ranksSum = 1 + 2 + 3 + 4 - (excluded + 1);
      for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], ranksSum * int64_t(i % 7)) << i;
      EXPECT_EQ(strataCommDestroy(small), strataSuccess);
    });
  }
}

TEST(Shrink, DifferentListsAreInvalidUsage) {
  strataConfig_t c = testing::testConfig(1);
  testing::withComm(3, c, [](int r, strataComm_t comm) {
    // Rank 0 drops rank 2; ranks 1 and 2 drop nobody.
    const int drop = 2;
    strataComm_t small = nullptr;
    strataResult_t res = strataCommShrink(comm, &drop, r == 0 ? 1 : 0, &small, nullptr);
    if (r == 0) {
      // The leader cannot tell at once; its new communicator never forms (rank 1 refused).
      EXPECT_EQ(res, strataTimeout) << strataGetLastError(comm);
      EXPECT_EQ(small, nullptr);
    } else if (r == 1) {
      EXPECT_EQ(res, strataInvalidUsage);
      EXPECT_NE(std::string(strataGetLastError(comm)).find("same list"), std::string::npos)
          << strataGetLastError(comm);
    } else {
      // Rank 2 waits for an offer from rank 0 that is never sent to it.
      EXPECT_EQ(res, strataTimeout);
    }
  });
}

TEST(Shrink, BadArguments) {
  strataConfig_t c = testing::testConfig(5);
  testing::withComm(1, c, [](int, strataComm_t comm) {
    strataComm_t small = nullptr;
    const int outOfRange = 3, self = 0;
    EXPECT_EQ(strataCommShrink(comm, &outOfRange, 1, &small, nullptr), strataInvalidArgument);
    EXPECT_EQ(strataCommShrink(comm, nullptr, 1, &small, nullptr), strataInvalidArgument);
    EXPECT_EQ(strataCommShrink(comm, &self, 1, &small, nullptr), strataInvalidUsage);
    EXPECT_EQ(strataCommShrink(comm, nullptr, 0, nullptr, nullptr), strataInvalidArgument);
    EXPECT_EQ(strataCommShrink(nullptr, nullptr, 0, &small, nullptr), strataInvalidArgument);
  });
}

// Collects the log lines at INFO for the length of a test.
class LogCapture {
 public:
  LogCapture() {
    setLogSinkForTesting(LogLevel::Info, [this](LogLevel, const std::string& line) {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back(line);
    });
  }
  ~LogCapture() { setLogSinkForTesting(LogLevel::Warn, {}); }
  bool contains(const std::string& a, const std::string& b) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& l : lines_)
      if (l.find(a) != std::string::npos && l.find(b) != std::string::npos) return true;
    return false;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

// The hang that remains once mismatched calls are refused (docs/errors.md, the call fingerprint):
// rank 1 skips a collective that rank 0 makes. The timeout text says which collective, sequence
// number and schedule step waited for which rank, and the INFO log shows rank 0's call #2 with
// no call #2 from rank 1. (A rank calling a broadcast where the other calls an all-reduce is now
// refused at once with strataInvalidUsage: CallMismatch.CollectiveKindIsDetected.)
TEST(HangDiagnosis, TimeoutTextAndInfoLogFindASkippedCall) {
  LogCapture log;
  strataConfig_t c = testing::testConfig(1.0);
  std::string text;
  testing::withComm(2, c, [&](int r, strataComm_t comm) {
    std::vector<float> x(1000, 1.0f);
    ASSERT_EQ(strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, comm, nullptr),
              strataSuccess);
    if (r == 0) {
      EXPECT_EQ(strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, comm, nullptr),
                strataTimeout);
      text = strataGetLastError(comm);
    } else {
      // Alive but elsewhere until rank 0's deadline has passed.
      std::this_thread::sleep_for(std::chrono::milliseconds(1600));
    }
  });
  for (const char* part : {"timed out after 1 s", "data from rank 1", "allreduce #2",
                           "1000 elements of float", "phase "})
    EXPECT_NE(text.find(part), std::string::npos) << "no '" << part << "' in: " << text;
  EXPECT_TRUE(log.contains("rank 0/2: allreduce #2 count 1000 float op sum", "algorithm "));
  EXPECT_TRUE(log.contains("rank 1/2: allreduce #1 count 1000 float op sum", "algorithm "));
  EXPECT_FALSE(log.contains("rank 1/2: ", " #2 "));
}

// Threads of this process called "strata-root" (the bootstrap root names its thread so).
size_t rootThreads() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (const dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char name[64] = {};
      const std::string path = std::string("/proc/self/task/") + e->d_name + "/comm";
      if (FILE* f = std::fopen(path.c_str(), "r")) {
        if (std::fgets(name, sizeof(name), f) && std::string(name) == "strata-root\n") ++n;
        std::fclose(f);
      }
    }
    closedir(d);
  }
  return n;
}

// The bootstrap root is a thread of the process that made the id; it is joined once the
// communicator has formed, not left detached to exit on its own (which raced LeakSanitizer's
// tracer at process exit).
TEST(BootstrapRoot, ThreadIsJoinedOnceTheCommunicatorForms) {
  const size_t before = rootThreads();  // roots of earlier tests wait for their (long) deadline
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  // The thread names itself as it starts.
  for (int i = 0; i < 1000 && rootThreads() != before + 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(rootThreads(), before + 1);
  strataConfig_t c = testing::testConfig(10);
  strataComm_t comm = nullptr;
  ASSERT_EQ(strataCommInitRankConfig(&comm, 1, id, 0, &c), strataSuccess);
  EXPECT_EQ(rootThreads(), before);
  EXPECT_EQ(strataCommDestroy(comm), strataSuccess);
}

}  // namespace
}  // namespace strata
