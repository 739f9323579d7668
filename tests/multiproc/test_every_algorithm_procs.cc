// Every registered algorithm of every collective, run for real between forked processes over
// shared memory for world sizes 1..17 (the shape-changing ones under a sanitizer), and over TCP
// and UCX for 2, 3, 5 and 8: each process creates a communicator per algorithm with the
// algorithm forced (and, for the hierarchical ones, ranks grouped into pretend hosts of k), runs
// its collective at counts 0, 1, odd and > 1 MiB, in place and out of place, at two roots, and
// checks every element exactly. The algorithm list comes from the registry, so a new algorithm
// is tested here the moment it is registered. Unsupported sizes (the forced selection refuses
// them with strataInvalidArgument "does not support") are skipped and counted.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "plan/registry.h"
#include "strata/strata.h"
#include "support/sanitizers.h"
#include "verify.h"

namespace {

using strata::AlgorithmInfo;
using strata::Collective;
using strata::PlanRequest;
using strata::RankLayout;

constexpr int kMaxComms = 512;
constexpr double kCommTimeoutSec = 30;  // a rank that waits longer fails instead of hanging

struct Shared {
  std::atomic<int> runs;
  std::atomic<int> skips;
  struct Slot {
    std::atomic<int> ready;
    strataUniqueId id;
  } slots[kMaxComms];
};

// Ranks per pretend host for a hierarchical algorithm: divisors k of n with 1 < k < n, at most
// the smallest and the largest (to bound the time).
std::vector<int> hostSizesFor(int n) {
  std::vector<int> ks;
  for (int k = 2; k < n; ++k)
    if (n % k == 0) ks.push_back(k);
  if (ks.size() > 2) ks = {ks.front(), ks.back()};
  return ks;
}

bool hierarchical(const AlgorithmInfo& a) { return std::string(a.name).rfind("hier", 0) == 0; }

// The value rank `rank` contributes at element i of a copy-only collective (exact by
// construction: nothing is computed on it).
uint32_t pattern(uint64_t seed, int rank, size_t i) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull ^ (uint64_t(rank) << 40) ^ i;
  x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
  return uint32_t(x ^ (x >> 29));
}

struct Case {
  Collective collective;
  size_t count;  // the user's count: recvcount / sendcount for reduce-scatter / all-gather
  strataRedOp_t op;
  bool inPlace;
  int root;
  uint64_t seed;
};

std::string describe(const AlgorithmInfo& a, int k, const Case& c, int n) {
  return fmt::format("{} {} n={} ranksPerHost={} count={} op={} {} root={}",
                     strata::collectiveName(a.collective), a.name, n, k, c.count,
                     strataOpName(c.op), c.inPlace ? "in-place" : "out-of-place", c.root);
}

constexpr int kOk = 0, kSkipped = 1;

// The expected results of the reducing cases, by seed: element i of the full buffer is
// table[i % kPeriod]. Computed once in the parent before it forks (each value costs n inputs),
// so that n ranks do not each recompute them.
std::map<uint64_t, std::vector<uint64_t>> expectedTables;

const std::vector<uint64_t>& expectedTable(const Case& c) { return expectedTables.at(c.seed); }

// Runs one case on rank r; kOk, kSkipped, or an exit code > 1 after printing what went wrong.
int runCase(strataComm_t comm, int r, int n, const Case& c, const std::string& what) {
  const strataDataType_t f32 = strataFloat32;
  const uint32_t garbage = 0xfff0dead;
  std::vector<uint32_t> send, recv;
  const void* sendbuff = nullptr;
  void* recvbuff = nullptr;
  strataResult_t res = strataSuccess;
  switch (c.collective) {
    case Collective::AllReduce:
      send.resize(c.count + 1);
      recv.assign(c.count + 1, garbage);
      strata::verify::fill(send.data(), c.count, f32, c.op, r, n, c.seed);
      sendbuff = send.data();
      recvbuff = c.inPlace ? send.data() : recv.data();
      res = strataAllReduce(sendbuff, recvbuff, c.count, f32, c.op, comm, nullptr);
      break;
    case Collective::ReduceScatter:
      send.resize(c.count * n + 1);
      recv.assign(c.count + 1, garbage);
      strata::verify::fill(send.data(), c.count * n, f32, c.op, r, n, c.seed);
      sendbuff = send.data();
      recvbuff = c.inPlace ? send.data() + c.count * r : recv.data();
      res = strataReduceScatter(sendbuff, recvbuff, c.count, f32, c.op, comm, nullptr);
      break;
    case Collective::AllGather:
      send.resize(c.count + 1);
      recv.assign(c.count * n + 1, garbage);
      for (size_t i = 0; i < c.count; ++i)
        (c.inPlace ? recv[c.count * r + i] : send[i]) = pattern(c.seed, r, i);
      sendbuff = c.inPlace ? recv.data() + c.count * r : send.data();
      recvbuff = recv.data();
      res = strataAllGather(sendbuff, recvbuff, c.count, strataUint32, comm, nullptr);
      break;
    case Collective::Broadcast:
      recv.assign(c.count + 1, garbage);
      if (r == c.root) {
        std::vector<uint32_t>& src = c.inPlace ? recv : send;
        src.resize(c.count + 1);
        for (size_t i = 0; i < c.count; ++i) src[i] = pattern(c.seed, r, i);
        sendbuff = src.data();
      }  // elsewhere sendbuff stays NULL: only the root's is read
      recvbuff = recv.data();
      res = strataBroadcast(sendbuff, recvbuff, c.count, strataUint32, c.root, comm, nullptr);
      break;
    case Collective::Reduce:
      send.resize(c.count + 1);
      strata::verify::fill(send.data(), c.count, f32, c.op, r, n, c.seed);
      sendbuff = send.data();
      if (r == c.root) {
        recv.assign(c.count + 1, garbage);
        recvbuff = c.inPlace ? send.data() : recv.data();
      }  // elsewhere recvbuff stays NULL: only the root's is written
      res = strataReduce(sendbuff, recvbuff, c.count, f32, c.op, c.root, comm, nullptr);
      break;
  }
  if (res == strataInvalidArgument &&
      std::string(strataGetLastError(comm)).find("does not support") != std::string::npos)
    return kSkipped;
  if (res != strataSuccess) {
    fprintf(stderr, "rank %d: %s: %s\n", r, what.c_str(), strataGetLastError(comm));
    return 10;
  }
  size_t wrong = 0, first = SIZE_MAX;
  auto mismatch = [&](size_t i) {
    if (wrong++ == 0) first = i;
  };
  const auto* out = static_cast<const uint32_t*>(recvbuff);
  // Elements [0, elems) of out against the full buffer's expected values from `offset` on.
  auto checkReduced = [&](size_t offset, size_t elems) {
    const std::vector<uint64_t>& want = expectedTable(c);
    for (size_t j = 0; j < elems; ++j)
      if (out[j] != want[(offset + j) % strata::verify::kPeriod]) mismatch(j);
  };
  switch (c.collective) {
    case Collective::AllReduce: checkReduced(0, c.count); break;
    case Collective::ReduceScatter: checkReduced(c.count * size_t(r), c.count); break;
    case Collective::AllGather:
      for (int q = 0; q < n; ++q)
        for (size_t i = 0; i < c.count; ++i)
          if (out[c.count * q + i] != pattern(c.seed, q, i)) mismatch(c.count * q + i);
      break;
    case Collective::Broadcast:
      for (size_t i = 0; i < c.count; ++i)
        if (out[i] != pattern(c.seed, c.root, i)) mismatch(i);
      break;
    case Collective::Reduce:
      if (r == c.root) checkReduced(0, c.count);
      break;
  }
  // The element past the result must be untouched (recv buffers are one longer).
  if (!recv.empty() && recv.back() != garbage) {
    fprintf(stderr, "rank %d: %s: wrote past the end of recvbuff\n", r, what.c_str());
    return 12;
  }
  if (wrong) {
    fprintf(stderr, "rank %d: %s: %zu wrong elements, the first at %zu\n", r, what.c_str(), wrong,
            first);
    return 11;
  }
  return kOk;
}

// The cases of one collective on n ranks.
std::vector<Case> casesFor(Collective coll, int n) {
  const bool perRank = coll == Collective::ReduceScatter || coll == Collective::AllGather;
  // > 1 MiB of float32 in the full buffer, and an odd count that cuts no power of two.
  const size_t large = perRank ? (size_t(1) << 18) / size_t(n) + 1 : (size_t(1) << 18) + 3;
  const size_t odd = perRank ? 777 : 12345;
  const bool rooted = coll == Collective::Broadcast || coll == Collective::Reduce;
  std::vector<int> roots = {0};
  if (rooted && n > 1) roots.push_back(n - 1);
  std::vector<Case> cases;
  uint64_t seed = 1000 * uint64_t(coll);
  for (int root : roots) {
    cases.push_back({coll, 0, strataSum, false, root, ++seed});
    cases.push_back({coll, 1, strataSum, false, root, ++seed});
    cases.push_back({coll, odd, strataAvg, false, root, ++seed});  // avg: finalized exactly once
    cases.push_back({coll, odd, strataSum, true, root, ++seed});
    if (root == 0) cases.push_back({coll, large, strataSum, false, root, ++seed});
  }
  return cases;
}

void computeExpectedTables(int n) {
  expectedTables.clear();
  for (Collective coll : {Collective::AllReduce, Collective::ReduceScatter, Collective::Reduce})
    for (const Case& c : casesFor(coll, n)) {
      const size_t full = coll == Collective::ReduceScatter ? c.count * size_t(n) : c.count;
      std::vector<uint64_t>& t = expectedTables[c.seed];
      t.resize(std::min(full, strata::verify::kPeriod));
      for (size_t i = 0; i < t.size(); ++i)
        t[i] = strata::verify::expected(strataFloat32, c.op, n, i, c.seed);
    }
}

// How the ranks reach each other in a run.
enum class Wires {
  Shm,         // one host, shared memory; hierarchical algorithms on pretend hosts
  Tcp,         // one host, every pair over TCP (STRATA_TRANSPORT=tcp); pretend hosts as above
  TwoPerHost,  // real hosts of two ranks each (STRATA_HOST_ID): shared memory inside, TCP between
  Ucx,         // one host, every pair over UCX (STRATA_TRANSPORT=ucx, UCX's default transports)
  TwoPerHostUcx  // hosts of two as above, UCX between them (shm+ucx) over UCX_TLS=tcp
};

bool twoPerHost(Wires w) { return w == Wires::TwoPerHost || w == Wires::TwoPerHostUcx; }

const char* transportOf(Wires w) {
  switch (w) {
    case Wires::Tcp: return "tcp";
    case Wires::TwoPerHost: return "shm+tcp";
    case Wires::Ucx: return "ucx";
    case Wires::TwoPerHostUcx: return "shm+ucx";
    case Wires::Shm: break;
  }
  return "auto";
}

// Host of rank r in a TwoPerHost run.
int hostOfRank(int r) { return r / 2; }

// One process's whole run: every algorithm, every host grouping, every case.
int rankBody(int r, int n, Shared* shared, Wires wires) {
  if (twoPerHost(wires)) setenv("STRATA_HOST_ID", fmt::format("host{}", hostOfRank(r)).c_str(), 1);
  if (wires == Wires::TwoPerHostUcx) setenv("UCX_TLS", "tcp", 1);  // the path between real hosts
  int commIndex = 0;
  for (const AlgorithmInfo* algo : strata::allAlgorithms()) {
    std::vector<int> hostSizes = {0};
    if (hierarchical(*algo) && !twoPerHost(wires)) hostSizes = hostSizesFor(n);
    if (twoPerHost(wires)) {
      std::vector<int> hosts;
      for (int q = 0; q < n; ++q) hosts.push_back(hostOfRank(q));
      PlanRequest req;
      req.collective = algo->collective;
      req.nranks = n;
      req.count = 1024;
      req.elemBytes = 4;
      req.layout = std::make_shared<RankLayout>(RankLayout::fromHostOfRank(hosts));
      if (!algo->supports(req)) continue;
    }
    for (int k : hostSizes) {
      if (commIndex >= kMaxComms) return 95;
      Shared::Slot& slot = shared->slots[commIndex++];
      if (r == 0) {
        if (strataGetUniqueId(&slot.id) != strataSuccess) return 90;
        slot.ready.store(1);
      }
      const auto t0 = std::chrono::steady_clock::now();
      while (!slot.ready.load()) {
        if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(60)) return 91;
        usleep(200);
      }
      strataConfig_t config = STRATA_CONFIG_INITIALIZER;
      config.timeoutSec = kCommTimeoutSec;
      config.algorithm = algo->name;
      config.ranksPerHost = k;
      config.transport = transportOf(wires);
      strataComm_t comm = nullptr;
      if (strataCommInitRankConfig(&comm, n, slot.id, r, &config) != strataSuccess) {
        fprintf(stderr, "rank %d init for %s (k=%d): %s\n", r, algo->name, k,
                strataGetLastError(nullptr));
        return 92;
      }
      for (const Case& c : casesFor(algo->collective, n)) {
        const std::string what = describe(*algo, k, c, n);
        const int rc = runCase(comm, r, n, c, what);
        if (rc > kSkipped) return rc;
        if (r == 0) (rc == kSkipped ? shared->skips : shared->runs).fetch_add(1);
        if (rc == kOk) {
          const std::string last = strataCommLastAlgorithm(comm);
          if (last.rfind(std::string(algo->name) + "/", 0) != 0) {
            fprintf(stderr, "rank %d: %s ran as '%s'\n", r, what.c_str(), last.c_str());
            return 13;
          }
          // The network transport must really carry the messages where the run says it does.
          const bool ucx = wires == Wires::Ucx || wires == Wires::TwoPerHostUcx;
          const bool network = wires == Wires::Tcp || wires == Wires::Ucx
                                   ? n > 1
                                   : twoPerHost(wires) && hostOfRank(n - 1) > 0;
          if (network != (last.find(ucx ? "ucx" : "tcp") != std::string::npos) ||
              last.find(ucx ? "tcp" : "ucx") != std::string::npos) {
            fprintf(stderr, "rank %d: %s ran over '%s'\n", r, what.c_str(), last.c_str());
            return 14;
          }
        }
      }
      if (strataCommDestroy(comm) != strataSuccess) return 93;
    }
  }
  return 0;
}

void runWorld(int n, Wires wires) {
  void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* shared = new (mem) Shared();
  const auto start = std::chrono::steady_clock::now();
  computeExpectedTables(n);
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) {
    const pid_t pid = fork();
    if (pid == 0) _exit(rankBody(r, n, shared, wires));
    pids.push_back(pid);
  }
  // Every wait inside has a 30 s deadline; this is the backstop for a rank that spins forever.
  const auto deadline = start + std::chrono::seconds(240);
  std::vector<int> status(size_t(n), -1);
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
  for (int r = 0; r < n; ++r)
    EXPECT_TRUE(WIFEXITED(status[size_t(r)]) && WEXITSTATUS(status[size_t(r)]) == 0)
        << "rank " << r << " status " << status[size_t(r)];
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("n=%d: %d collectives checked, %d skipped (unsupported size), %.1f s\n", n,
              shared->runs.load(), shared->skips.load(), sec);
  EXPECT_GT(shared->runs.load(), 0);
  munmap(mem, sizeof(Shared));
}

class EveryAlgorithmProcs : public ::testing::TestWithParam<int> {};
TEST_P(EveryAlgorithmProcs, ExactResults) { runWorld(GetParam(), Wires::Shm); }
// World sizes 1..17; under a sanitizer the shape-changing ones (support/sanitizers.h).
INSTANTIATE_TEST_SUITE_P(WorldSizes, EveryAlgorithmProcs, ::testing::ValuesIn(strata::testing::worldSizes(1, 17)),
                         [](const auto& info) { return "n" + std::to_string(info.param); });

// Over TCP and UCX: 2, 3, 5 and 8 ranks; under a sanitizer not 8, which takes 80 s there (5
// already gives every rank 4 remote peers).
const std::vector<int> kNetworkWorldSizes =
    strata::testing::kSanitized ? std::vector<int>{2, 3, 5} : std::vector<int>{2, 3, 5, 8};

// The same over TCP: every pair (one host), and real hosts of two ranks (shared memory inside a
// host, TCP between hosts, hierarchical schedules on the real hosts).
class EveryAlgorithmOverTcp : public ::testing::TestWithParam<int> {};
TEST_P(EveryAlgorithmOverTcp, EveryPair) { runWorld(GetParam(), Wires::Tcp); }
TEST_P(EveryAlgorithmOverTcp, TwoRanksPerHost) { runWorld(GetParam(), Wires::TwoPerHost); }
INSTANTIATE_TEST_SUITE_P(WorldSizes, EveryAlgorithmOverTcp, ::testing::ValuesIn(kNetworkWorldSizes),
                         [](const auto& info) { return "n" + std::to_string(info.param); });

#ifdef STRATA_HAVE_UCX
// The same over UCX: every pair (STRATA_TRANSPORT=ucx, whatever UCX picks on one host), and real
// hosts of two ranks (shm+ucx, UCX over TCP between the hosts).
class EveryAlgorithmOverUcx : public ::testing::TestWithParam<int> {};
TEST_P(EveryAlgorithmOverUcx, EveryPair) { runWorld(GetParam(), Wires::Ucx); }
TEST_P(EveryAlgorithmOverUcx, TwoRanksPerHost) { runWorld(GetParam(), Wires::TwoPerHostUcx); }
INSTANTIATE_TEST_SUITE_P(WorldSizes, EveryAlgorithmOverUcx, ::testing::ValuesIn(kNetworkWorldSizes),
                         [](const auto& info) { return "n" + std::to_string(info.param); });
#endif

}  // namespace
