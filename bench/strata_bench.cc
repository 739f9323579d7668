// strata-bench: all-reduce bandwidth benchmark with nccl-tests' flags, table and units.
//
// Timing follows shared/peers/mpi_allreduce_bench.c so that the numbers compare with the peers:
// per size, warm-up iterations that also pick the timed iteration count (so that one timed loop
// takes about --target-seconds), a barrier, the timed loop; each rank's average time per op; the
// reported time is the maximum over ranks. algbw = bytes / time, busbw = algbw * 2(n-1)/n, in
// GB/s = 1e9 B/s. Results are checked exactly (bench/verify.h) outside the timed loops.
//
// Ranks come from a launcher (one process per rank, strataCommInitFromEnv) or, with --ranks N,
// from N processes forked here.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cctype>
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
#include "reduce/reduce.h"
#include "strata/strata.h"
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
  double timeoutSec = -1;         // < 0: the library's default
  long long chunkBytes = -1;
  int fifoDepth = -1;
  uint64_t seed = 1;
  std::string jsonPath;
  std::string commandLine;
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
};

// nccl-tests' time column: fewer decimals as the number grows, always 7 wide.
std::string formatTime(double usec) {
  if (usec >= 10000.0) return fmt::format("{:7.0f}", usec);
  if (usec >= 100.0) return fmt::format("{:7.1f}", usec);
  return fmt::format("{:7.2f}", usec);
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
      : opts_(opts), comm_(comm), rank_(rank), nranks_(nranks) {}

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
          const size_t count = bytes / typeBytes;
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
    for (int i = 0; i < warmup; ++i) allReduce(send, recv, count, type, op, phase);
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
    for (int i = 0; i < stats.iters; ++i) allReduce(send, recv, count, type, op, phase);
    const double perOp = (seconds() - start) / stats.iters;
    if (algorithm) {
      const char* name = strataCommLastAlgorithm(comm_);
      *algorithm = name ? name : "?";
    }

    const double slowest = maxOverRanks(perOp);
    stats.usec = slowest * 1e6;
    stats.algbw = slowest > 0 ? static_cast<double>(bytes) / slowest / 1e9 : 0.0;
    stats.busbw = nranks_ > 0 ? stats.algbw * 2.0 * (nranks_ - 1) / nranks_ : 0.0;
    return stats;
  }

  Row measure(size_t count, strataDataType_t type, strataRedOp_t op) {
    const size_t bytes = count * strata::verify::elementSize(type);
    unsigned char* send = sendBuffer_.get();
    unsigned char* recv = recvBuffer_.get();
    Row row{bytes, count, type, op, {}, {}, {}};

    // Out of place. Poison the output first so that a stale correct result from an earlier
    // size cannot pass the check.
    std::memset(recv, 0xA5, bytes);
    row.outOfPlace = timeRun(send, recv, count, type, op, "out-of-place", &row.algorithm);
    if (opts_.check) {
      // The result of the last timed iteration.
      uint64_t wrong = strata::verify::countWrong(recv, count, type, op, nranks_, opts_.seed);
      row.outOfPlace.wrong = static_cast<int64_t>(sumOverRanks(wrong));
    }

    // In place: each call overwrites its input, so the timed loop reduces ever-changing values
    // and only a dedicated run from a fresh copy of the input is checked.
    std::memcpy(recv, send, bytes);
    row.inPlace = timeRun(recv, recv, count, type, op, "in-place", nullptr);
    if (opts_.check) {
      std::memcpy(recv, send, bytes);
      allReduce(recv, recv, count, type, op, "in-place check");
      uint64_t wrong = strata::verify::countWrong(recv, count, type, op, nranks_, opts_.seed);
      row.inPlace.wrong = static_cast<int64_t>(sumOverRanks(wrong));
    }
    return row;
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
        "op {}, check {}, algo {}, strata {}.{}.{}, kernels {}\n",
        nranks_, opts_.minBytes, opts_.maxBytes, step, iters, warmup, types, ops, opts_.check,
        opts_.algorithm.empty() ? "auto" : opts_.algorithm, version / 10000, version / 100 % 100, version % 100,
        strata::reduceKernelIsa());
    fmt::print("#                                                              out-of-place                       in-place\n");
    fmt::print("#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong  algorithm\n");
    fmt::print("#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)\n");
    std::fflush(stdout);
  }

  void printRow(const Row& row) const {
    fmt::print("{:12}  {:12}  {:>8}  {:>6}  {:6}{}{}  {}\n", row.bytes, row.count, typeName(row.type),
               opName(row.op), -1, formatRun(row.outOfPlace), formatRun(row.inPlace), row.algorithm);
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
                      {"algorithm", row.algorithm}});
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
};

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
  int code = Bench(opts, comm, rank, nranks).run();
  result = strataCommDestroy(comm);
  if (result != strataSuccess) {
    fmt::print(stderr, "strata-bench: rank {}: strataCommDestroy failed: {}: {}\n", rank,
               strataGetErrorString(result), strataGetLastError(nullptr));
    return kExitError;
  }
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
    if (!std::getenv("STRATA_RANK") && !std::getenv("RANK"))
      fmt::print(stderr, "strata-bench: no launcher variables are set; use --ranks N to run N local ranks\n");
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
  app.add_option("--algo", opts.algorithm, "force an all-reduce algorithm (ring, oneshot)");
  app.add_option("--timeout", opts.timeoutSec, "seconds any wait may take (default: STRATA_TIMEOUT or 300)")
      ->check(CLI::PositiveNumber);
  app.add_option("--chunk-bytes", chunkBytes, "pipeline chunk of the shared-memory FIFO, e.g. 128K");
  app.add_option("--fifo-depth", opts.fifoDepth, "chunks in flight per connection")->check(CLI::Range(1, 1 << 20));
  app.add_option("--seed", opts.seed, "seed of the checked input values")->capture_default_str();
  app.add_option("--json", opts.jsonPath, "also write the rows and run metadata to this JSON file");
  app.add_flag("--help-env", helpEnv, "list the STRATA_* environment variables and exit");

  try {
    app.parse(argc, argv);
    auto size = [](const std::string& flag, const std::string& text) {
      std::optional<size_t> bytes = parseSize(text);
      if (!bytes) throw CLI::ValidationError(flag, "'" + text + "' is not a size (e.g. 8, 1K, 64M, 1G)");
      return *bytes;
    };
    opts.minBytes = size("--minbytes", minBytes);
    opts.maxBytes = size("--maxbytes", maxBytes);
    if (!chunkBytes.empty()) opts.chunkBytes = static_cast<long long>(size("--chunk-bytes", chunkBytes));
    if (opts.minBytes == 0) opts.minBytes = 1;
    if (opts.minBytes > opts.maxBytes)
      throw CLI::ValidationError("--minbytes", fmt::format("{} is above --maxbytes {}", opts.minBytes, opts.maxBytes));
    opts.types = parseTypes(datatypes);
    opts.ops = parseOps(ops);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (helpEnv) {
    for (const strata::TunableDoc& t : strata::tunables())
      fmt::print("{:<26} default {:<8} {}\n", t.env, *t.defaultValue ? t.defaultValue : "\"\"", t.doc);
    return kExitOk;
  }
  return opts.ranks > 0 ? runForked(opts) : runUnderLauncher(opts);
}
