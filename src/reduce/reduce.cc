// Dispatch from the type-erased reduce()/finalize() to the kernel table of the best ISA this CPU
// runs. The choice is made once; afterwards a call is one relaxed atomic load, two range checks
// and an indirect call, because reduce() runs on 8-byte messages in the latency-critical path.
#include "reduce/reduce.h"

#include <cpuid.h>

#include <atomic>
#include <cstring>

#include "core/error.h"
#include "reduce/kernel_table.h"

namespace strata {
namespace {

}  // namespace

// F16C from cpuid directly: not every compiler's __builtin_cpu_supports knows its name.
bool cpuHasF16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
}

namespace {

bool cpuHasAvx512() {
  __builtin_cpu_init();  // we may run before libgcc's constructor has filled the cpu model
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

bool cpuHasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpuHasF16c();
}

const kernels::KernelTable* bestTable() {
  if (cpuHasAvx512()) return &kernels::avx512::table();
  if (cpuHasAvx2()) return &kernels::avx2::table();
  return &kernels::generic::table();
}

// Null until first use. Racing first callers all compute the same pointer, so a relaxed store
// is enough (the tables are constant-initialised and need no publication).
std::atomic<const kernels::KernelTable*> gActiveTable{nullptr};

const kernels::KernelTable& activeTable() {
  const kernels::KernelTable* table = gActiveTable.load(std::memory_order_relaxed);
  if (__builtin_expect(table == nullptr, 0)) {
    table = bestTable();
    gActiveTable.store(table, std::memory_order_relaxed);
  }
  return *table;
}

// Bytes per element, indexed by strataDataType_t (kept here so that this file does not depend on
// the C API layer).
constexpr size_t kElementBytes[strataNumTypes] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2, 1, 1};

void checkTypeAndOp(strataDataType_t type, strataRedOp_t op) {
  STRATA_CHECK(static_cast<unsigned>(type) < static_cast<unsigned>(strataNumTypes),
               strataInvalidArgument, "reduce: unknown data type {}", static_cast<int>(type));
  STRATA_CHECK(static_cast<unsigned>(op) < static_cast<unsigned>(strataNumOps),
               strataInvalidArgument, "reduce: unknown reduction op {}", static_cast<int>(op));
}

}  // namespace

void reduce(void* dst, const void* a, const void* b, size_t count, strataDataType_t type,
            strataRedOp_t op) {
  checkTypeAndOp(type, op);
  activeTable().reduce[type][op](dst, a, b, count);
}

void finalize(void* dst, const void* src, size_t count, strataDataType_t type, strataRedOp_t op,
              int nranks) {
  checkTypeAndOp(type, op);
  if (op == strataAvg) {
    STRATA_CHECK(nranks > 0, strataInvalidArgument, "finalize: avg over {} ranks", nranks);
    activeTable().divide[type](dst, src, count, nranks);
    return;
  }
  // Other ops are complete after the last reduce(); dst and src either coincide or are disjoint.
  if (dst != src && count != 0) std::memcpy(dst, src, count * kElementBytes[type]);
}

const char* reduceKernelIsa() { return activeTable().isa; }

bool forceReduceKernelIsa(const char* isa) {
  if (isa == nullptr) {
    gActiveTable.store(bestTable(), std::memory_order_relaxed);
    return true;
  }
  const kernels::KernelTable* table = nullptr;
  if (std::strcmp(isa, "avx512") == 0) {
    if (!cpuHasAvx512()) return false;
    table = &kernels::avx512::table();
  } else if (std::strcmp(isa, "avx2") == 0) {
    if (!cpuHasAvx2()) return false;
    table = &kernels::avx2::table();
  } else if (std::strcmp(isa, "generic") == 0) {
    table = &kernels::generic::table();
  } else {
    return false;
  }
  gActiveTable.store(table, std::memory_order_relaxed);
  return true;
}

}  // namespace strata
