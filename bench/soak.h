// strata-bench --soak SECONDS: random collectives for a while, every result checked exactly.
//
// Every rank draws the same sequence of calls from one seed (rank 0's, broadcast and printed, so
// that a failure can be replayed with --seed): the collective (all five), the count (0, 1, odd,
// powers of two and their neighbours, random up to --soak-max-bytes), the datatype (all twelve),
// the op (all five where the collective reduces), the root, and in place or not. Inputs come from
// verify.h, whose values reduce exactly in every type and order, so a result is right or wrong
// bit for bit. Each rank counts its calls and wrong elements and samples its resident memory at
// the start, after a warm-up and at the end; rank 0 prints every rank's numbers and the totals.
// Exit 0 when no element was wrong, 1 (kExitWrongValues) otherwise.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "strata/strata.h"
#include "verify.h"

namespace strata::soak {

struct SoakOptions {
  double seconds = 0;
  size_t maxBytes = 4u << 20;  // largest full buffer of one call
  uint64_t seed = 0;           // 0: rank 0 picks one from the clock
  double warmupSeconds = 0;    // 0: a tenth of the run, at most 10 s
};

// Resident memory of this process in bytes (/proc/self/statm), 0 where unreadable.
inline uint64_t residentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  const int got = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// One rank's totals, gathered to rank 0 (all uint64 so that one all-gather of uint64 moves them).
struct RankReport {
  uint64_t calls = 0;
  uint64_t wrong = 0;
  uint64_t bytesChecked = 0;
  uint64_t rssStart = 0;   // after the communicator exists and the buffers are touched
  uint64_t rssWarm = 0;    // after the warm-up: every path and buffer has been used
  uint64_t rssEnd = 0;
  uint64_t perCollective[5] = {};
};
constexpr size_t kReportWords = sizeof(RankReport) / sizeof(uint64_t);
static_assert(sizeof(RankReport) == kReportWords * sizeof(uint64_t));

enum class Kind : int { AllReduce, ReduceScatter, AllGather, Broadcast, Reduce };
constexpr const char* kKindNames[] = {"allreduce", "reducescatter", "allgather", "broadcast", "reduce"};

// One drawn call: the same on every rank.
struct Call {
  Kind kind;
  size_t count;  // the full buffer's elements (a multiple of nranks for reduce-scatter, all-gather)
  strataDataType_t type;
  strataRedOp_t op;
  int root;
  bool inPlace;
};

class Soak {
 public:
  Soak(const SoakOptions& options, strataComm_t comm, int rank, int nranks)
      : o_(options), comm_(comm), rank_(rank), nranks_(nranks) {}

  // Returns the exit code: 0 all right, 1 wrong elements, 2 a call failed.
  int run() {
    uint64_t seed = o_.seed;
    if (rank_ == 0 && seed == 0)
      seed = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) | 1;
    if (!ok(strataBroadcast(&seed, &seed, 1, strataUint64, 0, comm_, nullptr), "broadcast of the seed"))
      return 2;
    std::mt19937_64 rng(seed);
    const size_t bufferBytes = std::max<size_t>(o_.maxBytes, 64);
    send_.assign(bufferBytes, 0);
    recv_.assign(bufferBytes, 0);
    const double warmup = o_.warmupSeconds > 0 ? o_.warmupSeconds : std::min(10.0, o_.seconds / 10);
    if (rank_ == 0) {
      fmt::print("# strata-bench --soak {:g}: {} ranks, seed {}, calls up to {} bytes, warm-up {:g} s\n",
                 o_.seconds, nranks_, seed, o_.maxBytes, warmup);
      std::fflush(stdout);
    }
    RankReport me;
    me.rssStart = residentBytes();
    const auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    bool warm = false;
    for (uint64_t i = 0;; ++i) {
      // Every 16 calls the ranks agree whether time is up (rank 0's clock decides), and whether
      // the warm-up is over, so that every rank stops after the same call.
      if (i % 16 == 0) {
        uint8_t flags[2] = {uint8_t(elapsed() >= o_.seconds), uint8_t(elapsed() >= warmup)};
        if (!ok(strataBroadcast(flags, flags, 2, strataUint8, 0, comm_, nullptr), "broadcast of the clock"))
          return 2;
        if (flags[1] && !warm) {
          warm = true;
          me.rssWarm = residentBytes();
        }
        if (flags[0]) break;
      }
      const Call call = draw(rng);
      const uint64_t callSeed = seed ^ (i * 0x9e3779b97f4a7c15ull);
      uint64_t wrong = 0;
      if (!runCall(call, callSeed, &wrong)) return 2;
      if (wrong && me.wrong == 0)
        fmt::print(stderr, "strata-bench --soak: rank {}: call {} ({} of {} x {} {}, root {}, {}) has {} wrong elements\n",
                   rank_, i, kKindNames[int(call.kind)], call.count, strataTypeName(call.type),
                   strataOpName(call.op), call.root, call.inPlace ? "in place" : "out of place", wrong);
      me.wrong += wrong;
      me.bytesChecked += call.count * strataTypeSize(call.type);
      ++me.calls;
      ++me.perCollective[int(call.kind)];
    }
    if (!warm) me.rssWarm = me.rssStart;
    me.rssEnd = residentBytes();
    const double seconds = elapsed();

    std::vector<RankReport> all(static_cast<size_t>(nranks_));
    all[size_t(rank_)] = me;
    if (!ok(strataAllGather(&all[size_t(rank_)], all.data(), kReportWords, strataUint64, comm_, nullptr),
            "all-gather of the reports"))
      return 2;
    uint64_t totalWrong = 0;
    for (const RankReport& r : all) totalWrong += r.wrong;
    if (rank_ == 0) printReport(all, seconds, seed);
    return totalWrong == 0 ? 0 : 1;
  }

 private:
  bool ok(strataResult_t result, const std::string& what) {
    if (result == strataSuccess) return true;
    fmt::print(stderr, "strata-bench --soak: rank {}: {} failed: {}: {}\n", rank_, what,
               strataGetErrorString(result), strataGetLastError(comm_));
    return false;
  }

  Call draw(std::mt19937_64& rng) const {
    Call c;
    c.kind = Kind(rng() % 5);
    c.type = strataDataType_t(rng() % strataNumTypes);
    const bool reduces = c.kind == Kind::AllReduce || c.kind == Kind::ReduceScatter || c.kind == Kind::Reduce;
    c.op = reduces ? strataRedOp_t(rng() % strataNumOps) : strataSum;
    c.root = int(rng() % uint64_t(nranks_));
    c.inPlace = rng() % 4 == 0;
    const size_t elem = strataTypeSize(c.type);
    const size_t maxCount = o_.maxBytes / elem;
    size_t count;
    switch (rng() % 6) {
      case 0: count = rng() % 3; break;                                  // 0, 1, 2
      case 1: count = 2 * (rng() % 500) + 1; break;                      // small odd
      case 2: {                                                          // 2^k - 1, 2^k, 2^k + 1
        size_t p = size_t(1) << (rng() % 23);
        count = p - 1 + rng() % 3;
        break;
      }
      case 3: count = rng() % 65536; break;                              // up to a few chunks
      default: count = maxCount ? rng() % (maxCount + 1) : 0; break;   // anything that fits
    }
    count = std::min(count, maxCount);
    // Reduce-scatter and all-gather: the per-rank count times nranks (0 stays possible).
    if (c.kind == Kind::ReduceScatter || c.kind == Kind::AllGather)
      count = count / size_t(nranks_) * size_t(nranks_);
    c.count = count;
    return c;
  }

  // Runs one call on the rank's buffers and counts its wrong elements. False if the call failed.
  bool runCall(const Call& c, uint64_t seed, uint64_t* wrong) {
    namespace v = strata::verify;
    const size_t n = size_t(nranks_), elem = strataTypeSize(c.type), bytes = c.count * elem;
    const size_t block = c.count / n;  // per-rank elements of reduce-scatter and all-gather
    unsigned char* send = send_.data();
    unsigned char* recv = recv_.data();
    // Bytes no correct call writes keep this pattern: a write out of place shows up as wrong.
    std::memset(recv, 0xA5, std::min(recv_.size(), bytes + 64));
    strataResult_t result = strataSuccess;
    switch (c.kind) {
      case Kind::AllReduce:
        if (c.inPlace) {
          v::fill(recv, c.count, c.type, c.op, rank_, nranks_, seed);
          send = recv;
        } else {
          v::fill(send, c.count, c.type, c.op, rank_, nranks_, seed);
        }
        result = strataAllReduce(send, recv, c.count, c.type, c.op, comm_, nullptr);
        break;
      case Kind::ReduceScatter: {
        unsigned char* out = recv;
        if (c.inPlace) {  // recvbuff = sendbuff + rank * recvcount
          v::fill(recv, c.count, c.type, c.op, rank_, nranks_, seed);
          send = recv;
          out = recv + block * elem * size_t(rank_);
        } else {
          v::fill(send, c.count, c.type, c.op, rank_, nranks_, seed);
        }
        result = strataReduceScatter(send, out, block, c.type, c.op, comm_, nullptr);
        recv = out;
        break;
      }
      case Kind::AllGather: {
        // Rank q's block holds input(q) at indices [0, block).
        unsigned char* in = send;
        if (c.inPlace) in = recv + block * elem * size_t(rank_);  // sendbuff = recvbuff + rank * sendcount
        v::fill(in, block, c.type, strataSum, rank_, nranks_, seed);
        result = strataAllGather(in, recv, block, c.type, comm_, nullptr);
        break;
      }
      case Kind::Broadcast:
        if (rank_ == c.root) {
          unsigned char* in = c.inPlace ? recv : send;
          v::fill(in, c.count, c.type, strataSum, rank_, nranks_, seed);
          send = in;
        }
        result = strataBroadcast(send, recv, c.count, c.type, c.root, comm_, nullptr);
        break;
      case Kind::Reduce:
        if (c.inPlace) {
          v::fill(recv, c.count, c.type, c.op, rank_, nranks_, seed);
          send = recv;
        } else {
          v::fill(send, c.count, c.type, c.op, rank_, nranks_, seed);
        }
        result = strataReduce(send, recv, c.count, c.type, c.op, c.root, comm_, nullptr);
        break;
    }
    if (!ok(result, fmt::format("{} of {} x {} {}", kKindNames[int(c.kind)], c.count,
                                strataTypeName(c.type), strataOpName(c.op))))
      return false;

    uint64_t w = 0;
    switch (c.kind) {
      case Kind::AllReduce:
        w = v::countWrong(recv, c.count, c.type, c.op, nranks_, seed);
        break;
      case Kind::Reduce:
        if (rank_ == c.root) w = v::countWrong(recv, c.count, c.type, c.op, nranks_, seed);
        break;
      case Kind::ReduceScatter: {
        // Values repeat with verify's period: compute one period, compare against it.
        const size_t first = block * size_t(rank_);
        const auto table = v::detail::periodTable(block, [&](size_t j) {
          return v::expected(c.type, c.op, nranks_, first + j, seed);
        });
        for (size_t j = 0; j < block; ++j) w += v::load(recv, c.type, j) != table[j % v::kPeriod];
        break;
      }
      case Kind::AllGather:
        for (size_t q = 0; q < n; ++q) {
          const auto table = v::detail::periodTable(
              block, [&](size_t i) { return v::input(c.type, strataSum, int(q), nranks_, i, seed); });
          for (size_t i = 0; i < block; ++i) w += v::load(recv, c.type, q * block + i) != table[i % v::kPeriod];
        }
        break;
      case Kind::Broadcast: {
        const auto table = v::detail::periodTable(
            c.count, [&](size_t i) { return v::input(c.type, strataSum, c.root, nranks_, i, seed); });
        for (size_t i = 0; i < c.count; ++i) w += v::load(recv, c.type, i) != table[i % v::kPeriod];
        break;
      }
    }
    // Past the result nothing may be written (out of place, where the pattern was laid).
    if (!c.inPlace && c.kind != Kind::ReduceScatter) {
      const size_t end = std::min(recv_.size(), bytes + 64);
      const bool resultHere = c.kind != Kind::Reduce || rank_ == c.root;
      for (size_t b = resultHere ? bytes : 0; b < end; ++b) w += recv_[b] != 0xA5;
    }
    *wrong = w;
    return true;
  }

  void printReport(const std::vector<RankReport>& all, double seconds, uint64_t seed) const {
    auto mib = [](uint64_t b) { return double(b) / (1 << 20); };
    fmt::print("# {:>4} {:>10} {:>8} {:>12} {:>10} {:>10} {:>10} {:>10}\n", "rank", "calls", "wrong",
               "checked MiB", "RSS start", "RSS warm", "RSS end", "end-warm");
    RankReport total;
    for (size_t r = 0; r < all.size(); ++r) {
      const RankReport& x = all[r];
      fmt::print("  {:>4} {:>10} {:>8} {:>12.1f} {:>9.1f}M {:>9.1f}M {:>9.1f}M {:>+9.2f}M\n", r, x.calls,
                 x.wrong, mib(x.bytesChecked), mib(x.rssStart), mib(x.rssWarm), mib(x.rssEnd),
                 mib(x.rssEnd) - mib(x.rssWarm));
      total.calls += x.calls;
      total.wrong += x.wrong;
      total.bytesChecked += x.bytesChecked;
    }
    const RankReport& r0 = all[0];
    fmt::print("# calls per rank by collective: allreduce {}, reducescatter {}, allgather {}, broadcast {}, reduce {}\n",
               r0.perCollective[0], r0.perCollective[1], r0.perCollective[2], r0.perCollective[3],
               r0.perCollective[4]);
    fmt::print("# soak: {} calls per rank in {:.1f} s ({:.0f} calls/s), {} wrong elements over all ranks, "
               "{:.1f} MiB checked; seed {}: {}\n",
               r0.calls, seconds, double(r0.calls) / seconds, total.wrong, mib(total.bytesChecked), seed,
               total.wrong == 0 ? "OK" : "FAILED");
    std::fflush(stdout);
  }

  SoakOptions o_;
  strataComm_t comm_;
  int rank_;
  int nranks_;
  std::vector<unsigned char> send_, recv_;
};

}  // namespace strata::soak
