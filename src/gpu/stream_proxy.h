// Device-buffer collectives in stream order (NCCL's semantics): the API call enqueues work on the
// user's cudaStream_t and returns; the result is in the device buffer when the stream reaches the
// point after the call. The path stages through pinned host memory, so it is correct on every
// transport (issue #6, item 4: between hosts without GPUDirect):
//
//   user stream:   D2H copy of the input -> event "input ready" -> wait for flag >= seq
//                  -> H2D copy of the output -> event "output copied"
//   proxy thread:  wait "input ready" -> the host collective on the pinned buffers (the
//                  communicator's ordinary schedule and executor) -> flag = seq
//
// A direct collective (the CUDA IPC all-reduce among the ranks of one host) skips both copies:
// the proxy runs it on the device buffers themselves between "input ready" and the flag.
//
// The stream waits with cuStreamWaitValue32 on a flag in mapped pinned memory: the GPU polls it,
// no CPU thread blocks, and streams of several communicators wait independently. Where the driver
// lacks stream memory operations it falls back to a host function that polls the flag (which
// holds CUDA's callback thread meanwhile). docs/gpu.md says why in full.
//
// One proxy per communicator, one thread per proxy, started on the first device collective.
// Collectives run in the order they were enqueued. A failure is reported through the error sink
// (the communicator's async error); the failed operation and every later one still release
// their streams, with undefined output, so that no stream hangs on a dead communicator.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "plan/registry.h"
#include "strata/strata.h"

namespace strata::gpu {

struct DeviceCollective {
  Collective collective = Collective::AllReduce;
  const void* send = nullptr;  // device memory; nullptr when this rank has no input
  size_t sendBytes = 0;
  void* recv = nullptr;        // device memory; nullptr when this rank has no output
  size_t recvBytes = 0;
  size_t count = 0;            // as Comm::run takes it
  strataDataType_t type = strataFloat32;
  strataRedOp_t op = strataSum;
  int root = 0;
  void* stream = nullptr;      // cudaStream_t
  int device = 0;              // the device of the buffers (and of the stream)
  // GPU to GPU (the CUDA IPC all-reduce): no staging; the proxy runs DeviceRun on the device
  // buffers, on a stream of its own, between the user stream's "input ready" and its wait.
  bool direct = false;
};

class StreamProxy {
 public:
  // Runs the collective on host buffers (hostSend/hostRecv are null where the device ones are).
  using HostRun = std::function<void(const DeviceCollective&, const void* hostSend, void* hostRecv)>;
  // Runs a direct collective on the device buffers; `stream` (a cudaStream_t of the proxy's, on
  // c.device) is for its kernels; it returns when they are done.
  using DeviceRun = std::function<void(const DeviceCollective&, void* stream)>;
  using ErrorSink = std::function<void(strataResult_t, const std::string&)>;

  // forceHostFunctionWait: streams wait in the polling host function even where the driver has
  // stream memory operations (for tests of that fallback).
  StreamProxy(HostRun run, DeviceRun deviceRun, ErrorSink onError, const std::atomic<bool>* abortFlag,
              double timeoutSec, bool forceHostFunctionWait = false);
  // Completes (or, once aborted, fails fast) what is queued, then stops the thread.
  ~StreamProxy();
  StreamProxy(const StreamProxy&) = delete;
  StreamProxy& operator=(const StreamProxy&) = delete;

  // Enqueues on c.stream and returns; throws strata::Error (strataUnhandledCudaError) when CUDA
  // refuses the copies or the wait.
  void enqueue(const DeviceCollective& c);
  // Blocks until every enqueued collective has run on the proxy (not until the streams caught
  // up): a host collective on the same communicator goes after them, in the same order on every
  // rank.
  void drain();
  // Whether the streams wait with cuStreamWaitValue32 (true) or a polling host function.
  bool streamWaitsOnGpu() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::gpu
