// Throughput of reduce() (sum, out of place) per kernel ISA, for the types that dominate training
// traffic, at a cache-resident size (64 KiB), an L2/L3 size (1 MiB) and a DRAM size (64 MiB).
// Bytes processed count both reads and the write: 3 x the size of one buffer.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "reduce/float_formats.h"
#include "reduce/reduce.h"

namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t, FreeDeleter>;

size_t elementBytes(strataDataType_t type) {
  switch (type) {
    case strataFloat16:
    case strataBfloat16: return 2;
    case strataFloat32:
    case strataInt32: return 4;
    default: return 0;
  }
}

// Ordinary values (no denormals or infinities, which could take slow paths in some hardware):
// 1 + i % 7 in the buffer's type.
Buffer makeBuffer(size_t bytes, strataDataType_t type) {
  Buffer buffer(static_cast<uint8_t*>(std::aligned_alloc(64, bytes)));
  const size_t count = bytes / elementBytes(type);
  for (size_t i = 0; i < count; ++i) {
    const int value = 1 + static_cast<int>(i % 7);
    uint8_t* p = buffer.get() + i * elementBytes(type);
    if (type == strataFloat16) {
      const uint16_t h = strata::floatToHalf(static_cast<float>(value));
      std::memcpy(p, &h, sizeof h);
    } else if (type == strataBfloat16) {
      const uint16_t b = strata::floatToBf16(static_cast<float>(value));
      std::memcpy(p, &b, sizeof b);
    } else if (type == strataFloat32) {
      const float f = static_cast<float>(value);
      std::memcpy(p, &f, sizeof f);
    } else {
      const int32_t v = value;
      std::memcpy(p, &v, sizeof v);
    }
  }
  return buffer;
}

void BM_ReduceSum(benchmark::State& state, const char* isa, strataDataType_t type) {
  if (!strata::forceReduceKernelIsa(isa)) {
    state.SkipWithError("ISA not supported by this CPU");
    return;
  }
  const size_t bytes = static_cast<size_t>(state.range(0));
  const size_t count = bytes / elementBytes(type);
  Buffer a = makeBuffer(bytes, type);
  Buffer b = makeBuffer(bytes, type);
  Buffer dst = makeBuffer(bytes, type);  // touched, so no page faults in the timed loop
  for (auto _ : state) {
    strata::reduce(dst.get(), a.get(), b.get(), count, type, strataSum);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 3 * static_cast<int64_t>(bytes));
  state.SetLabel(strata::reduceKernelIsa());
  strata::forceReduceKernelIsa(nullptr);
}

#define STRATA_BENCH_REDUCE(isa, typeName, type)                          \
  BENCHMARK_CAPTURE(BM_ReduceSum, isa##_##typeName, #isa, type)           \
      ->Arg(64 << 10)                                                     \
      ->Arg(1 << 20)                                                      \
      ->Arg(64 << 20)

#define STRATA_BENCH_REDUCE_ISA(isa)                    \
  STRATA_BENCH_REDUCE(isa, float32, strataFloat32);     \
  STRATA_BENCH_REDUCE(isa, bfloat16, strataBfloat16);   \
  STRATA_BENCH_REDUCE(isa, float16, strataFloat16);     \
  STRATA_BENCH_REDUCE(isa, int32, strataInt32)

// Per-call overhead on the latency-critical path: an 8-byte message (two float32) with the
// automatically chosen ISA; this is dispatch cost, not bandwidth.
void BM_ReduceSum8Bytes(benchmark::State& state) {
  strata::forceReduceKernelIsa(nullptr);
  float a[2] = {1.0f, 2.0f}, b[2] = {3.0f, 4.0f}, dst[2];
  for (auto _ : state) {
    benchmark::DoNotOptimize(a);
    strata::reduce(dst, a, b, 2, strataFloat32, strataSum);
    benchmark::DoNotOptimize(dst);
  }
  state.SetLabel(strata::reduceKernelIsa());
}
BENCHMARK(BM_ReduceSum8Bytes);

STRATA_BENCH_REDUCE_ISA(avx512);
STRATA_BENCH_REDUCE_ISA(avx2);
STRATA_BENCH_REDUCE_ISA(generic);

}  // namespace
