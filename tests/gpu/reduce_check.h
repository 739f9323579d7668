// The GPU reduction kernels against the CPU kernels, bit for bit. Shared by the GoogleTest suite
// (tests/gpu/test_gpu_reduce.cc) and by strata-gpu-check (tools/gpu_check), which runs on GPU
// machines where GoogleTest and fmt may be missing: so this needs neither, only CUDA's runtime.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace strata::gpu::check {

// The CPU side, type-erased as reduce/reduce.h declares it (strata::reduce / strata::finalize,
// or one ISA's kernel table in the standalone checker).
using HostReduce = void (*)(void* dst, const void* a, const void* b, size_t count, strataDataType_t type,
                            strataRedOp_t op);
using HostFinalize = void (*)(void* dst, const void* src, size_t count, strataDataType_t type,
                              strataRedOp_t op, int nranks);

// For every type and op: a two-input reduce over arbitrary bit patterns (NaNs, infinities and
// subnormals included: one operation, one rounding, so CPU and GPU must agree exactly, except
// that a NaN made by arithmetic may carry another payload or sign: any NaN matches any NaN), a
// three-input reduce-copy into two outputs over values whose partial sums are exact, and the avg
// division. Each at an aligned offset, at a shared 16-byte misalignment (the head path) and with
// misaligned inputs of differing offsets (the element-wise path). `count` elements per case.
// Returns one line per failing case (empty: all agree). Throws std::runtime_error on CUDA errors.
std::vector<std::string> compareWithHost(HostReduce hostReduce, HostFinalize hostFinalize, size_t count);

}  // namespace strata::gpu::check
