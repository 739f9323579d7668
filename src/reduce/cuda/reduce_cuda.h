// GPU reduction kernels, seen from plain C++: this header includes no CUDA header, so the
// executor, the proxy and the CUDA IPC transport can ask for a reduction without being compiled
// by nvcc. The kernels (reduce_kernels.cu) are templates on (type, op) inside, type-erased here,
// as the CPU kernels are (reduce/reduce.h).
#pragma once

#include <cstddef>

#include "strata/strata.h"

namespace strata::gpu {

// A reduction reads up to this many inputs in one pass (the ranks of one host sharing GPUs).
inline constexpr int kMaxReduceInputs = 8;
// ...and writes its result to up to this many outputs (reduce, reduce-copy, or a reduced shard
// written straight into every local rank's output by the CUDA IPC all-reduce).
inline constexpr int kMaxReduceOutputs = 8;

struct ReduceSpec {
  // outputs[o][i] = inputs[0][i] op inputs[1][i] op ... for i < count. An output may be the same
  // pointer as an input (in place) but must not otherwise overlap one. Pointers are device
  // pointers (or peers' buffers mapped through CUDA IPC) of `type`; any alignment works, and
  // buffers that share their offset modulo 16 bytes take the 16-byte vector path.
  const void* inputs[kMaxReduceInputs] = {};
  int numInputs = 0;  // 1 (a copy, with the avg division if asked) .. kMaxReduceInputs
  void* outputs[kMaxReduceOutputs] = {};
  int numOutputs = 1;  // 1 .. kMaxReduceOutputs
  size_t count = 0;
  strataDataType_t type = strataFloat32;
  strataRedOp_t op = strataSum;
  // With strataAvg and avgDivisor > 0, the result is divided by avgDivisor exactly as the CPU
  // finalize() does (sum rounded to the type first, then one division); with 0 avg is a sum.
  int avgDivisor = 0;
};

// strataTypeSize() without the C API's library (strata-gpu-check links no api.cc).
inline size_t elementBytes(strataDataType_t type) {
  switch (type) {
    case strataInt8: case strataUint8: case strataFloat8e4m3: case strataFloat8e5m2: return 1;
    case strataFloat16: case strataBfloat16: return 2;
    case strataInt32: case strataUint32: case strataFloat32: return 4;
    default: return 8;
  }
}

// Enqueues the reduction on `stream` (a cudaStream_t; nullptr is the legacy default stream) on
// the current device and returns at once. Returns the cudaError_t of the launch as an int (0 is
// success), so that this header needs no CUDA.
int enqueueReduce(const ReduceSpec& spec, void* stream);

// The text of a cudaError_t returned above ("cudaErrorInvalidValue: invalid argument").
const char* cudaErrorText(int error);

}  // namespace strata::gpu
