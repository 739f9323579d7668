#include "gpu/device.h"

#ifdef STRATA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include <fmt/format.h>

namespace strata::gpu {
namespace {

struct Discovery {
  int count = 0;
  std::string reason;
};

const Discovery& discovery() {
  static const Discovery found = [] {
    Discovery d;
#ifdef STRATA_HAVE_CUDA
    const cudaError_t rc = cudaGetDeviceCount(&d.count);
    if (rc != cudaSuccess) {
      d.count = 0;
      d.reason = fmt::format("cudaGetDeviceCount: {}: {}", cudaGetErrorName(rc), cudaGetErrorString(rc));
      cudaGetLastError();  // the error is not sticky; leave no trace for later calls
    } else if (d.count == 0) {
      d.reason = "cudaGetDeviceCount: no CUDA devices";
    }
#else
    d.reason = "built without CUDA (STRATA_WITH_CUDA=OFF or no nvcc)";
#endif
    return d;
  }();
  return found;
}

}  // namespace

int deviceCount() { return discovery().count; }

const std::string& noDeviceReason() { return discovery().reason; }

int deviceOfPointer(const void* ptr) {
#ifdef STRATA_HAVE_CUDA
  if (!ptr || deviceCount() == 0) return -1;
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, ptr) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  const bool onDevice = attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
  return onDevice ? attributes.device : -1;
#else
  (void)ptr;
  return -1;
#endif
}

}  // namespace strata::gpu
