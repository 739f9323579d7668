// CPU reduction kernels. Type-erased at this boundary (the rest of Strata never templates on the
// element type); inside, one loop per (type, op), compiled for AVX-512, AVX2 and a portable ISA and
// picked once at run time from cpuid.
#pragma once

#include <cstddef>

#include "strata/strata.h"

namespace strata {

// dst[i] = a[i] op b[i] for i < count. dst may be the same pointer as a or b (in place), but
// must not otherwise overlap them. For strataAvg this is a sum: finalize() divides.
void reduce(void* dst, const void* a, const void* b, size_t count, strataDataType_t type,
            strataRedOp_t op);

// The last pass of an operation over the fully reduced values: for strataAvg,
// dst[i] = src[i] / nranks (integer division for integer types; float16/bfloat16/fp8 divide in
// float and round once); for other ops a copy (nothing when dst == src).
void finalize(void* dst, const void* src, size_t count, strataDataType_t type, strataRedOp_t op,
              int nranks);

// Whether the CPU converts half floats in hardware (F16C).
bool cpuHasF16c();

// Which instruction set the kernels use on this machine ("avx512", "avx2" or "generic").
const char* reduceKernelIsa();

// For tests and benchmarks: run one ISA's kernels explicitly (nullptr name = automatic choice).
// Returns false if the ISA is unknown or not supported by this CPU.
bool forceReduceKernelIsa(const char* isa);

}  // namespace strata
