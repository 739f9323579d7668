// The per-ISA kernel tables behind reduce()/finalize(). reduce_kernels.cc is compiled once per
// instruction set with STRATA_KERNEL_ISA set to generic, avx2 or avx512; each object defines
// table() in its own namespace, and reduce.cc picks one of them at run time.
#pragma once

#include <cstddef>

#include "strata/strata.h"

namespace strata::kernels {

// dst[i] = a[i] op b[i] for i < count; dst may equal a or b (in place).
using ReduceFn = void (*)(void* dst, const void* a, const void* b, size_t count);
// dst[i] = src[i] / nranks (the avg finalisation); dst may equal src. nranks > 0.
using DivideFn = void (*)(void* dst, const void* src, size_t count, int nranks);

struct KernelTable {
  const char* isa;  // "generic", "avx2" or "avx512"
  // Indexed [type][op]; strataAvg holds the sum kernel (the division happens in finalize).
  ReduceFn reduce[strataNumTypes][strataNumOps];
  DivideFn divide[strataNumTypes];
};

namespace generic {
const KernelTable& table();
}
namespace avx2 {
const KernelTable& table();
}
namespace avx512 {
const KernelTable& table();
}

}  // namespace strata::kernels
