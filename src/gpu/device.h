// What the rest of Strata asks of CUDA outside the kernels and transports: whether there are GPUs,
// and whether a pointer is GPU memory. Plain C++ (no CUDA header); in a build without CUDA every
// answer is "no GPU". Any CUDA error here means "no GPU" (a machine without the driver answers
// cudaErrorInsufficientDriver), never a failure.
#pragma once

#include <string>

namespace strata::gpu {

// CUDA devices this process can use; 0 without CUDA, driver or devices. Asked once, then cached.
int deviceCount();

// Why deviceCount() is 0 ("built without CUDA", "cudaGetDeviceCount: cudaErrorInsufficientDriver:
// ..."), or empty when there are devices.
const std::string& noDeviceReason();

// The device whose memory `ptr` points into (device or managed memory), or -1 for host memory,
// memory CUDA does not know, or when there is no GPU. Cheap when there is none (no CUDA call).
int deviceOfPointer(const void* ptr);

}  // namespace strata::gpu
