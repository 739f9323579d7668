// CUDA IPC between the ranks of one host: each rank maps the other ranks' device buffers into its
// own address space (cudaIpcGetMemHandle / cudaIpcOpenMemHandle; peer access is enabled on the
// way when the ranks are on different GPUs), and the reduction kernels read and write them
// directly, so data moves GPU to GPU with no host copy.
//
// Several ranks may share one GPU: CUDA IPC maps memory between processes on the same device as
// well as across devices (it refuses only a handle opened by the process that exported it, and
// ranks that are threads of one process need no mapping at all: see sameProcess below).
//
// The collective here is all-reduce as one reduce-scatter fused with the all-gather: local rank r
// reduces shard r of every rank's input and writes the result into shard r of every rank's
// output (one kernel: n inputs, n outputs), so each rank reads and writes each byte once, the
// least traffic an all-reduce on one host can make. When all ranks share one GPU, rank 0 runs
// that kernel over every shard at once (same traffic, no switching between the processes'
// kernels). Two host-side meetings of the local ranks
// order it: after the exchange of buffer handles (every input is ready) and after the kernel
// (every output shard is written). This is not a slot transport for the executor: docs/gpu.md
// says how it fits the schedule/executor design and what is left.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strata/strata.h"
#include "transports/transport.h"

namespace strata {

// The local ranks, as the CUDA IPC transport needs them: a fixed-size exchange and a meeting.
// The library implements it over the bootstrap; strata-gpu-check over shared memory.
class LocalGroup {
 public:
  virtual ~LocalGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank gives `bytes` bytes; `all` (size() * bytes) receives rank r's at r * bytes.
  virtual void allGather(const void* mine, size_t bytes, void* all) = 0;
  virtual void barrier() = 0;
};

class CudaIpcAllReduce {
 public:
  // At most gpu::kMaxReduceInputs local ranks. Uses the calling thread's current device.
  explicit CudaIpcAllReduce(LocalGroup& group);
  ~CudaIpcAllReduce();  // unmaps every peer buffer it mapped
  CudaIpcAllReduce(const CudaIpcAllReduce&) = delete;
  CudaIpcAllReduce& operator=(const CudaIpcAllReduce&) = delete;

  static TransportCaps caps() {
    TransportCaps c;
    c.zeroCopy = true;
    c.deviceMemory = true;
    return c;
  }

  // recv = the reduction of every local rank's send, as strataAllReduce. Every local rank calls
  // it with the same count, type and op. send and recv are device memory from cudaMalloc (any
  // offset into an allocation); send == recv is in place. The work is done on `stream` (a
  // cudaStream_t); the call returns when the result is in recv. Throws std::runtime_error on
  // CUDA errors (this file is also built into strata-gpu-check, without fmt or strata::Error).
  void allReduce(const void* send, void* recv, size_t count, strataDataType_t type, strataRedOp_t op,
                 void* stream);

  // Bytes each rank reads and writes in allReduce of `bytes`: the traffic bound of bench reports.
  static double bytesMovedPerRank(size_t bytes) { return 2.0 * static_cast<double>(bytes); }

 private:
  struct Exported;
  // The address of `exported` in this process: a peer's allocation mapped once and cached.
  char* map(int peer, const Exported& exported);

  LocalGroup& group_;
  unsigned char gpuId_[16] = {};  // this rank's GPU UUID, read at the first all-reduce
  bool haveGpuId_ = false;
  // Peer mappings by the peer's handle bytes. A handle names one allocation for its lifetime, so
  // the cache stays right while peers reuse buffers; a freed and reallocated buffer gets a new
  // handle, and its old mapping is released only at destruction.
  std::map<std::string, char*> mapped_;
};

}  // namespace strata
