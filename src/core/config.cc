#include "core/config.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include <fmt/ranges.h>

#include "core/error.h"
#include "plan/registry.h"

namespace strata {
namespace {

// sizeof(strataConfig_t) in release 0.1.0, before ranksPerHost.
constexpr size_t kFirstConfigSize = offsetof(strataConfig_t, ranksPerHost);

#define STRATA_TUNABLES(X)                                                                     \
  X(timeoutSec, "STRATA_TIMEOUT", "300", "seconds any wait may take before it fails")          \
  X(chunkBytes, "STRATA_CHUNK_BYTES", "0",                                                     \
    "bytes per pipeline chunk (a transport slot); 0: 256 KiB where TCP joins the hosts, else 128 KiB") \
  X(fifoDepth, "STRATA_FIFO_DEPTH", "8", "slots per shared-memory connection")                 \
  X(algorithm, "STRATA_ALGO", "", "force an algorithm by name (ring, oneshot, chain, tree...) for every collective that has one")            \
  X(oneShotMaxBytes, "STRATA_ONESHOT_MAX_BYTES", "65536", "largest all-reduce sent one-shot")  \
  X(slotStores, "STRATA_SLOT_STORES", "auto",                                                    \
    "how large messages are written into shared-memory slots: cached, streaming, or auto (measured)") \
  X(spinCount, "STRATA_SPIN_COUNT", "-1",                                                     \
    "polls a waiting rank spins before it yields; -1: 2000, or 20 when a host has more ranks than CPUs") \
  X(ranksPerHost, "STRATA_RANKS_PER_HOST", "0",                                                 \
    "plan as if every k consecutive ranks formed a host (tests the hierarchical algorithms on one machine); 0: the real hosts") \
  X(transport, "STRATA_TRANSPORT", "auto",                                                      \
    "how ranks reach each other: auto (shared memory inside a host; between hosts UCX where every rank has an RDMA device and the build has UCX, else TCP), shm (one host), tcp or ucx (that transport to every pair), shm+tcp or shm+ucx (shared memory inside a host, that transport between hosts)") \
  X(tcpStreams, "STRATA_TCP_STREAMS", "2", "TCP connections per pair of ranks")                 \
  X(blocking, "STRATA_COMM_BLOCKING", "1",                                                      \
    "1: init and shrink return once the communicator is connected; 0: they return strataInProgress and connect in the background (poll strataCommGetAsyncError)") \
  X(cudaIpc, "STRATA_CUDA_IPC", "0",                                                            \
    "device-buffer all-reduce when all ranks (at most 8) share a host: 1 through CUDA IPC, GPU to GPU (opt-in: it can deadlock while a thread of the process blocks in CUDA, docs/gpu.md); 0 staged through pinned host memory")

template <typename T>
T parse(const char* env, const char* text);

template <>
double parse<double>(const char* env, const char* text) {
  char* end = nullptr;
  double v = std::strtod(text, &end);
  STRATA_CHECK(end && *end == '\0' && end != text, strataInvalidArgument, "{}='{}' is not a number", env, text);
  return v;
}
template <>
int64_t parse<int64_t>(const char* env, const char* text) {
  char* end = nullptr;
  long long v = std::strtoll(text, &end, 0);
  STRATA_CHECK(end && *end == '\0' && end != text, strataInvalidArgument, "{}='{}' is not an integer", env, text);
  return v;
}
template <>
int parse<int>(const char* env, const char* text) {
  return static_cast<int>(parse<int64_t>(env, text));
}
template <>
std::string parse<std::string>(const char*, const char* text) {
  return text;
}

// A user field is "set" when it is non-negative / non-null.
bool isSet(double v) { return v >= 0; }
bool isSet(long long v) { return v >= 0; }
bool isSet(int v) { return v >= 0; }
bool isSet(const char* v) { return v != nullptr; }

// Whether the user's struct reaches `field`: a program built against an older header passes a
// smaller struct, whose missing fields count as unset.
template <typename U>
bool present(const strataConfig_t* user, U strataConfig_t::*field) {
  const size_t end = size_t(reinterpret_cast<const char*>(&(user->*field)) -
                            reinterpret_cast<const char*>(user)) + sizeof(U);
  return end <= user->size;
}

template <typename T, typename U>
T resolveOne(const strataConfig_t* user, U strataConfig_t::*field, const char* env, const char* def) {
  if (user && present(user, field) && isSet(user->*field)) {
    if constexpr (std::is_same_v<T, std::string>) return std::string(user->*field);
    else return static_cast<T>(user->*field);
  }
  const char* text = std::getenv(env);
  return parse<T>(env, text ? text : def);
}

}  // namespace

const std::vector<TunableDoc>& tunables() {
  static const std::vector<TunableDoc> table = {
#define X(field, env, def, doc) {env, def, doc},
      STRATA_TUNABLES(X)
#undef X
  };
  return table;
}

size_t automaticChunkBytes(bool socketsBetweenHosts) {
  return socketsBetweenHosts ? kSocketChunkBytes : kHostChunkBytes;
}

Config resolveConfig(const strataConfig_t* user) {
  if (user) {
    STRATA_CHECK(user->magic == STRATA_CONFIG_MAGIC && user->size >= sizeof(size_t) * 2,
                 strataInvalidArgument,
                 "config was not initialised with STRATA_CONFIG_INITIALIZER");
    // Fields are only ever added at the end: every size from the first release's up to ours is
    // a struct this library can read.
    STRATA_CHECK(user->size >= kFirstConfigSize && user->size <= sizeof(strataConfig_t),
                 strataInvalidArgument,
                 "config size {} is not one this library knows ({} to {}; built against another "
                 "version?)",
                 user->size, kFirstConfigSize, sizeof(strataConfig_t));
  }
  Config c;
#define X(field, env, def, doc) \
  c.field = resolveOne<decltype(c.field)>(user, &strataConfig_t::field, env, def);
  STRATA_TUNABLES(X)
#undef X
  STRATA_CHECK(c.blocking == 0 || c.blocking == 1, strataInvalidArgument,
               "blocking must be 0 or 1 (or -1: STRATA_COMM_BLOCKING), got {}", c.blocking);
  STRATA_CHECK(c.timeoutSec > 0, strataInvalidArgument, "timeout must be > 0 s, got {}", c.timeoutSec);
  STRATA_CHECK(c.chunkBytes == 0 ||
                   (c.chunkBytes >= 4096 && c.chunkBytes <= (64 << 20) && c.chunkBytes % 64 == 0),
               strataInvalidArgument,
               "chunk bytes must be a multiple of 64 in [4 KiB, 64 MiB] (or 0: automatic), got {}",
               c.chunkBytes);
  STRATA_CHECK(c.fifoDepth >= 2 && c.fifoDepth <= 64, strataInvalidArgument,
               "FIFO depth must be in [2, 64], got {}", c.fifoDepth);
  if (!c.algorithm.empty()) {
    std::vector<std::string> known;  // each name once: several collectives share names
    for (const AlgorithmInfo* a : allAlgorithms())
      if (std::find(known.begin(), known.end(), a->name) == known.end()) known.push_back(a->name);
    STRATA_CHECK(std::find(known.begin(), known.end(), c.algorithm) != known.end(),
                 strataInvalidArgument, "unknown algorithm '{}' (known: {})", c.algorithm,
                 fmt::join(known, ", "));
  }
  STRATA_CHECK(c.ranksPerHost >= 0, strataInvalidArgument,
               "ranks per host must be >= 0 (0: the real hosts), got {}", c.ranksPerHost);
  // The one-shot path also needs the buffer to fit one message; the planner checks that.
  STRATA_CHECK(c.oneShotMaxBytes >= 0, strataInvalidArgument, "one-shot limit must be >= 0");
  STRATA_CHECK(c.slotStores == "auto" || c.slotStores == "cached" || c.slotStores == "streaming",
               strataInvalidArgument, "slot stores must be auto, cached or streaming, got '{}'", c.slotStores);
  STRATA_CHECK(c.spinCount >= -1, strataInvalidArgument, "spin count must be >= 0 (or -1: automatic)");
  STRATA_CHECK(c.transport == "auto" || c.transport == "shm" || c.transport == "tcp" ||
                   c.transport == "ucx" || c.transport == "shm+tcp" || c.transport == "shm+ucx",
               strataInvalidArgument,
               "transport must be auto, shm, tcp, ucx, shm+tcp or shm+ucx, got '{}'", c.transport);
#ifndef STRATA_HAVE_UCX
  STRATA_CHECK(c.transport.find("ucx") == std::string::npos, strataInvalidArgument,
               "transport '{}' needs UCX, and this build of Strata has none (build it with "
               "libucx-dev installed)", c.transport);
#endif
  STRATA_CHECK(c.cudaIpc == 0 || c.cudaIpc == 1, strataInvalidArgument,
               "CUDA IPC must be 0 or 1, got {}", c.cudaIpc);
  STRATA_CHECK(c.tcpStreams >= 1 && c.tcpStreams <= 64, strataInvalidArgument,
               "TCP streams per peer must be in [1, 64], got {}", c.tcpStreams);
  return c;
}

}  // namespace strata
