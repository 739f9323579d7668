// The UCX transport between real processes, through libstrata.so as an application links it: a
// rank killed mid-run makes the survivors fail with strataRemoteError long before the timeout,
// over UCX's TCP and over its default transports; "auto" takes UCX between hosts with RDMA
// devices and TCP without; a UCX that cannot start makes "auto" fall back to TCP and a forced
// "ucx" fail on every rank.
#include <gtest/gtest.h>

#include <signal.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "strata/strata.h"
#include "verify.h"

namespace {

struct SharedId {
  std::atomic<int> ready;
  strataUniqueId id;
};

// Forks n ranks. Child r calls setup(r) (its environment), initialises a communicator with
// `config` and exits with body(r, result of the init, comm or null). Returns the exit statuses;
// children that outlive `limitSec` are killed (and fail).
std::vector<int> forkRanks(int n, const strataConfig_t& config, const std::function<void(int)>& setup,
                           const std::function<int(int, strataResult_t, strataComm_t)>& body,
                           double limitSec) {
  void* mem = mmap(nullptr, sizeof(SharedId), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  auto* shared = new (mem) SharedId();
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      setup(r);
      if (r == 0) {
        if (strataGetUniqueId(&shared->id) != strataSuccess) _exit(90);
        shared->ready.store(1);
      }
      auto t0 = std::chrono::steady_clock::now();
      while (!shared->ready.load()) {
        if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(30)) _exit(91);
        usleep(1000);
      }
      strataComm_t comm = nullptr;
      strataResult_t init = strataCommInitRankConfig(&comm, n, shared->id, r, &config);
      int rc = body(r, init, init == strataSuccess ? comm : nullptr);
      if (init == strataSuccess) strataCommDestroy(comm);
      _exit(rc);
    }
    pids.push_back(pid);
  }
  std::vector<int> status(size_t(n), -1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limitSec);
  for (int left = n; left > 0;) {
    for (int r = 0; r < n; ++r) {
      int st;
      if (status[size_t(r)] == -1 && waitpid(pids[size_t(r)], &st, WNOHANG) == pids[size_t(r)]) {
        status[size_t(r)] = st;
        --left;
      }
    }
    if (std::chrono::steady_clock::now() > deadline)
      for (int r = 0; r < n; ++r)
        if (status[size_t(r)] == -1) kill(pids[size_t(r)], SIGKILL);
    usleep(2000);
  }
  munmap(mem, sizeof(SharedId));
  return status;
}

bool exitedWith(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

// An exactly checked all-reduce of `count` int64; 0 when right.
int checkedAllReduce(strataComm_t comm, int r, int n, size_t count, uint64_t seed) {
  std::vector<int64_t> x(count);
  strata::verify::fill(x.data(), count, strataInt64, strataSum, r, n, seed);
  if (strataAllReduce(x.data(), x.data(), count, strataInt64, strataSum, comm, nullptr) != strataSuccess) {
    fprintf(stderr, "rank %d: %s\n", r, strataGetLastError(comm));
    return 20;
  }
  return strata::verify::countWrong(x.data(), count, strataInt64, strataSum, n, seed) ? 21 : 0;
}

// Rank n-1 dies after a first all-reduce; the others keep calling all-reduce. Each survivor
// exits 42 when its first failure is strataRemoteError naming a rank, within 10 s of the death:
// the communicator's timeout (60 s) is far away, so only the transport's error can end the wait
// in time. UCX notices at once over TCP (the socket closes); its default choice here is TCP as
// well (its shared memory cannot report failures, so the peer error mode leaves it out).
void killedRankMakesSurvivorsFail(const char* tls) {
  const int n = 3;
  const double withinSec = 10;
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.timeoutSec = 60;
  c.transport = "ucx";
  auto setup = [tls](int) {
    if (*tls) setenv("UCX_TLS", tls, 1);
  };
  auto status = forkRanks(n, c, setup, [&](int r, strataResult_t init, strataComm_t comm) {
    if (init != strataSuccess) return 92;
    if (int rc = checkedAllReduce(comm, r, n, 100000, 1)) return rc;
    if (r == n - 1) raise(SIGKILL);
    std::vector<float> x(1 << 18, 1.0f);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i) {
      strataResult_t res = strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, comm, nullptr);
      if (res == strataSuccess) continue;
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const std::string why = strataGetLastError(comm);
      fprintf(stderr, "rank %d failed after %.2f s (expected): %s\n", r, s, why.c_str());
      if (s > withinSec) return 11;
      if (why.find("ucx") == std::string::npos || why.find("rank ") == std::string::npos) return 13;
      return res == strataRemoteError ? 42 : 12;
    }
    return 10;  // never noticed
  }, 2 * c.timeoutSec + 30);
  EXPECT_TRUE(WIFSIGNALED(status[size_t(n - 1)]));
  for (int r = 0; r < n - 1; ++r)
    EXPECT_TRUE(exitedWith(status[size_t(r)], 42)) << "rank " << r << " status " << status[size_t(r)];
}

TEST(UcxProcs, KilledRankIsRemoteErrorOverUcxTcp) { killedRankMakesSurvivorsFail("tcp"); }

TEST(UcxProcs, KilledRankIsRemoteErrorOverDefaultTransports) { killedRankMakesSurvivorsFail(""); }

// Two pretend hosts of two ranks: shared memory inside; between them UCX where every rank has
// an RDMA device (assumed here: this machine has none), Strata's TCP where not.
void autoRouteBetweenHosts(bool assumeRdma, const char* expected) {
  const int n = 4;
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.timeoutSec = 30;
  auto setup = [assumeRdma](int r) {
    setenv("STRATA_HOST_ID", r < 2 ? "hostA" : "hostB", 1);
    setenv("UCX_TLS", "tcp", 1);
    if (assumeRdma) setenv("STRATA_TEST_ASSUME_RDMA", "1", 1);
    else unsetenv("STRATA_TEST_ASSUME_RDMA");
  };
  auto status = forkRanks(n, c, setup, [&](int r, strataResult_t init, strataComm_t comm) {
    if (init != strataSuccess) return 92;
    if (int rc = checkedAllReduce(comm, r, n, 300001, 2)) return rc;
    const std::string last = strataCommLastAlgorithm(comm);
    if (last.size() < std::strlen(expected) ||
        last.compare(last.size() - std::strlen(expected), std::string::npos, expected) != 0) {
      fprintf(stderr, "rank %d ran '%s', expected '...%s'\n", r, last.c_str(), expected);
      return 13;
    }
    return 0;
  }, 120);
  for (int r = 0; r < n; ++r) EXPECT_TRUE(exitedWith(status[size_t(r)], 0)) << "rank " << r << " status " << status[size_t(r)];
}

TEST(UcxProcs, AutoTakesUcxBetweenHostsWithRdma) { autoRouteBetweenHosts(true, "/shm+ucx"); }

TEST(UcxProcs, AutoTakesTcpBetweenHostsWithoutRdma) {
  if (DIR* d = opendir("/sys/class/infiniband")) {
    bool any = false;
    while (const dirent* e = readdir(d)) any |= e->d_name[0] != '.';
    closedir(d);
    if (any) GTEST_SKIP() << "this machine has RDMA devices: auto takes UCX here";
  }
  autoRouteBetweenHosts(false, "/shm+tcp");
}

TEST(UcxProcs, UcxThatCannotStartFallsBackToTcpInAutoAndFailsWhenForced) {
  const int n = 2;
  auto setup = [](int r) {
    setenv("STRATA_HOST_ID", r == 0 ? "hostA" : "hostB", 1);
    setenv("UCX_TLS", "no-such-transport", 1);
    setenv("STRATA_TEST_ASSUME_RDMA", "1", 1);  // auto must try UCX to fall back from it
  };
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.timeoutSec = 30;
  auto fallback = forkRanks(n, c, setup, [&](int r, strataResult_t init, strataComm_t comm) {
    if (init != strataSuccess) return 92;
    if (int rc = checkedAllReduce(comm, r, n, 1001, 3)) return rc;
    return std::string(strataCommLastAlgorithm(comm)).find("/tcp") != std::string::npos ? 0 : 13;
  }, 120);
  for (int r = 0; r < n; ++r) EXPECT_TRUE(exitedWith(fallback[size_t(r)], 0)) << "rank " << r << " status " << fallback[size_t(r)];

  c.transport = "ucx";
  auto forced = forkRanks(n, c, setup, [&](int r, strataResult_t init, strataComm_t) {
    if (init == strataSuccess) return 30;
    const std::string why = strataGetLastError(nullptr);
    fprintf(stderr, "rank %d (expected): %s\n", r, why.c_str());
    return init == strataSystemError && why.find("UCX cannot start") != std::string::npos ? 0 : 31;
  }, 120);
  for (int r = 0; r < n; ++r) EXPECT_TRUE(exitedWith(forced[size_t(r)], 0)) << "rank " << r << " status " << forced[size_t(r)];
}

}  // namespace
