// The C API: argument checks, the one conversion of strata::Error into strataResult_t, and the
// communicator handles' lifetime (a registry so that use after destroy is an error, not a crash).
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_set>

#include "bootstrap/bootstrap.h"
#include "comm/communicator.h"
#include "comm/launcher.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "gpu/device.h"
#include "gpu/stream_proxy.h"

#define STRATA_API extern "C" __attribute__((visibility("default")))

struct strataComm {
  std::atomic<bool> abortFlag{false};
  std::atomic<int> activeCalls{0};
  int nranks = 0;  // known before the communicator connects (non-blocking init)
  int rank = 0;
  // Set (release) once impl holds a connected communicator; impl is not touched before.
  std::atomic<bool> ready{false};
  std::unique_ptr<strata::Comm> impl;
  // Non-blocking init connects on this thread; destroy and abort join it.
  std::thread initThread;
  std::mutex errorMutex;
  std::string lastError;
  // strataInProgress while a non-blocking init connects; then strataSuccess or its error, and
  // later the first failure of a collective.
  std::atomic<strataResult_t> asyncError{strataSuccess};
  // One collective at a time runs on impl: the caller's (host buffers) or the proxy's.
  std::mutex runMutex;
  // Device-buffer collectives (gpu/stream_proxy.h), made by the first one. Declared after impl
  // so that it is destroyed first: its thread runs collectives on impl until it stops.
  std::mutex proxyMutex;
  std::unique_ptr<strata::gpu::StreamProxy> proxy;
};

namespace {

using strata::Error;

thread_local std::string threadLastError;

std::mutex registryMutex;
std::unordered_set<strataComm*>& registry() {
  static auto* live = new std::unordered_set<strataComm*>();  // never destroyed: see atexit order
  return *live;
}

void recordError(strataComm* comm, const std::string& text) {
  if (comm) {
    std::lock_guard<std::mutex> lock(comm->errorMutex);
    comm->lastError = text;
  }
  threadLastError = text;
  strata::log(strata::LogLevel::Warn, "{}", text);
}

// Runs body and converts what it throws into a result code, recording the text.
template <typename Body>
strataResult_t guarded(strataComm* comm, const char* call, Body&& body) {
  try {
    body();
    return strataSuccess;
  } catch (const Error& e) {
    recordError(comm, std::string(call) + ": " + e.what());
    return e.code();
  } catch (const std::bad_alloc&) {
    recordError(comm, std::string(call) + ": out of memory");
    return strataSystemError;
  } catch (const std::exception& e) {
    recordError(comm, std::string(call) + ": internal error: " + e.what());
    return strataInternalError;
  }
}

// Holds a communicator against destruction for the length of one API call: one registry
// lookup, then check() throws if the handle was NULL or is not (or no longer) a communicator.
class CommUse {
 public:
  explicit CommUse(strataComm* comm) : comm_(comm) {
    if (!comm) return;
    std::lock_guard<std::mutex> lock(registryMutex);
    if (registry().count(comm)) {
      comm->activeCalls.fetch_add(1, std::memory_order_acq_rel);
      live_ = true;
    }
  }
  ~CommUse() {
    if (live_) comm_->activeCalls.fetch_sub(1, std::memory_order_acq_rel);
  }
  CommUse(const CommUse&) = delete;
  CommUse& operator=(const CommUse&) = delete;
  // The handle if live, for recording errors on it; else nullptr.
  strataComm* live() const { return live_ ? comm_ : nullptr; }
  // check() plus: the communicator has connected (a non-blocking init may still be running).
  void check() const {
    checkHandle();
    STRATA_CHECK(comm_->ready.load(std::memory_order_acquire), strataInProgress,
                 "communicator {} is still connecting (non-blocking init): wait until "
                 "strataCommGetAsyncError gives strataSuccess",
                 static_cast<void*>(comm_));
  }
  // Only that the handle is live (what it knows before connecting: rank, size, async error).
  void checkHandle() const {
    STRATA_CHECK(comm_, strataInvalidArgument, "communicator is NULL");
    STRATA_CHECK(live_, strataInvalidUsage,
                 "communicator {} is not valid (destroyed, aborted or never created)",
                 static_cast<void*>(comm_));
  }
  strataComm* handle() const { return comm_; }
  strata::Comm* operator->() const { return comm_->impl.get(); }

 private:
  strataComm* comm_;
  bool live_ = false;
};

// Makes the C handle of a communicator that `connect` builds: at once (blocking), or on a
// thread of its own (config.blocking == 0), the handle then answering strataInProgress until
// connect has returned. The handle is in the registry from the start, so that destroy and abort
// work on a communicator that is still connecting.
void createComm(strataComm_t* out, int nranks, int rank, const strata::Config& config,
                const char* call,
                std::function<std::unique_ptr<strata::Comm>(const std::atomic<bool>*)> connect) {
  auto comm = std::make_unique<strataComm>();
  comm->nranks = nranks;
  comm->rank = rank;
  if (config.blocking) {
    comm->impl = connect(&comm->abortFlag);
    comm->ready.store(true, std::memory_order_release);
  } else {
    comm->asyncError.store(strataInProgress);
    strataComm* c = comm.get();
    comm->initThread = std::thread([c, call, connect = std::move(connect)] {
      strataResult_t res = guarded(c, call, [&] { c->impl = connect(&c->abortFlag); });
      if (res == strataSuccess) c->ready.store(true, std::memory_order_release);
      c->asyncError.store(res);
    });
  }
  std::lock_guard<std::mutex> lock(registryMutex);
  registry().insert(comm.get());
  *out = comm.release();
}

strataResult_t initRank(strataComm_t* out, int nranks, const strataUniqueId& id, int rank,
                        const strataConfig_t* userConfig) {
  bool blocking = true;
  strataResult_t res = guarded(nullptr, "strataCommInitRank", [&] {
    STRATA_CHECK(out, strataInvalidArgument, "comm pointer is NULL");
    *out = nullptr;
    STRATA_CHECK(nranks >= 1, strataInvalidArgument, "nranks must be >= 1, got {}", nranks);
    STRATA_CHECK(rank >= 0 && rank < nranks, strataInvalidArgument,
                 "rank {} out of range [0, {})", rank, nranks);
    strata::decodeUniqueId(id);  // rejects garbage before any connection is tried
    strata::Config config = strata::resolveConfig(userConfig);
    blocking = config.blocking;
    createComm(out, nranks, rank, config, "strataCommInitRank",
               [id, nranks, rank, config](const std::atomic<bool>* abortFlag) {
                 return std::make_unique<strata::Comm>(id, nranks, rank, config, abortFlag);
               });
  });
  return res == strataSuccess && !blocking ? strataInProgress : res;
}

// Removes comm from the registry (new calls fail) and waits for calls in flight to leave.
void retire(strataComm* comm) {
  {
    std::lock_guard<std::mutex> lock(registryMutex);
    STRATA_CHECK(registry().erase(comm) == 1, strataInvalidUsage,
                 "communicator {} is not valid (destroyed, aborted or never created)",
                 static_cast<void*>(comm));
  }
  while (comm->activeCalls.load(std::memory_order_acquire) != 0)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  // A non-blocking init still connecting ends by itself (its deadline) or, after abort, within
  // the abort latency.
  if (comm->initThread.joinable()) comm->initThread.join();
}

// The checks every collective shares: datatype, op (when it reduces), and that `elements` (the
// largest buffer's) fits the address space. Returns the element size. (The stream is checked
// against where the buffers live, in execute().)
size_t checkCollectiveArgs(strataDataType_t datatype, const strataRedOp_t* op, size_t count,
                           size_t factor) {
  STRATA_CHECK(datatype >= 0 && datatype < strataNumTypes, strataInvalidArgument,
               "unknown datatype {}", static_cast<int>(datatype));
  if (op)
    STRATA_CHECK(*op >= 0 && *op < strataNumOps, strataInvalidArgument, "unknown reduction op {}",
                 static_cast<int>(*op));
  const size_t elem = strataTypeSize(datatype);
  STRATA_CHECK(count <= SIZE_MAX / elem / factor, strataInvalidArgument,
               "count {} of {} (x {} ranks) overflows the address space", count,
               strataTypeName(datatype), factor);
  return elem;
}

// Two buffers of sendBytes and recvBytes are either disjoint or the in-place layout: send starts
// `inPlaceOffset` bytes into recv (negative: recv starts inside send).
void checkOverlap(const void* sendbuff, size_t sendBytes, const void* recvbuff, size_t recvBytes,
                  std::ptrdiff_t inPlaceOffset, const char* inPlace) {
  const char* s = static_cast<const char*>(sendbuff);
  const char* r = static_cast<const char*>(recvbuff);
  if (s == r + inPlaceOffset) return;
  STRATA_CHECK(s + sendBytes <= r || r + recvBytes <= s, strataInvalidArgument,
               "sendbuff and recvbuff overlap without being in place ({})", inPlace);
}

void checkRoot(int root, int nranks) {
  STRATA_CHECK(root >= 0 && root < nranks, strataInvalidArgument, "root {} out of range [0, {})",
               root, nranks);
}

// Whether a collective's failure leaves the communicator unusable: not for bad arguments (nothing
// was sent), nor for a call on a communicator that has not finished connecting.
bool poisons(strataResult_t res) {
  return res != strataSuccess && res != strataInvalidArgument && res != strataInProgress;
}

// Where a collective's buffers live: -1 for host memory, else the CUDA device holding them. A
// buffer the rank does not use is passed as nullptr. Host and device buffers mixed is an error.
int bufferDevice(const void* sendbuff, const void* recvbuff) {
  const int sendDevice = sendbuff ? strata::gpu::deviceOfPointer(sendbuff) : -2;
  const int recvDevice = recvbuff ? strata::gpu::deviceOfPointer(recvbuff) : -2;
  if (sendDevice == -2) return recvDevice == -2 ? -1 : recvDevice;
  if (recvDevice == -2) return sendDevice;
  STRATA_CHECK(sendDevice == recvDevice, strataInvalidArgument,
               "sendbuff is {} and recvbuff is {}: both must be host memory or memory of one GPU",
               sendDevice < 0 ? std::string("host memory") : "on GPU " + std::to_string(sendDevice),
               recvDevice < 0 ? std::string("host memory") : "on GPU " + std::to_string(recvDevice));
  return sendDevice;
}

// Runs or enqueues a collective whose arguments were checked. Host buffers: on the calling
// thread, after the device collectives enqueued before it (so that every rank sees one order),
// and a stream is an error. Device buffers: enqueued on the stream (NULL is CUDA's default
// stream), run by the communicator's proxy.
void execute(strataComm* comm, strataStream_t stream, const strata::gpu::DeviceCollective& c) {
  const int device = bufferDevice(c.sendBytes ? c.send : nullptr, c.recvBytes ? c.recv : nullptr);
  if (device < 0) {
    // (With no bytes on this rank there is no telling where the buffers are; the stream is moot.)
    STRATA_CHECK(stream == nullptr || (c.sendBytes == 0 && c.recvBytes == 0), strataInvalidArgument,
                 "a stream was given but the buffers are host memory: streams order device-buffer "
                 "collectives; pass NULL for host buffers");
    strata::gpu::StreamProxy* proxy;
    {
      std::lock_guard<std::mutex> lock(comm->proxyMutex);
      proxy = comm->proxy.get();
    }
    if (proxy) proxy->drain();
    std::lock_guard<std::mutex> lock(comm->runMutex);
    comm->impl->run(c.collective, c.send, c.recv, c.count, c.type, c.op, c.root);
    return;
  }
  strata::gpu::DeviceCollective onDevice = c;
  onDevice.device = device;
  onDevice.stream = stream;
  onDevice.direct = c.collective == strata::Collective::AllReduce && comm->impl->cudaIpcAllReduceApplies();
  std::lock_guard<std::mutex> lock(comm->proxyMutex);
  if (!comm->proxy) {
    comm->proxy = std::make_unique<strata::gpu::StreamProxy>(
        [comm](const strata::gpu::DeviceCollective& d, const void* hostSend, void* hostRecv) {
          std::lock_guard<std::mutex> runLock(comm->runMutex);
          comm->impl->run(d.collective, hostSend, hostRecv, d.count, d.type, d.op, d.root);
        },
        [comm](const strata::gpu::DeviceCollective& d, void* proxyStream) {
          std::lock_guard<std::mutex> runLock(comm->runMutex);
          comm->impl->cudaIpcAllReduce(d.send, d.recv, d.count, d.type, d.op, proxyStream);
        },
        [comm](strataResult_t code, const std::string& text) {
          recordError(comm, text);
          comm->asyncError.store(code);
        },
        &comm->abortFlag, comm->impl->config().timeoutSec);
  }
  comm->proxy->enqueue(onDevice);
}

// The byte sizes of a collective's two buffers on this rank (0 where the rank does not use one).
strata::gpu::DeviceCollective describe(strata::Collective collective, const void* sendbuff,
                                       size_t sendBytes, void* recvbuff, size_t recvBytes,
                                       size_t count, strataDataType_t type, strataRedOp_t op,
                                       int root) {
  strata::gpu::DeviceCollective c;
  c.collective = collective;
  c.send = sendbuff;
  c.sendBytes = sendbuff ? sendBytes : 0;
  c.recv = recvbuff;
  c.recvBytes = recvbuff ? recvBytes : 0;
  c.count = count;
  c.type = type;
  c.op = op;
  c.root = root;
  return c;
}

// Runs a collective's body under the API's conventions: comm looked up first so that argument
// errors land in its last-error text; failures other than bad arguments poison the communicator.
template <typename Body>
strataResult_t collective(strataComm_t comm, const char* call, Body&& body) {
  CommUse use(comm);
  strataComm* live = use.live();
  strataResult_t res = guarded(live, call, [&] {
    use.check();
    body(use);
  });
  if (poisons(res) && live) live->asyncError.store(res);
  return res;
}

}  // namespace

STRATA_API strataResult_t strataGetVersion(int* version) {
  if (!version) return strataInvalidArgument;
  *version = STRATA_VERSION_CODE;
  return strataSuccess;
}

STRATA_API strataResult_t strataGetUniqueId(strataUniqueId* uniqueId) {
  return guarded(nullptr, "strataGetUniqueId", [&] {
    STRATA_CHECK(uniqueId, strataInvalidArgument, "uniqueId is NULL");
    *uniqueId = strata::startBootstrapRoot(nullptr, 0, strata::resolveConfig(nullptr).timeoutSec);
  });
}

STRATA_API strataResult_t strataCommInitRank(strataComm_t* comm, int nranks, strataUniqueId commId,
                                             int rank) {
  return initRank(comm, nranks, commId, rank, nullptr);
}

STRATA_API strataResult_t strataCommInitRankConfig(strataComm_t* comm, int nranks,
                                                   strataUniqueId commId, int rank,
                                                   const strataConfig_t* config) {
  return initRank(comm, nranks, commId, rank, config);
}

STRATA_API strataResult_t strataCommInitFromEnv(strataComm_t* comm, const strataConfig_t* config) {
  strataUniqueId id;
  int nranks = 0, rank = 0;
  strataResult_t res = guarded(nullptr, "strataCommInitFromEnv", [&] {
    STRATA_CHECK(comm, strataInvalidArgument, "comm pointer is NULL");
    strata::LauncherEnv env = strata::readLauncherEnv();
    id = strata::launcherUniqueId(env, strata::resolveConfig(config).timeoutSec);
    nranks = env.nranks;
    rank = env.rank;
    strata::log(strata::LogLevel::Info, "rank {}/{} (local rank {}{}{}) from {}; root through {} ({})",
                rank, nranks, env.localRank, env.localRankVar.empty() ? "" : " from ", env.localRankVar,
                env.rankVars, strata::rootSourceName(env.root), env.rootVars);
  });
  if (res != strataSuccess) return res;
  return initRank(comm, nranks, id, rank, config);
}

STRATA_API strataResult_t strataCommDestroy(strataComm_t comm) {
  return guarded(nullptr, "strataCommDestroy", [&] {
    STRATA_CHECK(comm, strataInvalidArgument, "communicator is NULL");
    retire(comm);
    delete comm;
  });
}

STRATA_API strataResult_t strataCommAbort(strataComm_t comm) {
  return guarded(nullptr, "strataCommAbort", [&] {
    STRATA_CHECK(comm, strataInvalidArgument, "communicator is NULL");
    {
      // Only a live handle may be touched: a destroyed one is freed memory.
      std::lock_guard<std::mutex> lock(registryMutex);
      STRATA_CHECK(registry().count(comm) == 1, strataInvalidUsage,
                   "communicator {} is not valid (destroyed, aborted or never created)",
                   static_cast<void*>(comm));
      comm->abortFlag.store(true);  // waits in flight see it and return strataAborted
    }
    retire(comm);
    delete comm;
  });
}

STRATA_API strataResult_t strataCommShrink(strataComm_t comm, const int* excludeRanks,
                                           int nExclude, strataComm_t* newcomm,
                                           const strataConfig_t* config) {
  CommUse use(comm);
  bool blocking = true;
  strataResult_t res = guarded(use.live(), "strataCommShrink", [&] {
    use.check();
    STRATA_CHECK(newcomm, strataInvalidArgument, "newcomm is NULL");
    *newcomm = nullptr;
    STRATA_CHECK(nExclude >= 0, strataInvalidArgument, "nExclude must be >= 0, got {}", nExclude);
    STRATA_CHECK(excludeRanks || nExclude == 0, strataInvalidArgument,
                 "excludeRanks is NULL with nExclude {}", nExclude);
    std::vector<int> excluded(excludeRanks, excludeRanks + nExclude);
    // NULL config: the parent's (NCCL's rule for split and shrink).
    strata::Config resolved = config ? strata::resolveConfig(config) : use->config();
    blocking = resolved.blocking;
    int newRank = -1, newNranks = 0;
    // Agreeing on the id blocks even in non-blocking mode: it needs the parent, which the
    // caller may destroy as soon as this returns.
    const strataUniqueId id = use->agreeShrinkId(excluded, &newRank, &newNranks);
    createComm(newcomm, newNranks, newRank, resolved, "strataCommShrink",
               [id, newNranks, newRank, resolved, joinSec = strata::Comm::kShrinkJoinTimeouts *
                                                           use->config().timeoutSec](
                   const std::atomic<bool>* abortFlag) {
                 return std::make_unique<strata::Comm>(id, newNranks, newRank, resolved, abortFlag,
                                                       joinSec);
               });
  });
  return res == strataSuccess && !blocking ? strataInProgress : res;
}

STRATA_API strataResult_t strataCommCount(const strataComm_t comm, int* count) {
  CommUse use(comm);
  return guarded(use.live(), "strataCommCount", [&] {
    use.checkHandle();
    STRATA_CHECK(count, strataInvalidArgument, "count is NULL");
    *count = use.handle()->nranks;
  });
}

STRATA_API strataResult_t strataCommUserRank(const strataComm_t comm, int* rank) {
  CommUse use(comm);
  return guarded(use.live(), "strataCommUserRank", [&] {
    use.checkHandle();
    STRATA_CHECK(rank, strataInvalidArgument, "rank is NULL");
    *rank = use.handle()->rank;
  });
}

STRATA_API strataResult_t strataCommGetAsyncError(strataComm_t comm, strataResult_t* asyncError) {
  CommUse use(comm);
  return guarded(use.live(), "strataCommGetAsyncError", [&] {
    use.checkHandle();
    STRATA_CHECK(asyncError, strataInvalidArgument, "asyncError is NULL");
    *asyncError = comm->asyncError.load();
  });
}

STRATA_API strataResult_t strataAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                                          strataDataType_t datatype, strataRedOp_t op,
                                          strataComm_t comm, strataStream_t stream) {
  // comm is looked up first so that argument errors land in its last-error text.
  CommUse use(comm);
  strataComm* live = use.live();
  strataResult_t res = guarded(live, "strataAllReduce", [&] {
    use.check();
    STRATA_CHECK(datatype >= 0 && datatype < strataNumTypes, strataInvalidArgument,
                 "unknown datatype {}", static_cast<int>(datatype));
    STRATA_CHECK(op >= 0 && op < strataNumOps, strataInvalidArgument, "unknown reduction op {}",
                 static_cast<int>(op));
    const size_t elem = strataTypeSize(datatype);
    STRATA_CHECK(count <= SIZE_MAX / elem, strataInvalidArgument,
                 "count {} of {} overflows the address space", count, strataTypeName(datatype));
    if (count > 0) {
      STRATA_CHECK(sendbuff && recvbuff, strataInvalidArgument,
                   "sendbuff ({}) and recvbuff ({}) must not be NULL when count > 0", sendbuff,
                   static_cast<void*>(recvbuff));
      const char* s = static_cast<const char*>(sendbuff);
      const char* r = static_cast<const char*>(recvbuff);
      const size_t bytes = count * elem;
      STRATA_CHECK(s == r || s + bytes <= r || r + bytes <= s, strataInvalidArgument,
                   "sendbuff and recvbuff overlap without being the same buffer");
    }
    const size_t bytes = count * elem;
    execute(live, stream, describe(strata::Collective::AllReduce, sendbuff, bytes, recvbuff, bytes,
                                   count, datatype, op, 0));
  });
  if (poisons(res) && live) live->asyncError.store(res);
  return res;
}

STRATA_API strataResult_t strataReduceScatter(const void* sendbuff, void* recvbuff,
                                              size_t recvcount, strataDataType_t datatype,
                                              strataRedOp_t op, strataComm_t comm,
                                              strataStream_t stream) {
  return collective(comm, "strataReduceScatter", [&](CommUse& use) {
    const int n = use->nranks();
    const size_t elem = checkCollectiveArgs(datatype, &op, recvcount, size_t(n));
    if (recvcount == 0)
      return execute(use.live(), stream, describe(strata::Collective::ReduceScatter, sendbuff, 0,
                                                  recvbuff, 0, 0, datatype, op, 0));
    STRATA_CHECK(sendbuff && recvbuff, strataInvalidArgument,
                 "sendbuff ({}) and recvbuff ({}) must not be NULL when recvcount > 0", sendbuff,
                 static_cast<void*>(recvbuff));
    const size_t block = recvcount * elem;
    // In place: recvbuff is block `rank` of sendbuff, so sendbuff starts rank blocks before it.
    checkOverlap(sendbuff, block * size_t(n), recvbuff, block,
                 -static_cast<std::ptrdiff_t>(block * size_t(use->rank())),
                 "recvbuff == sendbuff + rank * recvcount");
    execute(use.live(), stream, describe(strata::Collective::ReduceScatter, sendbuff, block * size_t(n),
                                         recvbuff, block, recvcount * size_t(n), datatype, op, 0));
  });
}

STRATA_API strataResult_t strataAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                                          strataDataType_t datatype, strataComm_t comm,
                                          strataStream_t stream) {
  return collective(comm, "strataAllGather", [&](CommUse& use) {
    const int n = use->nranks();
    const size_t elem = checkCollectiveArgs(datatype, nullptr, sendcount, size_t(n));
    if (sendcount > 0) {
      STRATA_CHECK(sendbuff && recvbuff, strataInvalidArgument,
                   "sendbuff ({}) and recvbuff ({}) must not be NULL when sendcount > 0", sendbuff,
                   static_cast<void*>(recvbuff));
      const size_t block = sendcount * elem;
      checkOverlap(sendbuff, block, recvbuff, block * size_t(n),
                   static_cast<std::ptrdiff_t>(block * size_t(use->rank())),
                   "sendbuff == recvbuff + rank * sendcount");
    }
    const size_t block = sendcount * elem;
    execute(use.live(), stream, describe(strata::Collective::AllGather, sendbuff, block, recvbuff,
                                         block * size_t(n), sendcount * size_t(n), datatype,
                                         strataSum, 0));
  });
}

STRATA_API strataResult_t strataBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                                          strataDataType_t datatype, int root, strataComm_t comm,
                                          strataStream_t stream) {
  return collective(comm, "strataBroadcast", [&](CommUse& use) {
    const size_t elem = checkCollectiveArgs(datatype, nullptr, count, 1);
    checkRoot(root, use->nranks());
    const bool isRoot = use->rank() == root;
    if (count > 0) {
      STRATA_CHECK(recvbuff, strataInvalidArgument, "recvbuff must not be NULL when count > 0");
      STRATA_CHECK(sendbuff || !isRoot, strataInvalidArgument,
                   "sendbuff must not be NULL on the root (rank {}) when count > 0", root);
      if (isRoot)
        checkOverlap(sendbuff, count * elem, recvbuff, count * elem, 0, "sendbuff == recvbuff");
    }
    execute(use.live(), stream, describe(strata::Collective::Broadcast, isRoot ? sendbuff : nullptr,
                                         count * elem, recvbuff, count * elem, count, datatype,
                                         strataSum, root));
  });
}

STRATA_API strataResult_t strataReduce(const void* sendbuff, void* recvbuff, size_t count,
                                       strataDataType_t datatype, strataRedOp_t op, int root,
                                       strataComm_t comm, strataStream_t stream) {
  return collective(comm, "strataReduce", [&](CommUse& use) {
    const size_t elem = checkCollectiveArgs(datatype, &op, count, 1);
    checkRoot(root, use->nranks());
    const bool isRoot = use->rank() == root;
    if (count > 0) {
      STRATA_CHECK(sendbuff, strataInvalidArgument, "sendbuff must not be NULL when count > 0");
      STRATA_CHECK(recvbuff || !isRoot, strataInvalidArgument,
                   "recvbuff must not be NULL on the root (rank {}) when count > 0", root);
      if (isRoot)
        checkOverlap(sendbuff, count * elem, recvbuff, count * elem, 0, "sendbuff == recvbuff");
    }
    execute(use.live(), stream, describe(strata::Collective::Reduce, sendbuff, count * elem,
                                         isRoot ? recvbuff : nullptr, count * elem, count, datatype,
                                         op, root));
  });
}

STRATA_API const char* strataCommLastAlgorithm(const strataComm_t comm) {
  CommUse use(comm);
  return use.live() && use.live()->ready.load(std::memory_order_acquire)
             ? use->lastAlgorithm().c_str()
             : "";
}

STRATA_API const char* strataGetErrorString(strataResult_t result) {
  switch (result) {
    case strataSuccess: return "no error";
    case strataUnhandledCudaError: return "unhandled CUDA error";
    case strataSystemError: return "system call failed";
    case strataInternalError: return "internal error (a bug in Strata)";
    case strataInvalidArgument: return "invalid argument";
    case strataInvalidUsage: return "invalid usage";
    case strataRemoteError: return "remote process failed or disconnected";
    case strataInProgress: return "operation in progress";
    case strataTimeout: return "timed out";
    case strataAborted: return "communicator aborted";
    default: return "unknown result code";
  }
}

STRATA_API const char* strataGetLastError(strataComm_t comm) {
  CommUse use(comm);
  if (strataComm* live = use.live()) {
    std::lock_guard<std::mutex> lock(live->errorMutex);
    // Copied into thread storage so the pointer stays valid while other threads record errors.
    threadLastError = live->lastError;
  }
  return threadLastError.c_str();
}

STRATA_API size_t strataTypeSize(strataDataType_t datatype) {
  switch (datatype) {
    case strataInt8: case strataUint8: case strataFloat8e4m3: case strataFloat8e5m2: return 1;
    case strataFloat16: case strataBfloat16: return 2;
    case strataInt32: case strataUint32: case strataFloat32: return 4;
    case strataInt64: case strataUint64: case strataFloat64: return 8;
    default: return 0;
  }
}

STRATA_API const char* strataTypeName(strataDataType_t datatype) {
  static const char* names[] = {"int8", "uint8", "int32", "uint32", "int64", "uint64",
                                "half", "float", "double", "bfloat16", "fp8e4m3", "fp8e5m2"};
  return datatype >= 0 && datatype < strataNumTypes ? names[datatype] : "unknown";
}

STRATA_API const char* strataOpName(strataRedOp_t op) {
  static const char* names[] = {"sum", "prod", "max", "min", "avg"};
  return op >= 0 && op < strataNumOps ? names[op] : "unknown";
}
