#include "transports/cuda_ipc/cuda_ipc_transport.h"

#include <cuda.h>  // CUdeviceptr and cuMemGetAddressRange's type, reached through the runtime
#include <cuda_runtime.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "reduce/cuda/reduce_cuda.h"

namespace strata {
namespace {

// This file is also built into strata-gpu-check, which has no fmt: errors are formatted by hand.
[[noreturn]] void cudaFail(const char* call, cudaError_t rc) {
  throw std::runtime_error(std::string("CUDA IPC: ") + call + ": " + cudaGetErrorName(rc) + ": " +
                           cudaGetErrorString(rc));
}

#define IPC_CUDA_CHECK(call)                     \
  do {                                           \
    const cudaError_t rc_ = (call);              \
    if (rc_ != cudaSuccess) cudaFail(#call, rc_); \
  } while (0)

using MemGetAddressRange = CUresult (*)(CUdeviceptr*, size_t*, CUdeviceptr);

// The start of the allocation holding ptr: an IPC handle names an allocation, and a peer maps it
// from its start.
char* allocationBase(const void* ptr) {
  static MemGetAddressRange getRange = [] {
    void* entry = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuMemGetAddressRange", &entry, 12000, cudaEnableDefault, &found) !=
            cudaSuccess ||
        found != cudaDriverEntryPointSuccess)
      entry = nullptr;
    return reinterpret_cast<MemGetAddressRange>(entry);
  }();
  if (!getRange) throw std::runtime_error("CUDA IPC: the driver has no cuMemGetAddressRange");
  CUdeviceptr base = 0;
  size_t size = 0;
  if (CUresult rc = getRange(&base, &size, reinterpret_cast<CUdeviceptr>(ptr)); rc != CUDA_SUCCESS)
    throw std::runtime_error("CUDA IPC: cuMemGetAddressRange failed (CUresult " + std::to_string(int(rc)) +
                             "): is the buffer device memory from cudaMalloc?");
  return reinterpret_cast<char*>(base);
}

}  // namespace

// What a rank tells the others about one of its buffers.
struct CudaIpcAllReduce::Exported {
  cudaIpcMemHandle_t handle;
  uint64_t offset;      // of the buffer in its allocation
  uint64_t address;     // the buffer in the owner's address space (used by ranks in the same process)
  int64_t pid;          // ranks that are threads of one process share addresses and cannot open
                        // their own handles: they use `address` as it is
  unsigned char gpu[16];  // the owner's GPU (its UUID)
};

CudaIpcAllReduce::CudaIpcAllReduce(LocalGroup& group) : group_(group) {
  if (group_.size() > gpu::kMaxReduceInputs)
    throw std::runtime_error("CUDA IPC all-reduce: " + std::to_string(group_.size()) + " local ranks, at most " +
                             std::to_string(gpu::kMaxReduceInputs));
}

CudaIpcAllReduce::~CudaIpcAllReduce() {
  for (auto& [handle, base] : mapped_) cudaIpcCloseMemHandle(base);
}

char* CudaIpcAllReduce::map(int peer, const Exported& exported) {
  if (exported.pid == static_cast<int64_t>(getpid())) return reinterpret_cast<char*>(exported.address);
  const std::string key(reinterpret_cast<const char*>(&exported.handle), sizeof exported.handle);
  auto it = mapped_.find(key);
  if (it == mapped_.end()) {
    void* base = nullptr;
    // Lazy peer access: enabled if the peer's buffer is on another GPU of this host.
    const cudaError_t rc = cudaIpcOpenMemHandle(&base, exported.handle, cudaIpcMemLazyEnablePeerAccess);
    if (rc != cudaSuccess)
      throw std::runtime_error("CUDA IPC: cudaIpcOpenMemHandle of local rank " + std::to_string(peer) +
                               "'s buffer: " + cudaGetErrorName(rc) + ": " + cudaGetErrorString(rc));
    it = mapped_.emplace(key, static_cast<char*>(base)).first;
  }
  return it->second + exported.offset;
}

void CudaIpcAllReduce::allReduce(const void* send, void* recv, size_t count, strataDataType_t type,
                                 strataRedOp_t op, void* stream) {
  const int n = group_.size();
  const int me = group_.rank();
  auto s = static_cast<cudaStream_t>(stream);
  // Our input must be complete before peers read it: the stream is drained, then the exchange
  // below is the meeting after which everyone's input is ready.
  IPC_CUDA_CHECK(cudaStreamSynchronize(s));

  Exported mine[2] = {};
  const void* buffers[2] = {send, recv};
  for (int b = 0; b < 2; ++b) {
    char* base = allocationBase(buffers[b]);
    IPC_CUDA_CHECK(cudaIpcGetMemHandle(&mine[b].handle, base));
    mine[b].offset = static_cast<uint64_t>(static_cast<const char*>(buffers[b]) - base);
    mine[b].address = reinterpret_cast<uint64_t>(buffers[b]);
    mine[b].pid = static_cast<int64_t>(getpid());
  }
  if (!haveGpuId_) {
    int device = 0;
    cudaDeviceProp prop{};
    IPC_CUDA_CHECK(cudaGetDevice(&device));
    IPC_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    static_assert(sizeof prop.uuid == sizeof mine[0].gpu);
    std::memcpy(gpuId_, &prop.uuid, sizeof gpuId_);
    haveGpuId_ = true;
  }
  for (Exported& e : mine) std::memcpy(e.gpu, gpuId_, sizeof e.gpu);
  std::vector<Exported> all(2 * static_cast<size_t>(n));
  group_.allGather(mine, sizeof mine, all.data());

  // Shard r of the elements is local rank r's; shards are whole 16-byte vectors (except the
  // last), so that every rank's kernel takes the vector path when the buffers are aligned.
  // When every rank is on one GPU, rank 0 does all shards in one kernel instead: kernels of
  // different processes on one GPU do not run at once (they take turns, with a context switch
  // between), so one kernel over everything is the same traffic without the switches.
  bool oneGpu = true;
  for (int r = 0; r < n; ++r) oneGpu &= std::memcmp(all[2 * r].gpu, gpuId_, sizeof gpuId_) == 0;
  const size_t elem = gpu::elementBytes(type);
  const size_t perVector = 16 / elem;
  const size_t vectors = (count + perVector - 1) / perVector;
  const size_t shardVectors = (vectors + n - 1) / n;
  size_t begin = std::min(count, static_cast<size_t>(me) * shardVectors * perVector);
  size_t end = std::min(count, begin + shardVectors * perVector);
  if (oneGpu) {
    begin = 0;
    end = me == 0 ? count : 0;
  }

  if (end > begin) {
    gpu::ReduceSpec spec;
    spec.numInputs = n;
    spec.numOutputs = n;
    for (int r = 0; r < n; ++r) {
      char* in = r == me ? static_cast<char*>(const_cast<void*>(send)) : map(r, all[2 * r]);
      char* out = r == me ? static_cast<char*>(recv) : map(r, all[2 * r + 1]);
      spec.inputs[r] = in + begin * elem;
      spec.outputs[r] = out + begin * elem;
    }
    spec.count = end - begin;
    spec.type = type;
    spec.op = op;
    spec.avgDivisor = op == strataAvg ? n : 0;
    IPC_CUDA_CHECK(static_cast<cudaError_t>(gpu::enqueueReduce(spec, stream)));
    IPC_CUDA_CHECK(cudaStreamSynchronize(s));
  }
  // Every shard of our output is written (and nobody still reads our input) after this.
  group_.barrier();
}

}  // namespace strata
