// All-reduce between real processes (fork), through libstrata.so as an application links it:
// world sizes 1, 2, 3, 5, 8 and more ranks than the machine has cores, every datatype and op at
// a few counts, and a rank that dies making the others fail instead of hanging.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "strata/strata.h"
#include "support/all_types.h"
#include "support/sanitizers.h"
#include "verify.h"

namespace {

struct SharedId {
  std::atomic<int> ready;
  strataUniqueId id;
};

// Forks n ranks; child r runs body(r, comm) and exits with its return value (0 = pass).
// Returns the exit statuses. Children that outlive `limitSec` are killed (and fail).
std::vector<int> forkRanks(int n, const strataConfig_t& config,
                           const std::function<int(int, strataComm_t)>& body, double limitSec = 120) {
  void* mem = mmap(nullptr, sizeof(SharedId), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  auto* shared = new (mem) SharedId();
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      if (r == 0) {
        if (strataGetUniqueId(&shared->id) != strataSuccess) _exit(90);
        shared->ready.store(1);
      }
      auto t0 = std::chrono::steady_clock::now();
      while (!shared->ready.load()) {
        if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(30)) _exit(91);
        usleep(1000);
      }
      strataComm_t comm;
      if (strataCommInitRankConfig(&comm, n, shared->id, r, &config) != strataSuccess) {
        fprintf(stderr, "rank %d init: %s\n", r, strataGetLastError(nullptr));
        _exit(92);
      }
      int rc = body(r, comm);
      strataCommDestroy(comm);
      _exit(rc);
    }
    pids.push_back(pid);
  }
  std::vector<int> status(n, -1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limitSec);
  int left = n;
  while (left > 0) {
    for (int r = 0; r < n; ++r) {
      if (status[r] != -1) continue;
      int st;
      if (waitpid(pids[r], &st, WNOHANG) == pids[r]) {
        status[r] = st;
        --left;
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      for (int r = 0; r < n; ++r)
        if (status[r] == -1) kill(pids[r], SIGKILL);
    }
    usleep(2000);
  }
  munmap(mem, sizeof(SharedId));
  return status;
}

using strata::testing::kAllTypes;
using strata::testing::kAllOps;

int sweepBody(int r, strataComm_t comm, int n, const std::vector<size_t>& counts) {
  size_t maxCount = *std::max_element(counts.begin(), counts.end());
  std::vector<char> send(maxCount * 8 + 8), recv(maxCount * 8 + 8);
  uint64_t seed = 100;
  for (size_t count : counts)
    for (strataDataType_t t : kAllTypes)
      for (strataRedOp_t op : kAllOps)
        for (bool inPlace : {false, true}) {
          ++seed;
          if (strata::testing::sanitizedSweepSkips(count, t)) continue;
          strata::verify::fill(send.data(), count, t, op, r, n, seed);
          void* out = inPlace ? send.data() : recv.data();
          if (strataAllReduce(send.data(), out, count, t, op, comm, nullptr) != strataSuccess) {
            fprintf(stderr, "rank %d: %s\n", r, strataGetLastError(comm));
            return 1;
          }
          if (size_t w = strata::verify::countWrong(out, count, t, op, n, seed)) {
            fprintf(stderr, "rank %d: %zu wrong, n=%d count=%zu %s %s %s\n", r, w, n, count,
                    strataTypeName(t), strataOpName(op), inPlace ? "in-place" : "out-of-place");
            return 2;
          }
        }
  return 0;
}

class AllReduceProcs : public ::testing::TestWithParam<int> {};

TEST_P(AllReduceProcs, EveryTypeAndOp) {
  const int n = GetParam();
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.timeoutSec = 60;
  auto status = forkRanks(n, c, [n](int r, strataComm_t comm) {
    return sweepBody(r, comm, n, {0, 1, 999, 70001});
  });
  for (int r = 0; r < n; ++r)
    EXPECT_TRUE(WIFEXITED(status[r]) && WEXITSTATUS(status[r]) == 0)
        << "rank " << r << " status " << status[r];
}

// 12 processes on the 2 cores take a minute under a sanitizer; 8 already oversubscribe them.
INSTANTIATE_TEST_SUITE_P(WorldSizes, AllReduceProcs,
                         ::testing::ValuesIn(strata::testing::kSanitized ? std::vector<int>{1, 2, 3, 5, 8}
                                                                          : std::vector<int>{1, 2, 3, 5, 8, 12}),
                         [](const auto& info) { return "n" + std::to_string(info.param); });

TEST(AllReduceProcsLarge, SixteenMiBAcrossFourProcessesOnTwoCores) {
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.timeoutSec = 60;
  const size_t count = (16u << 20) / 4 + 3;
  auto status = forkRanks(4, c, [count](int r, strataComm_t comm) {
    std::vector<float> send(count), recv(count);
    for (int iter = 0; iter < 3; ++iter) {
      strata::verify::fill(send.data(), count, strataFloat32, strataSum, r, 4, iter);
      if (strataAllReduce(send.data(), recv.data(), count, strataFloat32, strataSum, comm, nullptr))
        return 1;
      if (strata::verify::countWrong(recv.data(), count, strataFloat32, strataSum, 4, iter)) return 2;
    }
    return 0;
  });
  for (int r = 0; r < 4; ++r) EXPECT_EQ(status[r], 0) << "rank " << r;
}

TEST(AllReduceProcsFailure, KilledRankMakesSurvivorsFailWithinTwiceTheTimeout) {
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.timeoutSec = 2;
  auto status = forkRanks(3, c, [](int r, strataComm_t comm) {
    std::vector<float> x(1 << 20, 1.0f);
    if (r == 2) raise(SIGKILL);  // dies before its first collective
    auto t0 = std::chrono::steady_clock::now();
    strataResult_t res = strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, comm, nullptr);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (res == strataSuccess) return 10;
    if (s > 4.0) return 11;
    return (res == strataTimeout || res == strataRemoteError) ? 42 : 12;
  }, 30);
  EXPECT_TRUE(WIFSIGNALED(status[2]));
  for (int r = 0; r < 2; ++r)
    EXPECT_TRUE(WIFEXITED(status[r]) && WEXITSTATUS(status[r]) == 42)
        << "rank " << r << " status " << status[r];
}

}  // namespace

namespace {

// Ranks started "by a launcher": each process only gets environment variables.
int runFromEnv(const std::vector<std::pair<std::string, std::string>>& vars) {
  for (auto& [k, v] : vars) setenv(k.c_str(), v.c_str(), 1);
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.timeoutSec = 30;
  strataComm_t comm;
  if (strataCommInitFromEnv(&comm, &c) != strataSuccess) {
    fprintf(stderr, "init from env: %s\n", strataGetLastError(nullptr));
    return 1;
  }
  int rank = -1, n = -1;
  strataCommUserRank(comm, &rank);
  strataCommCount(comm, &n);
  std::vector<int64_t> x(1001);
  strata::verify::fill(x.data(), x.size(), strataInt64, strataSum, rank, n, 5);
  int rc = strataAllReduce(x.data(), x.data(), x.size(), strataInt64, strataSum, comm, nullptr) ? 2 : 0;
  if (!rc && strata::verify::countWrong(x.data(), x.size(), strataInt64, strataSum, n, 5)) rc = 3;
  strataCommDestroy(comm);
  return rc;
}

// Forks n processes that each call body(rank); returns true if all exit 0.
bool forkAll(int n, const std::function<int(int)>& body) {
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) {
    pid_t pid = fork();
    if (pid == 0) _exit(body(r));
    pids.push_back(pid);
  }
  bool ok = true;
  for (pid_t p : pids) {
    int st;
    waitpid(p, &st, 0);
    ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  return ok;
}

int freePort() {
  // Ports in a range of our own, varied by pid, so that parallel test runs do not collide.
  return 20000 + (getpid() * 7) % 20000;
}

TEST(InitFromEnv, StrataVariables) {
  int port = freePort();
  EXPECT_TRUE(forkAll(3, [port](int r) {
    return runFromEnv({{"STRATA_RANK", std::to_string(r)},
                       {"STRATA_NRANKS", "3"},
                       {"STRATA_ROOT_ADDR", "127.0.0.1:" + std::to_string(port)},
                       {"STRATA_SECRET", std::string(64, 'a')}});
  }));
}

TEST(InitFromEnv, TorchrunVariables) {
  int port = freePort() + 1;
  EXPECT_TRUE(forkAll(4, [port](int r) {
    return runFromEnv({{"RANK", std::to_string(r)},
                       {"WORLD_SIZE", "4"},
                       {"LOCAL_RANK", std::to_string(r)},
                       {"MASTER_ADDR", "localhost"},
                       {"MASTER_PORT", std::to_string(port)}});
  }));
}

TEST(InitFromEnv, MissingVariablesAreNamed) {
  EXPECT_TRUE(forkAll(1, [](int) {
    for (const char* v : {"STRATA_RANK", "RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"})
      unsetenv(v);
    strataComm_t comm;
    if (strataCommInitFromEnv(&comm, nullptr) != strataInvalidArgument) return 1;
    return std::string(strataGetLastError(nullptr)).find("STRATA_RANK") == std::string::npos ? 2 : 0;
  }));
}

}  // namespace
