// strata-bench: all-reduce bandwidth benchmark with nccl-tests' flags, table and units; the other
// collectives with --collective (busbw with nccl-tests' factor of each).
//
// Timing follows shared/peers/mpi_allreduce_bench.c so that the numbers compare with the peers:
// per size, warm-up iterations that also pick the timed iteration count (so that one timed loop
// takes about --target-seconds), a barrier, the timed loop; each rank's average time per op; the
// reported time is the maximum over ranks. algbw = bytes / time, busbw = algbw * 2(n-1)/n, in
// GB/s = 1e9 B/s. Results are checked exactly (bench/verify.h) outside the timed loops.
//
// Ranks come from a launcher (one process per rank, strataCommInitFromEnv: mpirun, mpiexec,
// srun or torchrun-style variables; README "Launching") or, with --ranks N, from N processes
// forked here.
//
// Each row also shows the cost model's prediction for the algorithm that ran (its
// estimateSeconds with CostModel::defaultHost(): the calibration profile when there is one).
// --calibrate measures this machine for that model (docs/cost-model.md): a 2-rank ring
// all-reduce over sizes 8 B..64 MiB and the reduction kernel, fits alpha and bandwidth of the
// shared-memory transport and writes the profile.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cctype>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/error.h"
#include "plan/cost_model.h"
#include "plan/registry.h"
#include "topology/local_host.h"
#include "reduce/reduce.h"
#include "strata/strata.h"
#include "soak.h"
#include "verify.h"

namespace {

// Exit codes: wrong values are reported by every rank alike (the count is all-reduced), errors
// by the rank that saw them.
constexpr int kExitOk = 0;
constexpr int kExitWrongValues = 1;
constexpr int kExitError = 2;

constexpr size_t kBufferAlignment = 4096;
constexpr size_t kOneMiB = size_t{1} << 20;
// Iteration bounds of the adaptive mode, as in the peer benchmark.
constexpr int kMinAdaptiveIters = 5;
constexpr int kMaxAdaptiveIters = 10000;
constexpr double kDefaultTimeoutSec = 300.0;  // the library's default when --timeout is not given

// ---- Names -----------------------------------------------------------------------------------

struct NamedType {
  const char* name;  // as printed; the first entry per type
  strataDataType_t type;
};
constexpr NamedType kTypeNames[] = {
    {"int8", strataInt8},         {"uint8", strataUint8},         {"int32", strataInt32},
    {"uint32", strataUint32},     {"int64", strataInt64},         {"uint64", strataUint64},
    {"half", strataFloat16},      {"float16", strataFloat16},     {"bfloat16", strataBfloat16},
    {"float", strataFloat32},     {"float32", strataFloat32},     {"double", strataFloat64},
    {"float64", strataFloat64},   {"fp8e4m3", strataFloat8e4m3},  {"fp8e5m2", strataFloat8e5m2},
};
// "all" in nccl-tests' order: integers, then floats from narrow to wide.
constexpr strataDataType_t kAllTypes[] = {
    strataInt8,    strataUint8,    strataInt32,   strataUint32,  strataInt64,      strataUint64,
    strataFloat16, strataFloat32,  strataFloat64, strataBfloat16, strataFloat8e4m3, strataFloat8e5m2};

struct NamedOp {
  const char* name;
  strataRedOp_t op;
};
constexpr NamedOp kOpNames[] = {
    {"sum", strataSum}, {"prod", strataProd}, {"max", strataMax}, {"min", strataMin}, {"avg", strataAvg}};

const char* typeName(strataDataType_t type) {
  for (const NamedType& t : kTypeNames)
    if (t.type == type) return t.name;
  return "?";
}

const char* opName(strataRedOp_t op) {
  for (const NamedOp& o : kOpNames)
    if (o.op == op) return o.name;
  return "?";
}

// Splits "a,b" and resolves each name (or "all"); throws CLI::ValidationError on an unknown one.
std::vector<strataDataType_t> parseTypes(const std::string& text) {
  std::vector<strataDataType_t> types;
  for (const std::string& name : CLI::detail::split(text, ',')) {
    if (name == "all") {
      types.assign(std::begin(kAllTypes), std::end(kAllTypes));
      continue;
    }
    auto it = std::find_if(std::begin(kTypeNames), std::end(kTypeNames),
                           [&](const NamedType& t) { return name == t.name; });
    if (it == std::end(kTypeNames)) throw CLI::ValidationError("--datatype", "unknown datatype '" + name + "'");
    types.push_back(it->type);
  }
  return types;
}

std::vector<strataRedOp_t> parseOps(const std::string& text) {
  std::vector<strataRedOp_t> ops;
  for (const std::string& name : CLI::detail::split(text, ',')) {
    if (name == "all") {
      ops.clear();
      for (const NamedOp& o : kOpNames) ops.push_back(o.op);
      continue;
    }
    auto it = std::find_if(std::begin(kOpNames), std::end(kOpNames),
                           [&](const NamedOp& o) { return name == o.name; });
    if (it == std::end(kOpNames)) throw CLI::ValidationError("--op", "unknown op '" + name + "'");
    ops.push_back(it->op);
  }
  return ops;
}

// "8", "1K", "64M", "1G", "2KB" (K/M/G/T = powers of 1024, case-insensitive).
std::optional<size_t> parseSize(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 19) return std::nullopt;
  uint64_t value = std::stoull(text.substr(0, digits));
  std::string suffix = text.substr(digits);
  if (!suffix.empty() && (suffix.back() == 'B' || suffix.back() == 'b')) suffix.pop_back();
  int shift = 0;
  if (suffix.size() > 1) return std::nullopt;
  if (suffix.size() == 1) {
    switch (std::tolower(static_cast<unsigned char>(suffix[0]))) {
      case 'k': shift = 10; break;
      case 'm': shift = 20; break;
      case 'g': shift = 30; break;
      case 't': shift = 40; break;
      default: return std::nullopt;
    }
  }
  if (shift > 0 && value > (UINT64_MAX >> shift)) return std::nullopt;
  return static_cast<size_t>(value << shift);
}

// ---- Options ---------------------------------------------------------------------------------

struct Options {
  size_t minBytes = 8;
  size_t maxBytes = 32 * kOneMiB;
  int stepFactor = 2;
  size_t stepBytes = 0;           // > 0: sizes grow by this many bytes instead of stepFactor
  int iters = 0;                  // 0: adaptive, from the warm-up time and targetSeconds
  int warmupIters = -1;           // -1: 20 up to 1 MiB, 3 above (as the peer)
  double targetSeconds = 0.5;
  std::vector<strataDataType_t> types{strataFloat32};
  std::vector<strataRedOp_t> ops{strataSum};
  int check = 1;
  int ranks = 0;                  // 0: one rank per process under a launcher
  std::string algorithm;          // "": the library chooses
  std::string collective = "allreduce";  // allreduce, reducescatter, allgather, broadcast, reduce
  double timeoutSec = -1;         // < 0: the library's default
  long long chunkBytes = -1;
  int fifoDepth = -1;
  uint64_t seed = 1;
  std::string jsonPath;
  std::string commandLine;
  bool calibrate = false;
  double soakSeconds = 0;         // > 0: --soak, random checked collectives for this long
  size_t soakMaxBytes = 4u << 20;
  bool seedGiven = false;
  std::string calibrateOut;       // "": STRATA_COST_PROFILE, else the cache path
};

// The communicator configuration the flags ask for; strings point into opts.
strataConfig_t makeConfig(const Options& opts) {
  strataConfig_t config = STRATA_CONFIG_INITIALIZER;
  config.timeoutSec = opts.timeoutSec;
  config.chunkBytes = opts.chunkBytes;
  config.fifoDepth = opts.fifoDepth;
  if (!opts.algorithm.empty()) config.algorithm = opts.algorithm.c_str();
  return config;
}

double waitDeadlineSec(const Options& opts) {
  return opts.timeoutSec > 0 ? opts.timeoutSec : kDefaultTimeoutSec;
}

// ---- Results ---------------------------------------------------------------------------------

struct RunStats {
  double usec = 0;     // max over ranks of the per-rank average time per op
  double algbw = 0;    // GB/s
  double busbw = 0;    // GB/s
  int64_t wrong = -1;  // wrong elements summed over ranks; -1 when not checked
  int iters = 0;
};

struct Row {
  size_t bytes;
  size_t count;
  strataDataType_t type;
  strataRedOp_t op;
  RunStats outOfPlace;
  RunStats inPlace;
  std::string algorithm;  // of the out-of-place run
  double predictedUsec = NAN;  // the cost model's estimate for that algorithm; NaN: none
};

// nccl-tests' time column: fewer decimals as the number grows, always 7 wide.
std::string formatTime(double usec) {
  if (usec >= 10000.0) return fmt::format("{:7.0f}", usec);
  if (usec >= 100.0) return fmt::format("{:7.1f}", usec);
  return fmt::format("{:7.2f}", usec);
}

std::string formatPrediction(double usec) {
  return std::isfinite(usec) ? formatTime(usec) : fmt::format("{:>7}", "N/A");
}

std::string formatRun(const RunStats& s) {
  std::string wrong = s.wrong < 0 ? "N/A" : fmt::format("{}", s.wrong);
  return fmt::format("  {}  {:6.2f}  {:6.2f}  {:>5}", formatTime(s.usec), s.algbw, s.busbw, wrong);
}

nlohmann::json runJson(const RunStats& s) {
  nlohmann::json j = {{"time_us", s.usec}, {"algbw_GBps", s.algbw}, {"busbw_GBps", s.busbw},
                      {"iters", s.iters}};
  j["wrong"] = s.wrong < 0 ? nlohmann::json(nullptr) : nlohmann::json(s.wrong);
  return j;
}

std::string hostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

std::string utcDate() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// ---- Buffers ---------------------------------------------------------------------------------

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<unsigned char, FreeDeleter>;

AlignedBuffer allocateBuffer(size_t bytes) {
  void* p = nullptr;
  if (posix_memalign(&p, kBufferAlignment, std::max(bytes, kBufferAlignment)) != 0) return nullptr;
  return AlignedBuffer(static_cast<unsigned char*>(p));
}

// ---- One rank's benchmark --------------------------------------------------------------------

class Bench {
 public:
  Bench(const Options& opts, strataComm_t comm, int rank, int nranks)
      : opts_(opts), comm_(comm), rank_(rank), nranks_(nranks) {
    // The model the library plans with, and the chunk size it plans for. Without them the
    // table still runs; the prediction column says N/A and the header why.
    try {
      model_ = std::make_shared<strata::CostModel>(strata::CostModel::defaultHost());
      const strataConfig_t user = makeConfig(opts_);
      const strata::Config config = strata::resolveConfig(&user);
      messageBytes_ = static_cast<size_t>(config.chunkBytes);
      oneShotMaxBytes_ = static_cast<size_t>(config.oneShotMaxBytes);
    } catch (const std::exception& e) {
      model_.reset();
      modelError_ = e.what();
    }
  }

  const std::vector<Row>& rows() const { return rows_; }

  int run() {
    sendBuffer_ = allocateBuffer(opts_.maxBytes);
    recvBuffer_ = allocateBuffer(opts_.maxBytes);
    if (!sendBuffer_ || !recvBuffer_) {
      fmt::print(stderr, "strata-bench: rank {}: cannot allocate two buffers of {} bytes\n", rank_, opts_.maxBytes);
      return kExitError;
    }
    // Touch every page now so that page faults are not timed.
    std::memset(sendBuffer_.get(), 0, opts_.maxBytes);
    std::memset(recvBuffer_.get(), 0, opts_.maxBytes);

    if (rank_ == 0) printHeader();
    for (strataDataType_t type : opts_.types) {
      for (strataRedOp_t op : opts_.ops) {
        const size_t typeBytes = strata::verify::elementSize(type);
        // The send buffer keeps this (type, op)'s input for the largest count; a size uses a prefix.
        strata::verify::fill(sendBuffer_.get(), opts_.maxBytes / typeBytes, type, op, rank_, nranks_, opts_.seed);
        for (size_t bytes = opts_.minBytes; bytes <= opts_.maxBytes; bytes = nextSize(bytes)) {
          // The full buffer's elements; reduce-scatter and all-gather need a multiple of nranks.
          const size_t count = perRank() ? bytes / typeBytes / size_t(nranks_) * size_t(nranks_)
                                         : bytes / typeBytes;
          if (count == 0) continue;
          Row row = measure(count, type, op);
          if (rank_ == 0) printRow(row);
          rows_.push_back(std::move(row));
        }
      }
    }

    int64_t wrongTotal = 0;
    double busbwSum = 0;
    for (const Row& row : rows_) {
      wrongTotal += std::max<int64_t>(row.outOfPlace.wrong, 0) + std::max<int64_t>(row.inPlace.wrong, 0);
      busbwSum += row.outOfPlace.busbw + row.inPlace.busbw;
    }
    const double avgBusbw = rows_.empty() ? 0.0 : busbwSum / (2.0 * static_cast<double>(rows_.size()));
    if (rank_ == 0) {
      fmt::print("# Out of bounds values : {} {}\n", wrongTotal, wrongTotal == 0 ? "OK" : "FAILED");
      fmt::print("# Avg bus bandwidth    : {:g}\n", avgBusbw);
      std::fflush(stdout);
      if (!opts_.jsonPath.empty() && !writeJson(wrongTotal, avgBusbw)) return kExitError;
    }
    return wrongTotal == 0 ? kExitOk : kExitWrongValues;
  }

 private:
  size_t nextSize(size_t bytes) const {
    if (opts_.stepBytes > 0) return bytes + opts_.stepBytes;
    if (bytes > opts_.maxBytes / static_cast<size_t>(opts_.stepFactor)) return opts_.maxBytes + 1;  // no overflow
    return bytes * static_cast<size_t>(opts_.stepFactor);
  }

  // On failure: the call, the code's name and the library's text, then the exit. Other ranks
  // notice through their own deadlines (or the --ranks parent kills them).
  void check(strataResult_t result, const std::string& what) {
    if (result == strataSuccess) return;
    fmt::print(stderr, "strata-bench: rank {}: {} failed: {}: {}\n", rank_, what,
               strataGetErrorString(result), strataGetLastError(comm_));
    std::fflush(stderr);
    std::fflush(stdout);
    _exit(kExitError);
  }

  strata::Collective collective() const {
    for (int c = 0; c < 5; ++c)
      if (opts_.collective == strata::collectiveName(strata::Collective(c))) return strata::Collective(c);
    return strata::Collective::AllReduce;
  }
  bool perRank() const {
    return collective() == strata::Collective::ReduceScatter || collective() == strata::Collective::AllGather;
  }
  int root() const { return 0; }
  // nccl-tests' bus bandwidth factors: what each rank's links carry, relative to the data.
  double busFactor() const {
    const double n = nranks_;
    switch (collective()) {
      case strata::Collective::AllReduce: return 2.0 * (n - 1) / n;
      case strata::Collective::ReduceScatter:
      case strata::Collective::AllGather: return (n - 1) / n;
      default: return 1.0;
    }
  }

  // The collective under test on the full buffer's `count` elements (the user's count is count /
  // nranks for reduce-scatter and all-gather). In place: send and recv as the caller passes them.
  void runCollective(const void* send, void* recv, size_t count, strataDataType_t type,
                     strataRedOp_t op, const char* phase) {
    if (collective() == strata::Collective::AllReduce) return allReduce(send, recv, count, type, op, phase);
    const size_t n = size_t(nranks_);
    strataResult_t result = strataSuccess;
    switch (collective()) {
      case strata::Collective::ReduceScatter:
        result = strataReduceScatter(send, recv, count / n, type, op, comm_, nullptr);
        break;
      case strata::Collective::AllGather:
        result = strataAllGather(send, recv, count / n, type, comm_, nullptr);
        break;
      case strata::Collective::Broadcast:
        result = strataBroadcast(send, recv, count, type, root(), comm_, nullptr);
        break;
      default:
        result = strataReduce(send, recv, count, type, op, root(), comm_, nullptr);
        break;
    }
    if (result != strataSuccess)
      check(result, fmt::format("{} ({}, {} x {} {})", opts_.collective, phase, count, typeName(type), opName(op)));
  }

  // Where the in-place call puts its buffers (NCCL's layouts): all in `buf`, which holds the
  // full buffer's layout of this rank's input.
  std::pair<const void*, void*> inPlaceBuffers(unsigned char* buf, size_t count, strataDataType_t type) const {
    const size_t block = count / size_t(nranks_) * strata::verify::elementSize(type) * size_t(rank_);
    if (collective() == strata::Collective::ReduceScatter) return {buf, buf + block};
    if (collective() == strata::Collective::AllGather) return {buf + block, buf};
    return {buf, buf};
  }

  // Wrong elements of this rank's result (the last call's): exact, as verify.h's all-reduce
  // check. The input is verify::fill of each rank at indices [0, count).
  uint64_t countWrong(const unsigned char* recv, size_t count, strataDataType_t type, strataRedOp_t op) const {
    namespace v = strata::verify;
    const size_t n = size_t(nranks_), block = count / n;
    uint64_t wrong = 0;
    switch (collective()) {
      case strata::Collective::AllReduce:
        return v::countWrong(recv, count, type, op, nranks_, opts_.seed);
      case strata::Collective::Reduce:
        return rank_ == root() ? v::countWrong(recv, count, type, op, nranks_, opts_.seed) : 0;
      case strata::Collective::ReduceScatter:
        for (size_t j = 0; j < block; ++j)
          wrong += v::load(recv, type, j) != v::expected(type, op, nranks_, block * size_t(rank_) + j, opts_.seed);
        return wrong;
      case strata::Collective::AllGather:
        for (size_t q = 0; q < n; ++q)
          for (size_t i = 0; i < block; ++i)
            wrong += v::load(recv, type, q * block + i) != v::input(type, op, int(q), nranks_, i, opts_.seed);
        return wrong;
      case strata::Collective::Broadcast:
        for (size_t i = 0; i < count; ++i)
          wrong += v::load(recv, type, i) != v::input(type, op, root(), nranks_, i, opts_.seed);
        return wrong;
    }
    return wrong;
  }

  void allReduce(const void* send, void* recv, size_t count, strataDataType_t type, strataRedOp_t op,
                 const char* phase) {
    strataResult_t result = strataAllReduce(send, recv, count, type, op, comm_, nullptr);
    if (result != strataSuccess)
      check(result, fmt::format("strataAllReduce ({}, {} x {} {})", phase, count, typeName(type), opName(op)));
  }

  // A barrier: no rank leaves an all-reduce before every rank has entered it.
  void barrier() {
    uint64_t token = 0, sum = 0;
    allReduce(&token, &sum, 1, strataUint64, strataSum, "barrier");
  }

  double maxOverRanks(double value) {
    double result = 0;
    allReduce(&value, &result, 1, strataFloat64, strataMax, "max over ranks");
    return result;
  }

  uint64_t sumOverRanks(uint64_t value) {
    uint64_t result = 0;
    allReduce(&value, &result, 1, strataUint64, strataSum, "sum over ranks");
    return result;
  }

  static double seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }

  // Warm-up, iteration choice, barrier, timed loop; returns time/bandwidth (not the check).
  // algorithm receives the library's choice for the timed calls, read before the bookkeeping
  // all-reduces replace it.
  RunStats timeRun(const void* send, void* recv, size_t count, strataDataType_t type, strataRedOp_t op,
                   const char* phase, std::string* algorithm) {
    const size_t bytes = count * strata::verify::elementSize(type);
    const bool adaptive = opts_.iters <= 0;
    int warmup = opts_.warmupIters >= 0 ? opts_.warmupIters : (bytes <= kOneMiB ? 20 : 3);
    if (adaptive) warmup = std::max(warmup, 1);  // the iteration count needs one measured call

    barrier();
    double start = seconds();
    for (int i = 0; i < warmup; ++i) runCollective(send, recv, count, type, op, phase);
    const double warmupAverage = warmup > 0 ? (seconds() - start) / warmup : 0.0;

    RunStats stats;
    if (adaptive) {
      // Every rank derives the same count from the slowest rank's warm-up (the peer broadcasts
      // rank 0's choice; the maximum is as good and needs no broadcast).
      const double perOp = maxOverRanks(warmupAverage);
      const double wanted = opts_.targetSeconds / (perOp > 0 ? perOp : 1e-9);
      stats.iters = wanted < kMinAdaptiveIters ? kMinAdaptiveIters
                    : wanted > kMaxAdaptiveIters ? kMaxAdaptiveIters
                                                 : static_cast<int>(wanted);
    } else {
      stats.iters = opts_.iters;
    }

    barrier();
    start = seconds();
    for (int i = 0; i < stats.iters; ++i) runCollective(send, recv, count, type, op, phase);
    const double perOp = (seconds() - start) / stats.iters;
    if (algorithm) {
      const char* name = strataCommLastAlgorithm(comm_);
      *algorithm = name ? name : "?";
    }

    const double slowest = maxOverRanks(perOp);
    stats.usec = slowest * 1e6;
    stats.algbw = slowest > 0 ? static_cast<double>(bytes) / slowest / 1e9 : 0.0;
    stats.busbw = nranks_ > 0 ? stats.algbw * busFactor() : 0.0;
    return stats;
  }

  Row measure(size_t count, strataDataType_t type, strataRedOp_t op) {
    const size_t bytes = count * strata::verify::elementSize(type);
    unsigned char* send = sendBuffer_.get();
    unsigned char* recv = recvBuffer_.get();
    Row row{bytes, count, type, op, {}, {}, {}, NAN};

    // Out of place. Poison the output first so that a stale correct result from an earlier
    // size cannot pass the check.
    std::memset(recv, 0xA5, bytes);
    row.outOfPlace = timeRun(send, recv, count, type, op, "out-of-place", &row.algorithm);
    row.predictedUsec = predictUsec(row);
    if (opts_.check) {
      // The result of the last timed iteration.
      uint64_t wrong = countWrong(recv, count, type, op);
      row.outOfPlace.wrong = static_cast<int64_t>(sumOverRanks(wrong));
    }

    // In place: each call overwrites its input, so the timed loop reduces ever-changing values
    // and only a dedicated run from a fresh copy of the input is checked.
    const auto [inSend, inRecv] = inPlaceBuffers(recv, count, type);
    auto freshInput = [&] {
      // All-gather's own block sits at its place in the output; the others' input is the whole.
      if (collective() == strata::Collective::AllGather)
        std::memcpy(const_cast<void*>(inSend), send, bytes / size_t(nranks_));
      else
        std::memcpy(recv, send, bytes);
    };
    freshInput();
    row.inPlace = timeRun(inSend, inRecv, count, type, op, "in-place", nullptr);
    if (opts_.check) {
      freshInput();
      runCollective(inSend, inRecv, count, type, op, "in-place check");
      uint64_t wrong = countWrong(static_cast<unsigned char*>(inRecv), count, type, op);
      row.inPlace.wrong = static_cast<int64_t>(sumOverRanks(wrong));
    }
    return row;
  }

  // The estimate of the algorithm that ran ("ring/shm" names "ring"), for this rank on one
  // host: the bench does not know where the ranks of a launcher run. An algorithm that needs
  // several hosts (hier-*) has no estimate here (N/A): its cost function reads the host layout.
  double predictUsec(const Row& row) const {
    if (!model_) return NAN;
    const std::string name = row.algorithm.substr(0, row.algorithm.find('/'));
    for (const strata::AlgorithmInfo* algo : strata::algorithmsFor(collective())) {
      if (name != algo->name) continue;
      strata::PlanRequest req;
      req.collective = collective();
      req.root = root();
      req.rank = rank_;
      req.nranks = nranks_;
      req.count = row.count;
      req.type = row.type;
      req.op = row.op;
      req.elemBytes = strata::verify::elementSize(row.type);
      // The chunk the communicator chose: automatic is larger where sockets join the hosts
      // ("rd/tcp", "ring/shm+tcp", UCX on a host without RDMA), and over TCP or UCX sends of the
      // user's buffers cost no copy.
      const std::string transport = row.algorithm.substr(row.algorithm.find('/') + 1);
      const bool tcp = transport.find("tcp") != std::string::npos;
      const bool ucx = transport.find("ucx") != std::string::npos;
      req.messageBytes = messageBytes_ ? messageBytes_
                                       : strata::automaticChunkBytes(
                                             tcp || (ucx && strata::localHostInfo().rdmaDevices == 0));
      req.networkSendsFromBuffers = tcp || ucx;
      req.oneShotMaxBytes = oneShotMaxBytes_;
      req.cost = std::make_shared<strata::CostModel>(model_->forWorkingSet(row.bytes));
      // The bench does not know the hosts: an algorithm that needs them (hierarchical) is not
      // estimated rather than estimated without a layout.
      if (!algo->supports(req)) return NAN;
      return algo->estimateSeconds(req) * 1e6;
    }
    return NAN;
  }

  void printHeader() const {
    std::string types, ops;
    for (strataDataType_t t : opts_.types) types += (types.empty() ? "" : ",") + std::string(typeName(t));
    for (strataRedOp_t o : opts_.ops) ops += (ops.empty() ? "" : ",") + std::string(opName(o));
    std::string iters = opts_.iters > 0 ? fmt::format("{}", opts_.iters)
                                        : fmt::format("auto (target {:g} s)", opts_.targetSeconds);
    std::string warmup = opts_.warmupIters >= 0 ? fmt::format("{}", opts_.warmupIters) : "auto";
    std::string step = opts_.stepBytes > 0 ? fmt::format("+{} B", opts_.stepBytes) : fmt::format("x{}", opts_.stepFactor);
    int version = 0;
    strataGetVersion(&version);
    fmt::print(
        "# strata-bench: nranks {}, minbytes {}, maxbytes {}, step {}, iters {}, warmup {}, datatype {}, "
        "op {}, check {}, algo {}, collective {}, strata {}.{}.{}, kernels {}\n",
        nranks_, opts_.minBytes, opts_.maxBytes, step, iters, warmup, types, ops, opts_.check,
        opts_.algorithm.empty() ? "auto" : opts_.algorithm, opts_.collective, version / 10000, version / 100 % 100, version % 100,
        strata::reduceKernelIsa());
    if (model_)
      fmt::print("# model: the cost model's estimate for the algorithm that ran, from {}\n", model_->source);
    else
      fmt::print("# model: N/A: {}\n", modelError_);
    fmt::print("#                                                              out-of-place                       in-place\n");
    fmt::print("#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong    model  algorithm\n");
    fmt::print("#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)             (us)\n");
    std::fflush(stdout);
  }

  void printRow(const Row& row) const {
    fmt::print("{:12}  {:12}  {:>8}  {:>6}  {:6}{}{}  {}  {}\n", row.bytes, row.count, typeName(row.type),
               opName(row.op), collective() == strata::Collective::Broadcast ||
                                   collective() == strata::Collective::Reduce ? root() : -1,
               formatRun(row.outOfPlace), formatRun(row.inPlace),
               formatPrediction(row.predictedUsec), row.algorithm);
    std::fflush(stdout);
  }

  bool writeJson(int64_t wrongTotal, double avgBusbw) const {
    nlohmann::json rows = nlohmann::json::array();
    for (const Row& row : rows_) {
      rows.push_back({{"size_bytes", row.bytes},
                      {"count", row.count},
                      {"type", typeName(row.type)},
                      {"redop", opName(row.op)},
                      {"root", -1},
                      {"out_of_place", runJson(row.outOfPlace)},
                      {"in_place", runJson(row.inPlace)},
                      {"algorithm", row.algorithm},
                      {"predicted_us", std::isfinite(row.predictedUsec) ? nlohmann::json(row.predictedUsec)
                                                                        : nlohmann::json(nullptr)}});
    }
    std::vector<std::string> types, ops;
    for (strataDataType_t t : opts_.types) types.emplace_back(typeName(t));
    for (strataRedOp_t o : opts_.ops) ops.emplace_back(opName(o));
    auto orNull = [](bool set, auto value) { return set ? nlohmann::json(value) : nlohmann::json(nullptr); };
    int version = 0;
    strataGetVersion(&version);
    nlohmann::json doc = {
        {"tool", "strata-bench"},
        {"strata_version", version},
        {"ranks", nranks_},
        {"host", hostName()},
        {"date", utcDate()},
        {"kernel_isa", strata::reduceKernelIsa()},
        {"cost_model", model_ ? nlohmann::json(model_->source) : nlohmann::json(nullptr)},
        {"command_line", opts_.commandLine},
        {"flags",
         {{"minbytes", opts_.minBytes},
          {"maxbytes", opts_.maxBytes},
          {"stepfactor", opts_.stepFactor},
          {"stepbytes", orNull(opts_.stepBytes > 0, opts_.stepBytes)},
          {"iters", orNull(opts_.iters > 0, opts_.iters)},
          {"warmup_iters", orNull(opts_.warmupIters >= 0, opts_.warmupIters)},
          {"target_seconds", opts_.targetSeconds},
          {"datatype", types},
          {"op", ops},
          {"check", opts_.check},
          {"ranks", orNull(opts_.ranks > 0, opts_.ranks)},
          {"algo", orNull(!opts_.algorithm.empty(), opts_.algorithm)},
          {"timeout", orNull(opts_.timeoutSec > 0, opts_.timeoutSec)},
          {"chunk_bytes", orNull(opts_.chunkBytes >= 0, opts_.chunkBytes)},
          {"fifo_depth", orNull(opts_.fifoDepth >= 0, opts_.fifoDepth)},
          {"seed", opts_.seed}}},
        {"rows", rows},
        {"out_of_bounds_values", wrongTotal},
        {"avg_busbw_GBps", avgBusbw},
    };
    std::ofstream out(opts_.jsonPath);
    out << doc.dump(2) << '\n';
    out.close();
    if (!out) {
      fmt::print(stderr, "strata-bench: cannot write {}: {}\n", opts_.jsonPath, std::strerror(errno));
      return false;
    }
    return true;
  }

  const Options& opts_;
  strataComm_t comm_;
  int rank_;
  int nranks_;
  AlignedBuffer sendBuffer_;
  AlignedBuffer recvBuffer_;
  std::vector<Row> rows_;
  std::shared_ptr<const strata::CostModel> model_;
  std::string modelError_;
  size_t messageBytes_ = 0;
  size_t oneShotMaxBytes_ = 0;
};

// ---- --calibrate -----------------------------------------------------------------------------

constexpr int kCalibrationRanks = 2;
constexpr double kMinReduceTiming = 0.02;  // seconds per timed reduction loop
constexpr int kReduceRepeats = 3;          // best of, against the neighbours' noise

// Seconds per call of the float32 sum kernel writing `bytes` of output from two other buffers,
// as the ring's recv-reduce-copy-send does (a received chunk and the local block).
double timeReduce(size_t bytes, void* dst, const void* a, const void* b) {
  const size_t count = std::max<size_t>(1, bytes / sizeof(float));
  strata::reduce(dst, a, b, count, strataFloat32, strataSum);  // faults and caches in
  double best = INFINITY;
  for (int repeat = 0; repeat < kReduceRepeats; ++repeat) {
    for (long iters = 1;; iters *= 2) {
      const auto start = std::chrono::steady_clock::now();
      for (long i = 0; i < iters; ++i) strata::reduce(dst, a, b, count, strataFloat32, strataSum);
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (elapsed >= kMinReduceTiming) {
        best = std::min(best, elapsed / static_cast<double>(iters));
        break;
      }
    }
  }
  return best;
}

// Messages one rank of the 2-rank ring posts for `count` floats: the schedule's sending steps,
// one message per chunk.
double ringMessages(size_t count, size_t messageBytes) {
  strata::PlanRequest req;
  req.collective = strata::Collective::AllReduce;
  req.nranks = kCalibrationRanks;
  req.count = count;
  req.type = strataFloat32;
  req.elemBytes = sizeof(float);
  req.messageBytes = messageBytes;
  req.cost = std::make_shared<strata::CostModel>(strata::builtInHostModel());
  const strata::Schedule schedule = strata::selectAlgorithm(req, "ring").build(req);
  double messages = 0;
  for (const strata::Phase& phase : schedule.phases)
    if (strata::stepSends(phase.kind)) messages += double(phase.iterations) * double(schedule.chunksPerBlock());
  return messages;
}

std::string calibrationPath(const Options& opts) {
  if (!opts.calibrateOut.empty()) return opts.calibrateOut;
  const char* env = std::getenv("STRATA_COST_PROFILE");
  if (env && *env) return env;  // where the model will look first
  return strata::cacheCostProfilePath();
}

// Rank 0, after the ring ran: times the reduction at the sizes the ring reduced, fits the
// transport, writes the profile and prints what it wrote and how well it explains the runs.
int calibrate(const Options& opts, const std::vector<Row>& rows) {
  try {
    const strataConfig_t user = makeConfig(opts);
    // The calibration's ring runs on this host's ranks: the chunk a one-host communicator uses.
    const size_t chosen = static_cast<size_t>(strata::resolveConfig(&user).chunkBytes);
    const size_t messageBytes = chosen ? chosen : strata::automaticChunkBytes(false);
    const size_t maxHalf = std::max<size_t>(opts.maxBytes / 2, 64);
    AlignedBuffer dst = allocateBuffer(maxHalf), a = allocateBuffer(maxHalf), b = allocateBuffer(maxHalf);
    if (!dst || !a || !b) {
      fmt::print(stderr, "strata-bench: cannot allocate the reduction buffers\n");
      return kExitError;
    }
    std::memset(dst.get(), 0, maxHalf);
    std::memset(a.get(), 0, maxHalf);
    std::memset(b.get(), 0, maxHalf);

    strata::CostProfile profile;
    profile.machine = hostName();
    profile.date = utcDate();
    profile.command = opts.commandLine;
    profile.kernelIsa = strata::reduceKernelIsa();
    profile.shmProbe = fmt::format(
        "{}-rank ring all-reduce, float32 sum, out of place, {}-byte chunks: seconds = alpha * messages + "
        "bytes / bytes_per_s + known_seconds (the reduction of bytes/2, timed alone)",
        kCalibrationRanks, messageBytes);
    profile.reduceProbe = "float32 sum into a third buffer, best of 3: seconds = per-call overhead + bytes / bytes_per_s";
    for (const Row& row : rows) {
      const double half = double(row.bytes) / kCalibrationRanks;
      const double reduceSec = timeReduce(size_t(half), dst.get(), a.get(), b.get());
      profile.reducePoints.push_back({half, 1, reduceSec, 0});
      profile.shmPoints.push_back({double(row.bytes), ringMessages(row.count, messageBytes),
                                   row.outOfPlace.usec * 1e-6, reduceSec});
    }
    // The machine has a cache regime and a memory regime (docs/cost-model.md): the transport's
    // points choose the split and the reduction's (half the size) follow it; when the transport
    // shows one regime, the reduction's own split (if any) sets it.
    const strata::CacheMemoryFit shm = strata::fitCacheAndMemory(profile.shmPoints);
    const bool shmSplit = shm.memoryBytesPerSec > 0;
    const strata::CacheMemoryFit reduce =
        strata::fitCacheAndMemory(profile.reducePoints, shmSplit ? shm.splitBytes / kCalibrationRanks : 0);
    const bool twoRegimes = shmSplit || reduce.memoryBytesPerSec > 0;
    const double splitBytes = shmSplit ? shm.splitBytes : reduce.splitBytes * kCalibrationRanks;
    profile.shm = {"shm", shm.cache.alphaSec, shm.cache.bytesPerSec};
    profile.cacheBytes = twoRegimes ? splitBytes : 0;
    profile.shmMemoryBytesPerSec = shm.memoryBytesPerSec;
    profile.reduceBytesPerSec = reduce.cache.bytesPerSec;
    profile.reduceMemoryBytesPerSec = reduce.memoryBytesPerSec;

    const std::string path = calibrationPath(opts);
    if (path.empty()) {
      fmt::print(stderr, "strata-bench: no HOME or XDG_CACHE_HOME for the profile; give --calibrate-out FILE\n");
      return kExitError;
    }
    strata::writeCostProfile(profile, path);

    // How the fit and the algorithm's estimate (with the new model) explain the runs.
    const strata::CostModel model = profile.hostModel(path);
    strata::PlanRequest req;
    req.collective = strata::Collective::AllReduce;
    req.nranks = kCalibrationRanks;
    req.type = strataFloat32;
    req.elemBytes = sizeof(float);
    req.messageBytes = messageBytes;
    req.cost = std::make_shared<strata::CostModel>(model);
    const strata::AlgorithmInfo& ring = strata::selectAlgorithm(req, "ring");
    fmt::print("# calibration: shared memory alpha {:.3f} us, bandwidth {:.2f} GB/s; reduction {:.2f} GB/s of output",
               shm.cache.alphaSec * 1e6, shm.cache.bytesPerSec / 1e9, reduce.cache.bytesPerSec / 1e9);
    if (twoRegimes)
      fmt::print("; above {} B: shared memory {:.2f} GB/s, reduction {:.2f} GB/s", splitBytes,
                 (shmSplit ? shm.memoryBytesPerSec : shm.cache.bytesPerSec) / 1e9,
                 (reduce.memoryBytesPerSec > 0 ? reduce.memoryBytesPerSec : reduce.cache.bytesPerSec) / 1e9);
    fmt::print(" (fits within {:.1f} % and {:.1f} %)\n", shm.maxRelativeError * 100, reduce.maxRelativeError * 100);
    fmt::print("#       size  messages  measured       fit  ring estimate  reduce alone\n");
    fmt::print("#        (B)                (us)      (us)           (us)          (us)\n");
    for (const strata::MeasuredPoint& p : profile.shmPoints) {
      const strata::CostModel at = model.forWorkingSet(size_t(p.bytes));
      const double fit = at.intraHost.alphaSec * p.messages + p.bytes / at.intraHost.bytesPerSec +
                         p.bytes / kCalibrationRanks / at.reduceBytesPerSec;
      req.count = size_t(p.bytes) / sizeof(float);
      req.cost = std::make_shared<strata::CostModel>(at);
      fmt::print("{:12.0f}  {:8.0f}   {}   {}        {}       {}\n", p.bytes, p.messages, formatTime(p.seconds * 1e6),
                 formatTime(fit * 1e6), formatTime(ring.estimateSeconds(req) * 1e6),
                 formatTime(p.knownSeconds * 1e6));
    }
    fmt::print("# wrote {}: the cost model reads it from now on (STRATA_COST_PROFILE names another)\n", path);
    std::fflush(stdout);
  } catch (const std::exception& e) {
    fmt::print(stderr, "strata-bench: calibration failed: {}\n", e.what());
    return kExitError;
  }
  return kExitOk;
}

// Runs the benchmark on an initialised communicator and destroys it.
int benchmarkOnComm(const Options& opts, strataComm_t comm) {
  int rank = 0, nranks = 0;
  strataResult_t result = strataCommUserRank(comm, &rank);
  if (result == strataSuccess) result = strataCommCount(comm, &nranks);
  if (result != strataSuccess) {
    fmt::print(stderr, "strata-bench: querying the communicator failed: {}: {}\n", strataGetErrorString(result),
               strataGetLastError(comm));
    return kExitError;
  }
  if (opts.soakSeconds > 0) {
    strata::soak::SoakOptions soak;
    soak.seconds = opts.soakSeconds;
    soak.maxBytes = opts.soakMaxBytes;
    soak.seed = opts.seedGiven ? opts.seed : 0;
    const int code = strata::soak::Soak(soak, comm, rank, nranks).run();
    result = strataCommDestroy(comm);
    if (result != strataSuccess) {
      fmt::print(stderr, "strata-bench: rank {}: strataCommDestroy failed: {}: {}\n", rank,
                 strataGetErrorString(result), strataGetLastError(nullptr));
      return kExitError;
    }
    return code == 0 ? kExitOk : code == 1 ? kExitWrongValues : kExitError;
  }
  Bench bench(opts, comm, rank, nranks);
  int code = bench.run();
  result = strataCommDestroy(comm);
  if (result != strataSuccess) {
    fmt::print(stderr, "strata-bench: rank {}: strataCommDestroy failed: {}: {}\n", rank,
               strataGetErrorString(result), strataGetLastError(nullptr));
    return kExitError;
  }
  // Alone now: the other rank has nothing left to do, so the reduction is timed undisturbed.
  if (opts.calibrate && rank == 0 && code == kExitOk) code = calibrate(opts, bench.rows());
  return code;
}

// ---- Launcher mode ---------------------------------------------------------------------------

int runUnderLauncher(const Options& opts) {
  strataConfig_t config = makeConfig(opts);
  strataComm_t comm = nullptr;
  strataResult_t result = strataCommInitFromEnv(&comm, &config);
  if (result != strataSuccess) {
    fmt::print(stderr, "strata-bench: strataCommInitFromEnv failed: {}: {}\n", strataGetErrorString(result),
               strataGetLastError(nullptr));
    if (result == strataInvalidArgument)
      fmt::print(stderr, "strata-bench: without a launcher, --ranks N runs N local ranks\n");
    return kExitError;
  }
  return benchmarkOnComm(opts, comm);
}

// ---- --ranks N: forked local ranks -----------------------------------------------------------

// Shared by the forked ranks (an anonymous MAP_SHARED mapping made before fork): rank 0
// publishes the unique id, then sets idState.
struct SharedIdSlot {
  static constexpr int kPending = 0, kReady = 1, kFailed = -1;
  std::atomic<int> idState{kPending};
  strataUniqueId id;
};
static_assert(std::atomic<int>::is_always_lock_free, "the id flag is shared between processes");

// The body of forked rank `rank`; returns its exit code.
int runForkedRank(const Options& opts, SharedIdSlot* slot, int rank) {
  if (rank == 0) {
    strataUniqueId id;
    strataResult_t result = strataGetUniqueId(&id);
    if (result != strataSuccess) {
      slot->idState.store(SharedIdSlot::kFailed, std::memory_order_release);
      fmt::print(stderr, "strata-bench: rank 0: strataGetUniqueId failed: {}: {}\n", strataGetErrorString(result),
                 strataGetLastError(nullptr));
      return kExitError;
    }
    slot->id = id;
    slot->idState.store(SharedIdSlot::kReady, std::memory_order_release);
  } else {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(waitDeadlineSec(opts));
    int state;
    while ((state = slot->idState.load(std::memory_order_acquire)) == SharedIdSlot::kPending) {
      if (std::chrono::steady_clock::now() > deadline) {
        fmt::print(stderr, "strata-bench: rank {}: no unique id from rank 0 within {:g} s\n", rank,
                   waitDeadlineSec(opts));
        return kExitError;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (state != SharedIdSlot::kReady) return kExitError;  // rank 0 reported why
  }

  strataConfig_t config = makeConfig(opts);
  strataComm_t comm = nullptr;
  strataResult_t result = strataCommInitRankConfig(&comm, opts.ranks, slot->id, rank, &config);
  if (result != strataSuccess) {
    fmt::print(stderr, "strata-bench: rank {}: strataCommInitRankConfig failed: {}: {}\n", rank,
               strataGetErrorString(result), strataGetLastError(nullptr));
    return kExitError;
  }
  return benchmarkOnComm(opts, comm);
}

std::string describeExit(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("stopped with wait status {:#x}", status);
}

int runForked(const Options& opts) {
  void* mapping = mmap(nullptr, sizeof(SharedIdSlot), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) {
    fmt::print(stderr, "strata-bench: mmap of the shared id slot failed: {}\n", std::strerror(errno));
    return kExitError;
  }
  auto* slot = new (mapping) SharedIdSlot();

  // Buffered output would be written once per child otherwise.
  std::fflush(stdout);
  std::fflush(stderr);
  std::map<pid_t, int> rankOfPid;
  auto killAll = [&] {
    for (const auto& [pid, rank] : rankOfPid) kill(pid, SIGKILL);
    for (const auto& [pid, rank] : rankOfPid) waitpid(pid, nullptr, 0);
    rankOfPid.clear();
  };
  for (int rank = 0; rank < opts.ranks; ++rank) {
    pid_t pid = fork();
    if (pid < 0) {
      fmt::print(stderr, "strata-bench: fork of rank {} failed: {}\n", rank, std::strerror(errno));
      killAll();
      return kExitError;
    }
    if (pid == 0) {
      int code = runForkedRank(opts, slot, rank);
      std::fflush(stdout);
      std::fflush(stderr);
      _exit(code);  // skip the parent's atexit handlers and static destructors
    }
    rankOfPid[pid] = rank;
  }

  int exitCode = kExitOk;
  while (!rankOfPid.empty()) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      fmt::print(stderr, "strata-bench: waitpid failed: {}\n", std::strerror(errno));
      killAll();
      return kExitError;
    }
    auto it = rankOfPid.find(pid);
    if (it == rankOfPid.end()) continue;
    const int rank = it->second;
    rankOfPid.erase(it);
    if (WIFEXITED(status) && WEXITSTATUS(status) == kExitOk) continue;
    if (WIFEXITED(status) && WEXITSTATUS(status) == kExitWrongValues) {
      // Every rank counts the same wrong values and exits alike; the others finish on their own.
      exitCode = std::max(exitCode, kExitWrongValues);
      continue;
    }
    fmt::print(stderr, "strata-bench: rank {} {}; killing the other {} rank(s)\n", rank, describeExit(status),
               rankOfPid.size());
    killAll();
    exitCode = kExitError;
  }
  munmap(mapping, sizeof(SharedIdSlot));
  return exitCode;
}

}  // namespace

int main(int argc, char** argv) {
  Options opts;
  for (int i = 0; i < argc; ++i) opts.commandLine += (i ? " " : "") + std::string(argv[i]);

  CLI::App app{"strata-bench: all-reduce bandwidth benchmark (nccl-tests' flags and table)", "strata-bench"};
  std::string minBytes = "8", maxBytes = "32M", chunkBytes, datatypes = "float", ops = "sum";
  bool helpEnv = false;
  app.add_option("-b,--minbytes", minBytes, "smallest message size, e.g. 8, 1K, 64M, 1G")->capture_default_str();
  app.add_option("-e,--maxbytes", maxBytes, "largest message size")->capture_default_str();
  app.add_option("-f,--stepfactor", opts.stepFactor, "multiply the size by this between steps")
      ->capture_default_str()->check(CLI::Range(2, 1 << 20));
  app.add_option("-i,--stepbytes", opts.stepBytes, "add this many bytes between steps instead of -f");
  app.add_option("-n,--iters", opts.iters,
                 "timed iterations per size (default: adaptive, so that a timed loop lasts --target-seconds)")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("-w,--warmup_iters", opts.warmupIters, "warm-up iterations (default: 20 up to 1 MiB, 3 above)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("--target-seconds", opts.targetSeconds, "adaptive mode: seconds one timed loop should take")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("-d,--datatype", datatypes,
                 "int8 uint8 int32 uint32 int64 uint64 half|float16 bfloat16 float|float32 double|float64 "
                 "fp8e4m3 fp8e5m2, a comma list, or all")
      ->capture_default_str();
  app.add_option("-o,--op", ops, "sum prod min max avg, a comma list, or all")->capture_default_str();
  app.add_option("-c,--check", opts.check, "check every result exactly (0/1)")
      ->capture_default_str()->check(CLI::Range(0, 1));
  app.add_option("--ranks", opts.ranks, "fork this many local ranks (default: one rank per process, from a launcher)")
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--algo", opts.algorithm, "force an algorithm by name (ring, oneshot, chain, tree...)");
  app.add_option("--collective", opts.collective,
                 "the collective to measure; busbw uses nccl-tests' factors (all-reduce 2(n-1)/n, "
                 "reduce-scatter and all-gather (n-1)/n, broadcast and reduce 1)")
      ->check(CLI::IsMember({"allreduce", "reducescatter", "allgather", "broadcast", "reduce"}))
      ->capture_default_str();
  app.add_option("--timeout", opts.timeoutSec, "seconds any wait may take (default: STRATA_TIMEOUT or 300)")
      ->check(CLI::PositiveNumber);
  app.add_option("--chunk-bytes", chunkBytes, "pipeline chunk (a transport slot), e.g. 128K; default automatic (STRATA_CHUNK_BYTES)");
  app.add_option("--fifo-depth", opts.fifoDepth, "chunks in flight per connection")->check(CLI::Range(1, 1 << 20));
  app.add_option("--seed", opts.seed, "seed of the checked input values")->capture_default_str();
  std::string soakMaxBytes = "4M";
  app.add_option("--soak", opts.soakSeconds,
                 "instead of the table: random collectives, sizes, datatypes, ops and roots for this many "
                 "seconds, every result checked exactly; reports calls, wrong elements and resident memory "
                 "per rank (the seed is printed; --seed replays it)")
      ->check(CLI::PositiveNumber);
  app.add_option("--soak-max-bytes", soakMaxBytes, "--soak: largest buffer of one call")->capture_default_str();
  app.add_option("--json", opts.jsonPath, "also write the rows and run metadata to this JSON file");
  app.add_flag("--help-env", helpEnv, "list the STRATA_* environment variables and exit");
  app.add_flag("--calibrate", opts.calibrate,
               "measure this machine's shared-memory transport (2 ranks, ring, 8 B..64 MiB x4) and reduction, "
               "and write the cost model's profile");
  app.add_option("--calibrate-out", opts.calibrateOut,
                 "where --calibrate writes (default: STRATA_COST_PROFILE, else "
                 "$XDG_CACHE_HOME/strata/cost-profile.json or ~/.cache/strata/cost-profile.json)");

  try {
    app.parse(argc, argv);
    auto size = [](const std::string& flag, const std::string& text) {
      std::optional<size_t> bytes = parseSize(text);
      if (!bytes) throw CLI::ValidationError(flag, "'" + text + "' is not a size (e.g. 8, 1K, 64M, 1G)");
      return *bytes;
    };
    opts.minBytes = size("--minbytes", minBytes);
    opts.soakMaxBytes = size("--soak-max-bytes", soakMaxBytes);
    opts.seedGiven = app.count("--seed") > 0;
    opts.maxBytes = size("--maxbytes", maxBytes);
    if (!chunkBytes.empty()) opts.chunkBytes = static_cast<long long>(size("--chunk-bytes", chunkBytes));
    if (opts.minBytes == 0) opts.minBytes = 1;
    if (opts.minBytes > opts.maxBytes)
      throw CLI::ValidationError("--minbytes", fmt::format("{} is above --maxbytes {}", opts.minBytes, opts.maxBytes));
    opts.types = parseTypes(datatypes);
    opts.ops = parseOps(ops);
    if (opts.calibrate) {
      // The probe the fit assumes (docs/cost-model.md); sizes and timing stay adjustable.
      if (opts.ranks != 0 && opts.ranks != kCalibrationRanks)
        throw CLI::ValidationError("--ranks", fmt::format("--calibrate runs {} ranks", kCalibrationRanks));
      if (!opts.algorithm.empty() && opts.algorithm != "ring")
        throw CLI::ValidationError("--algo", "--calibrate measures the ring");
      if (opts.collective != "allreduce")
        throw CLI::ValidationError("--collective", "--calibrate measures the all-reduce");
      if (opts.types != std::vector<strataDataType_t>{strataFloat32} || opts.ops != std::vector<strataRedOp_t>{strataSum})
        throw CLI::ValidationError("--datatype", "--calibrate measures float sum");
      opts.ranks = kCalibrationRanks;
      opts.algorithm = "ring";
      // 4 B (one float) x 4^k reaches 64 MiB exactly.
      if (app.count("--minbytes") == 0) opts.minBytes = 4;
      if (app.count("--maxbytes") == 0) opts.maxBytes = 64 * kOneMiB;
      if (app.count("--stepfactor") == 0 && app.count("--stepbytes") == 0) opts.stepFactor = 4;
      if (app.count("--target-seconds") == 0) opts.targetSeconds = 0.1;
    } else if (!opts.calibrateOut.empty()) {
      throw CLI::ValidationError("--calibrate-out", "needs --calibrate");
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (helpEnv) {
    for (const strata::TunableDoc& t : strata::tunables())
      fmt::print("{:<26} default {:<8} {}\n", t.env, *t.defaultValue ? t.defaultValue : "\"\"", t.doc);
    // Process-wide, read once by the planner's cost model (not a communicator setting).
    fmt::print("{:<26} default {:<8} {}\n", "STRATA_COST_PROFILE", "\"\"",
               "cost model calibration profile (else ~/.cache/strata/cost-profile.json when it exists)");
    return kExitOk;
  }
  return opts.ranks > 0 ? runForked(opts) : runUnderLauncher(opts);
}
