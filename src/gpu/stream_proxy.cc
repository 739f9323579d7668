#include "gpu/stream_proxy.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#ifdef STRATA_HAVE_CUDA
#include <cuda.h>  // only the CUstream / CUdeviceptr types and flags of cuStreamWaitValue32
#include <cuda_runtime.h>
#endif

#include "core/deadline.h"
#include "core/error.h"
#include "core/log.h"

namespace strata::gpu {

#ifndef STRATA_HAVE_CUDA

struct StreamProxy::Impl {};
StreamProxy::StreamProxy(HostRun, DeviceRun, ErrorSink, const std::atomic<bool>*, double, bool) {}
StreamProxy::~StreamProxy() = default;
void StreamProxy::enqueue(const DeviceCollective&) {
  fail(strataInvalidUsage, "device buffers need a build with CUDA (STRATA_WITH_CUDA)");
}
void StreamProxy::drain() {}
bool StreamProxy::streamWaitsOnGpu() const { return false; }

#else

namespace {

#define STRATA_CUDA_CHECK(call)                                                                 \
  do {                                                                                          \
    const cudaError_t rc_ = (call);                                                             \
    if (rc_ != cudaSuccess)                                                                     \
      ::strata::fail(strataUnhandledCudaError, "{}: {}: {}", #call, cudaGetErrorName(rc_),      \
                     cudaGetErrorString(rc_));                                                  \
  } while (0)

// Pinned host memory, grown on demand, freed with its owner. A buffer that grows does not free
// its old memory there and then: cudaFreeHost waits for the whole device, and another rank's
// stream on this device may be held in a stream wait until this rank's collective runs. The old
// memory is retired, to be freed with the proxy; growth at least doubles, so retired memory stays
// below the live. (Growing still allocates, which takes CUDA's context lock: docs/gpu.md,
// "Several ranks in one process", says why callers enqueue on every rank before blocking.)
struct PinnedBuffer {
  void* ptr = nullptr;
  size_t capacity = 0;
  void reserve(size_t bytes, std::vector<void*>& retired) {
    if (bytes <= capacity) return;
    if (ptr) retired.push_back(ptr);
    ptr = nullptr;
    const size_t grown = std::max({bytes, 2 * capacity, size_t(1) << 20});
    STRATA_CUDA_CHECK(cudaHostAlloc(&ptr, grown, cudaHostAllocPortable));
    capacity = grown;
  }
  void release() {
    if (ptr) cudaFreeHost(ptr);
    ptr = nullptr;
    capacity = 0;
  }
};

using StreamWaitValue32 = CUresult (*)(CUstream, CUdeviceptr, cuuint32_t, unsigned int);

// collectiveName() without the planner's registry (strata-gpu-check builds this file alone).
const char* nameOf(Collective c) {
  switch (c) {
    case Collective::AllReduce: return "all-reduce";
    case Collective::ReduceScatter: return "reduce-scatter";
    case Collective::AllGather: return "all-gather";
    case Collective::Broadcast: return "broadcast";
    case Collective::Reduce: return "reduce";
  }
  return "collective";
}

}  // namespace

struct StreamProxy::Impl {
  // One enqueued collective and the resources it holds until its stream is past it.
  struct Operation {
    DeviceCollective collective;
    uint32_t sequence = 0;
    PinnedBuffer hostSend, hostRecv;
    cudaEvent_t inputReady = nullptr;    // the D2H copy is done: the proxy may start
    cudaEvent_t outputCopied = nullptr;  // the H2D copy is done: the buffers may be reused
    int eventDevice = -1;
    std::atomic<bool> proxyDone{true};
    Impl* owner = nullptr;               // for the host-function fallback
    ~Operation() {
      // The stream may still be copying out of hostRecv: wait before freeing it.
      if (outputCopied) cudaEventSynchronize(outputCopied);
      if (inputReady) cudaEventDestroy(inputReady);
      if (outputCopied) cudaEventDestroy(outputCopied);
      hostSend.release();
      hostRecv.release();
    }
  };

  HostRun run;
  DeviceRun deviceRun;
  ErrorSink onError;
  const std::atomic<bool>* abortFlag;
  double timeoutSec;

  volatile uint32_t* completedFlag = nullptr;  // mapped pinned memory; the streams poll it
  CUdeviceptr completedFlagOnDevice = 0;       // its address for the GPU
  StreamWaitValue32 waitValue32 = nullptr;
  std::atomic<bool> gpuWait{false};

  std::mutex mutex;
  std::condition_variable wake;    // the proxy: work arrived or stop
  std::condition_variable drained; // drain(): the queue emptied
  std::deque<Operation*> queue;
  std::vector<std::unique_ptr<Operation>> operations;  // every one ever made, reused
  std::vector<void*> retired;  // pinned buffers outgrown, freed with the proxy (PinnedBuffer)
  uint32_t nextSequence = 0;
  bool stopping = false;
  bool failed = false;  // after a failure later collectives only release their streams
  std::thread thread;

  std::vector<cudaStream_t> proxyStreams;  // by device: where direct collectives run

  Impl(HostRun r, DeviceRun d, ErrorSink e, const std::atomic<bool>* abort, double timeout, bool forceHostWait)
      : run(std::move(r)), deviceRun(std::move(d)), onError(std::move(e)), abortFlag(abort), timeoutSec(timeout) {
    void* flag = nullptr;
    STRATA_CUDA_CHECK(cudaHostAlloc(&flag, sizeof(uint32_t), cudaHostAllocMapped | cudaHostAllocPortable));
    completedFlag = static_cast<volatile uint32_t*>(flag);
    *completedFlag = 0;
    void* onDevice = nullptr;
    STRATA_CUDA_CHECK(cudaHostGetDevicePointer(&onDevice, flag, 0));
    completedFlagOnDevice = reinterpret_cast<CUdeviceptr>(onDevice);
    void* entry = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuStreamWaitValue32", &entry, 12000, cudaEnableDefault, &found) ==
            cudaSuccess &&
        found == cudaDriverEntryPointSuccess && entry && !forceHostWait) {
      waitValue32 = reinterpret_cast<StreamWaitValue32>(entry);
      gpuWait = true;
    }
    cudaGetLastError();
    thread = std::thread([this] { loop(); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    thread.join();
    operations.clear();  // waits for each stream to be past its operation
    for (void* p : retired) cudaFreeHost(p);
    for (cudaStream_t s : proxyStreams)
      if (s) cudaStreamDestroy(s);
    cudaFreeHost(const_cast<uint32_t*>(completedFlag));
  }

  // A free operation: the proxy is done with it and its stream copied its output out.
  Operation& acquire() {
    for (auto& op : operations)
      if (op->outputCopied && op->proxyDone.load(std::memory_order_acquire) &&
          cudaEventQuery(op->outputCopied) == cudaSuccess)
        return *op;
    cudaGetLastError();  // cudaEventQuery's cudaErrorNotReady is not an error to keep
    operations.push_back(std::make_unique<Operation>());
    operations.back()->owner = this;
    return *operations.back();
  }

  static void hostWait(void* arg) {
    // CUDA's callback thread: no CUDA calls allowed here. The proxy always sets the flag, even
    // after a failure, and has its own deadline, so this wait ends.
    auto* op = static_cast<Operation*>(arg);
    Backoff backoff(1000);
    while (static_cast<int32_t>(*op->owner->completedFlag - op->sequence) < 0) backoff.pause();
  }

  void enqueue(const DeviceCollective& c) {
    int previousDevice = 0;
    STRATA_CUDA_CHECK(cudaGetDevice(&previousDevice));
    STRATA_CUDA_CHECK(cudaSetDevice(c.device));
    struct RestoreDevice {
      int device;
      ~RestoreDevice() { cudaSetDevice(device); }
    } restore{previousDevice};

    std::unique_lock<std::mutex> lock(mutex);
    Operation& op = acquire();
    if (op.eventDevice != c.device) {
      if (op.inputReady) cudaEventDestroy(op.inputReady);
      if (op.outputCopied) cudaEventDestroy(op.outputCopied);
      op.inputReady = op.outputCopied = nullptr;
      STRATA_CUDA_CHECK(cudaEventCreateWithFlags(&op.inputReady, cudaEventDisableTiming));
      STRATA_CUDA_CHECK(cudaEventCreateWithFlags(&op.outputCopied, cudaEventDisableTiming));
      op.eventDevice = c.device;
    }
    // Made here, on the caller's thread, not on the proxy's: creating a CUDA object takes the
    // context's lock, which another rank's thread of this process may hold while it blocks in a
    // copy that waits for this very collective (docs/gpu.md, "Several ranks in one process").
    if (c.direct) proxyStream(c.device);
    if (!c.direct) {
      op.hostSend.reserve(c.sendBytes, retired);
      op.hostRecv.reserve(c.recvBytes, retired);
    }
    op.collective = c;
    op.sequence = nextSequence + 1;
    auto stream = static_cast<cudaStream_t>(c.stream);
    if (c.sendBytes > 0 && !c.direct)
      STRATA_CUDA_CHECK(cudaMemcpyAsync(op.hostSend.ptr, c.send, c.sendBytes, cudaMemcpyDeviceToHost, stream));
    STRATA_CUDA_CHECK(cudaEventRecord(op.inputReady, stream));
    // Greater-or-equal, compared as the driver does (unsigned): the proxy may be further ahead
    // when the stream gets here. 2^32 collectives wrap the flag; a communicator does not live that long
    // at the rates a GPU collective runs.
    bool waiting = false;
    if (gpuWait) {
      const CUresult rc = waitValue32(reinterpret_cast<CUstream>(stream), completedFlagOnDevice, op.sequence,
                                      CU_STREAM_WAIT_VALUE_GEQ);
      if (rc == CUDA_SUCCESS) {
        waiting = true;
      } else {
        gpuWait = false;
        log(LogLevel::Info, "cuStreamWaitValue32 failed (CUresult {}): streams wait in a host function", int(rc));
      }
    }
    if (!waiting) STRATA_CUDA_CHECK(cudaLaunchHostFunc(stream, &Impl::hostWait, &op));
    if (c.recvBytes > 0 && !c.direct)
      STRATA_CUDA_CHECK(cudaMemcpyAsync(c.recv, op.hostRecv.ptr, c.recvBytes, cudaMemcpyHostToDevice, stream));
    STRATA_CUDA_CHECK(cudaEventRecord(op.outputCopied, stream));
    // Only now, with the stream's part in place, is the sequence number taken.
    nextSequence = op.sequence;
    op.proxyDone.store(false, std::memory_order_release);
    queue.push_back(&op);
    lock.unlock();
    wake.notify_one();
  }

  void drain() {
    std::unique_lock<std::mutex> lock(mutex);
    drained.wait(lock, [&] { return queue.empty(); });
  }

  void waitInput(Operation& op) {
    Deadline deadline(timeoutSec);
    Backoff backoff(1000);
    for (;;) {
      const cudaError_t rc = cudaEventQuery(op.inputReady);
      if (rc == cudaSuccess) return;
      if (rc != cudaErrorNotReady)
        fail(strataUnhandledCudaError, "the input copy of a device {}: {}: {}",
             nameOf(op.collective.collective), cudaGetErrorName(rc), cudaGetErrorString(rc));
      if (abortFlag && abortFlag->load(std::memory_order_relaxed)) fail(strataAborted, "communicator aborted");
      if (deadline.expired())
        fail(strataTimeout, "the stream did not reach the device {} within {} s (is it blocked?)",
             nameOf(op.collective.collective), timeoutSec);
      backoff.pause();
    }
  }

  // The proxy's own stream on `device` (the current device), made by the first direct
  // collective's enqueue (under `mutex`), used by the proxy thread.
  cudaStream_t proxyStream(int device) {
    if (proxyStreams.size() <= static_cast<size_t>(device)) proxyStreams.resize(device + 1, nullptr);
    if (!proxyStreams[device]) STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&proxyStreams[device], cudaStreamNonBlocking));
    return proxyStreams[device];
  }

  void loop() {
    int currentDevice = -1;
    for (;;) {
      Operation* op;
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping, nothing left
        op = queue.front();
      }
      if (!failed) {
        try {
          if (currentDevice != op->collective.device) {
            STRATA_CUDA_CHECK(cudaSetDevice(op->collective.device));
            currentDevice = op->collective.device;
          }
          waitInput(*op);
          if (op->collective.direct) {
            deviceRun(op->collective, proxyStreams[static_cast<size_t>(op->collective.device)]);
          } else {
            run(op->collective, op->collective.sendBytes ? op->hostSend.ptr : nullptr,
                op->collective.recvBytes ? op->hostRecv.ptr : nullptr);
          }
        } catch (const Error& e) {
          failed = true;
          onError(e.code(), std::string("device ") + nameOf(op->collective.collective) + ": " + e.what());
        } catch (const std::exception& e) {
          failed = true;
          onError(strataInternalError, std::string("device collective: internal error: ") + e.what());
        }
      }
      // Release the stream, after the output in the pinned buffer is visible: the executor may
      // have written it with non-temporal stores, which only sfence orders before the flag.
      std::atomic_thread_fence(std::memory_order_release);
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_sfence();
#endif
      *completedFlag = op->sequence;
      op->proxyDone.store(true, std::memory_order_release);
      {
        std::lock_guard<std::mutex> lock(mutex);
        queue.pop_front();
        if (queue.empty()) drained.notify_all();
      }
    }
  }
};

StreamProxy::StreamProxy(HostRun run, DeviceRun deviceRun, ErrorSink onError, const std::atomic<bool>* abortFlag,
                         double timeoutSec, bool forceHostFunctionWait)
    : impl_(std::make_unique<Impl>(std::move(run), std::move(deviceRun), std::move(onError), abortFlag, timeoutSec,
                                   forceHostFunctionWait)) {}
StreamProxy::~StreamProxy() = default;
void StreamProxy::enqueue(const DeviceCollective& c) { impl_->enqueue(c); }
void StreamProxy::drain() { impl_->drain(); }
bool StreamProxy::streamWaitsOnGpu() const { return impl_->gpuWait; }

#endif  // STRATA_HAVE_CUDA

}  // namespace strata::gpu
