// The GPU reduction kernels: one template per (storage type, op), chosen once per launch by
// enqueueReduce(), so the element loop has no branch on type or op. Each thread moves 16 bytes per
// access (uint4 loads and stores), a grid-stride loop over a grid of (SM count x blocks per SM)
// keeps every SM busy, and kUnroll independent vectors per thread keep several loads in flight.
// Elements before the first 16-byte boundary and after the last whole vector are done one by one.
//
// Arithmetic matches the CPU kernels (reduce_kernels.cc) bit for bit (save NaN payloads: GPU
// arithmetic on a NaN gives the canonical NaN, x86 keeps the operand's):
// - integers wrap modulo 2^bits (computed unsigned);
// - float and double reduce in their own type; min/max are `a < b ? a : b` / `a > b ? a : b`
//   (NaN handling included, which fminf/fmaxf would change);
// - float16, bfloat16 and fp8 widen to float and round back once with round-to-nearest-even,
//   NaNs encoded as float_formats.cc does (payload kept, quiet bit set). With more than two
//   inputs the accumulation stays in float and rounds once at the end, where the CPU path rounds
//   after every pair: the two agree whenever the partial sums are exact (the tests' patterns).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <type_traits>

#include "reduce/cuda/reduce_cuda.h"

namespace strata::gpu {
namespace {

// ---- Storage types and their accumulators ----------------------------------------------------

__device__ __forceinline__ uint32_t floatBits(float f) { return __float_as_uint(f); }
__device__ __forceinline__ bool isNanFloat(float f) { return (floatBits(f) & 0x7fffffffu) > 0x7f800000u; }

template <typename S>
struct PlainFormat {  // integers, float, double: the accumulator is the type itself
  using Storage = S;
  using Acc = S;
  __device__ static Acc widen(S v) { return v; }
  __device__ static S narrow(Acc v) { return v; }
};

struct HalfFormat {
  using Storage = uint16_t;
  using Acc = float;
  __device__ static float widen(uint16_t v) { return __half2float(__ushort_as_half(v)); }
  __device__ static uint16_t narrow(float f) {
    const uint32_t bits = floatBits(f);
    // NaN: quiet, top payload bits kept (float_formats.cc); the hardware gives a canonical NaN.
    const uint16_t nan = static_cast<uint16_t>(((bits >> 16) & 0x8000u) | 0x7e00u | ((bits >> 13) & 0x1ffu));
    return isNanFloat(f) ? nan : __half_as_ushort(__float2half_rn(f));
  }
};

struct Bf16Format {
  using Storage = uint16_t;
  using Acc = float;
  __device__ static float widen(uint16_t v) { return __uint_as_float(static_cast<uint32_t>(v) << 16); }
  __device__ static uint16_t narrow(float f) {
    // The CPU kernels' integer rounding: RNE on the low half-word; NaN forced quiet.
    const uint32_t bits = floatBits(f);
    const uint32_t rounded = bits + 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>((isNanFloat(f) ? (bits | 0x00400000u) : rounded) >> 16);
  }
};

struct E4m3Format {
  using Storage = uint8_t;
  using Acc = float;
  __device__ static float widen(uint8_t v) {
    return __half2float(__half(__nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(v), __NV_E4M3)));
  }
  __device__ static uint8_t narrow(float f) {
    // Saturating (+-448), as floatToE4m3; NaN is S.1111.111.
    const uint8_t nan = static_cast<uint8_t>(((floatBits(f) >> 24) & 0x80u) | 0x7fu);
    return isNanFloat(f) ? nan : static_cast<uint8_t>(__nv_cvt_float_to_fp8(f, __NV_SATFINITE, __NV_E4M3));
  }
};

struct E5m2Format {
  using Storage = uint8_t;
  using Acc = float;
  __device__ static float widen(uint8_t v) {
    return __half2float(__half(__nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(v), __NV_E5M2)));
  }
  __device__ static uint8_t narrow(float f) {
    // Overflow rounds to infinity, as floatToE5m2; NaN quiet with the top payload bit.
    const uint32_t bits = floatBits(f);
    const uint8_t nan = static_cast<uint8_t>(((bits >> 24) & 0x80u) | 0x7eu | ((bits >> 21) & 1u));
    return isNanFloat(f) ? nan : static_cast<uint8_t>(__nv_cvt_float_to_fp8(f, __NV_NOSAT, __NV_E5M2));
  }
};

// ---- Operations on accumulators -----------------------------------------------------------------

struct SumOp {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
    } else {
      return a + b;
    }
  }
};

struct ProdOp {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      // 8-bit operands must not be promoted to (signed, overflowing) int.
      using U = std::make_unsigned_t<T>;
      using Wide = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, U>;
      return static_cast<T>(static_cast<Wide>(static_cast<U>(a)) * static_cast<U>(b));
    } else {
      return a * b;
    }
  }
};

struct MaxOp {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a > b ? a : b; }
};

struct MinOp {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a < b ? a : b; }
};

// The avg finalisation of a fully reduced value, as finalize() on the CPU: integers divide in 64
// bits (truncating), float/double in their type, narrow floats round the sum first, then divide
// in float and round again.
template <typename Format>
__device__ typename Format::Storage divideFinal(typename Format::Acc sum, int divisor) {
  using S = typename Format::Storage;
  // Narrow floats first: their storage is an unsigned integer type (the bits), not a number.
  if constexpr (!std::is_same_v<typename Format::Acc, S>) {
    return Format::narrow(Format::widen(Format::narrow(sum)) / static_cast<float>(divisor));
  } else if constexpr (std::is_integral_v<S>) {
    using Wide = std::conditional_t<std::is_signed_v<S>, int64_t, uint64_t>;
    return static_cast<S>(static_cast<Wide>(sum) / static_cast<Wide>(divisor));
  } else {
    return sum / static_cast<S>(divisor);
  }
}

// ---- The kernel ---------------------------------------------------------------------------------

struct KernelArgs {
  const void* inputs[kMaxReduceInputs];
  void* outputs[kMaxReduceOutputs];
  int numInputs;
  int numOutputs;
  size_t head;      // elements before the first 16-byte boundary (done one by one)
  size_t vectors;   // whole 16-byte vectors after the head (0 when the buffers' offsets differ)
  size_t count;
  int avgDivisor;
};

constexpr int kThreads = 512;

template <typename Format, typename Op, bool kDivide>
__device__ __forceinline__ void reduceOne(const KernelArgs& args, size_t i) {
  using S = typename Format::Storage;
  const Op op{};
  typename Format::Acc acc = Format::widen(static_cast<const S*>(args.inputs[0])[i]);
  for (int k = 1; k < args.numInputs; ++k) acc = op(acc, Format::widen(static_cast<const S*>(args.inputs[k])[i]));
  S out;
  if constexpr (kDivide) out = divideFinal<Format>(acc, args.avgDivisor);
  else out = Format::narrow(acc);
  for (int o = 0; o < args.numOutputs; ++o) static_cast<S*>(args.outputs[o])[i] = out;
}

template <typename Format, typename Op, bool kDivide>
// __grid_constant__: the pointer arrays are indexed at run time, which would otherwise copy the
// whole parameter block to local memory in every thread.
__global__ void __launch_bounds__(kThreads) reduceKernel(const __grid_constant__ KernelArgs args) {
  using S = typename Format::Storage;
  using Acc = typename Format::Acc;
  constexpr int kPerVector = 16 / sizeof(S);
  // Independent 16-byte vectors in flight per thread; two for 1-byte types, whose 16 float
  // accumulators per vector would otherwise spill registers.
  constexpr int kUnroll = sizeof(S) == 1 ? 2 : 4;
  union Vector {
    uint4 raw;
    S elements[kPerVector];
  };
  const Op op{};
  const size_t thread = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  const size_t stride = size_t(gridDim.x) * blockDim.x;

  // The vector body: vectors [v, v + kUnroll * stride) in steps of stride, all loads of one
  // input issued before any use.
  const auto vectorAt = [&](int k, size_t v) {
    return reinterpret_cast<const uint4*>(static_cast<const S*>(args.inputs[k]) + args.head) + v;
  };
  size_t v = thread;
  for (; v + (kUnroll - 1) * stride < args.vectors; v += kUnroll * stride) {
    Acc acc[kUnroll][kPerVector];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      Vector in;
      in.raw = *vectorAt(0, v + u * stride);
#pragma unroll
      for (int e = 0; e < kPerVector; ++e) acc[u][e] = Format::widen(in.elements[e]);
    }
    for (int k = 1; k < args.numInputs; ++k) {
      Vector in[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) in[u].raw = *vectorAt(k, v + u * stride);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u)
#pragma unroll
        for (int e = 0; e < kPerVector; ++e) acc[u][e] = op(acc[u][e], Format::widen(in[u].elements[e]));
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      Vector out;
#pragma unroll
      for (int e = 0; e < kPerVector; ++e) {
        if constexpr (kDivide) out.elements[e] = divideFinal<Format>(acc[u][e], args.avgDivisor);
        else out.elements[e] = Format::narrow(acc[u][e]);
      }
      for (int o = 0; o < args.numOutputs; ++o)
        reinterpret_cast<uint4*>(static_cast<S*>(args.outputs[o]) + args.head)[v + u * stride] = out.raw;
    }
  }
  // Fewer than kUnroll strides of vectors left: one at a time, element-wise.
  for (; v < args.vectors; v += stride)
    for (int e = 0; e < kPerVector; ++e) reduceOne<Format, Op, kDivide>(args, args.head + v * kPerVector + e);
  // The unaligned head and the tail after the last whole vector.
  const size_t tailStart = args.head + args.vectors * kPerVector;
  for (size_t i = thread; i < args.head; i += stride) reduceOne<Format, Op, kDivide>(args, i);
  for (size_t i = tailStart + thread; i < args.count; i += stride) reduceOne<Format, Op, kDivide>(args, i);
}

// ---- Launch ---------------------------------------------------------------------------------------

// Blocks to keep every SM busy: the blocks of this kernel resident per SM (its register use
// decides) times the SMs, no more than the work needs. Asked once per (device, kernel).
template <typename Kernel>
int gridBlocks(Kernel kernel, size_t work) {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> residentByDevice[kMaxDevices] = {};  // per instantiation of Kernel
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kMaxDevices) device = 0;
  int resident = residentByDevice[device].load(std::memory_order_relaxed);
  if (resident == 0) {
    int sms = 0, perSm = 0;
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms <= 0) sms = 1;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, kernel, kThreads, 0) != cudaSuccess || perSm <= 0) perSm = 1;
    resident = sms * perSm;
    residentByDevice[device].store(resident, std::memory_order_relaxed);
  }
  const size_t needed = (work + kThreads - 1) / kThreads;
  const size_t blocks = needed < size_t(resident) ? needed : size_t(resident);
  return blocks == 0 ? 1 : static_cast<int>(blocks);
}

template <typename Format, typename Op, bool kDivide>
cudaError_t launch(const ReduceSpec& spec, cudaStream_t stream) {
  using S = typename Format::Storage;
  KernelArgs args{};
  for (int k = 0; k < spec.numInputs; ++k) args.inputs[k] = spec.inputs[k];
  for (int o = 0; o < spec.numOutputs; ++o) args.outputs[o] = spec.outputs[o];
  args.numInputs = spec.numInputs;
  args.numOutputs = spec.numOutputs;
  args.count = spec.count;
  args.avgDivisor = spec.avgDivisor;
  // The vector path needs every buffer at the same offset modulo 16 bytes; the head brings them
  // to the boundary together.
  const uintptr_t misalignment = reinterpret_cast<uintptr_t>(spec.inputs[0]) % 16;
  bool together = misalignment % sizeof(S) == 0;
  for (int k = 0; k < spec.numInputs; ++k) together &= reinterpret_cast<uintptr_t>(spec.inputs[k]) % 16 == misalignment;
  for (int o = 0; o < spec.numOutputs; ++o) together &= reinterpret_cast<uintptr_t>(spec.outputs[o]) % 16 == misalignment;
  constexpr size_t kPerVector = 16 / sizeof(S);
  if (together) {
    const size_t head = misalignment == 0 ? 0 : (16 - misalignment) / sizeof(S);
    args.head = head < spec.count ? head : spec.count;
    args.vectors = (spec.count - args.head) / kPerVector;
  } else {
    args.head = spec.count;  // everything element by element
    args.vectors = 0;
  }
  const size_t work = args.vectors > 0 ? args.vectors : spec.count;
  const auto kernel = &reduceKernel<Format, Op, kDivide>;
  kernel<<<gridBlocks(kernel, work), kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

template <typename Format>
cudaError_t launchForOp(const ReduceSpec& spec, cudaStream_t stream) {
  switch (spec.op) {
    case strataSum: return launch<Format, SumOp, false>(spec, stream);
    case strataProd: return launch<Format, ProdOp, false>(spec, stream);
    case strataMax: return launch<Format, MaxOp, false>(spec, stream);
    case strataMin: return launch<Format, MinOp, false>(spec, stream);
    case strataAvg:
      return spec.avgDivisor > 0 ? launch<Format, SumOp, true>(spec, stream) : launch<Format, SumOp, false>(spec, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

int enqueueReduce(const ReduceSpec& spec, void* stream) {
  if (spec.numInputs < 1 || spec.numInputs > kMaxReduceInputs || spec.numOutputs < 1 ||
      spec.numOutputs > kMaxReduceOutputs || spec.avgDivisor < 0)
    return cudaErrorInvalidValue;
  if (spec.count == 0) return cudaSuccess;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (spec.type) {
    case strataInt8: return launchForOp<PlainFormat<int8_t>>(spec, s);
    case strataUint8: return launchForOp<PlainFormat<uint8_t>>(spec, s);
    case strataInt32: return launchForOp<PlainFormat<int32_t>>(spec, s);
    case strataUint32: return launchForOp<PlainFormat<uint32_t>>(spec, s);
    case strataInt64: return launchForOp<PlainFormat<int64_t>>(spec, s);
    case strataUint64: return launchForOp<PlainFormat<uint64_t>>(spec, s);
    case strataFloat16: return launchForOp<HalfFormat>(spec, s);
    case strataFloat32: return launchForOp<PlainFormat<float>>(spec, s);
    case strataFloat64: return launchForOp<PlainFormat<double>>(spec, s);
    case strataBfloat16: return launchForOp<Bf16Format>(spec, s);
    case strataFloat8e4m3: return launchForOp<E4m3Format>(spec, s);
    case strataFloat8e5m2: return launchForOp<E5m2Format>(spec, s);
    default: return cudaErrorInvalidValue;
  }
}

const char* cudaErrorText(int error) {
  static thread_local char text[160];
  const cudaError_t e = static_cast<cudaError_t>(error);
  snprintf(text, sizeof text, "%s: %s", cudaGetErrorName(e), cudaGetErrorString(e));
  return text;
}

}  // namespace strata::gpu
