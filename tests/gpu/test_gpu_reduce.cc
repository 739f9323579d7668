// The GPU kernels and device-buffer collectives. Each test needs a CUDA device and skips, naming
// why, where there is none (this machine: no driver). What runs everywhere: that having no GPU is
// an answer, not an error.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "gpu/device.h"
#include "gpu/reduce_check.h"
#include "reduce/reduce.h"
#include "support/comm_threads.h"

namespace strata {
namespace {

#define SKIP_WITHOUT_GPU()                                                                   \
  do {                                                                                       \
    if (gpu::deviceCount() == 0) GTEST_SKIP() << "no CUDA device: " << gpu::noDeviceReason(); \
  } while (0)

TEST(GpuDiscovery, NoGpuIsAnAnswerNotAnError) {
  const int count = gpu::deviceCount();
  EXPECT_GE(count, 0);
  EXPECT_EQ(count == 0, !gpu::noDeviceReason().empty()) << gpu::noDeviceReason();
  std::vector<float> host(16);
  EXPECT_EQ(gpu::deviceOfPointer(host.data()), -1) << "host memory taken for device memory";
  EXPECT_EQ(gpu::deviceOfPointer(nullptr), -1);
}

TEST(GpuReduce, MatchesHostKernelsBitForBit) {
  SKIP_WITHOUT_GPU();
  // An odd count: vector body, head and tail all run.
  const auto failures = gpu::check::compareWithHost(&reduce, &finalize, 100'003);
  for (const auto& f : failures) ADD_FAILURE() << f;
}

TEST(GpuReduce, DevicePointerIsDetected) {
  SKIP_WITHOUT_GPU();
  void* d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 256), cudaSuccess);
  EXPECT_EQ(gpu::deviceOfPointer(d), 0);
  EXPECT_EQ(gpu::deviceOfPointer(static_cast<char*>(d) + 100), 0);
  cudaFree(d);
}

// All-reduce, reduce-scatter, all-gather, broadcast on device buffers, ranks as threads sharing
// GPU 0, enqueued on a stream: the call returns before the stream is synchronised, and the
// result is there once it is. Exact values (sums of small integers).
TEST(GpuCollectives, DeviceBuffersInStreamOrder) {
  SKIP_WITHOUT_GPU();
  constexpr int kRanks = 3;
  constexpr size_t kCount = 1 << 18;
  testing::withComm(kRanks, testing::testConfig(60), [&](int rank, strataComm_t comm) {
    ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
    cudaStream_t stream;
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    std::vector<float> host(kCount * kRanks);
    for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>((i % 7) + rank);
    float *send = nullptr, *recv = nullptr;
    ASSERT_EQ(cudaMalloc(&send, host.size() * sizeof(float)), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&recv, host.size() * sizeof(float)), cudaSuccess);
    ASSERT_EQ(cudaMemcpyAsync(send, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice, stream), cudaSuccess);

    ASSERT_EQ(strataAllReduce(send, recv, kCount, strataFloat32, strataSum, comm, stream), strataSuccess)
        << strataGetLastError(comm);
    std::vector<float> out(kCount * kRanks);
    ASSERT_EQ(cudaMemcpyAsync(out.data(), recv, kCount * sizeof(float), cudaMemcpyDeviceToHost, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    size_t wrong = 0;
    for (size_t i = 0; i < kCount; ++i) wrong += out[i] != static_cast<float>(kRanks * (i % 7) + 0 + 1 + 2);
    EXPECT_EQ(wrong, 0u) << "all-reduce, rank " << rank;

    ASSERT_EQ(strataAllGather(send, recv, kCount, strataFloat32, comm, stream), strataSuccess);
    ASSERT_EQ(cudaMemcpyAsync(out.data(), recv, out.size() * sizeof(float), cudaMemcpyDeviceToHost, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    wrong = 0;
    for (int r = 0; r < kRanks; ++r)
      for (size_t i = 0; i < kCount; ++i) wrong += out[r * kCount + i] != static_cast<float>((i % 7) + r);
    EXPECT_EQ(wrong, 0u) << "all-gather, rank " << rank;

    ASSERT_EQ(strataReduceScatter(send, recv, kCount, strataFloat32, strataMax, comm, stream), strataSuccess);
    ASSERT_EQ(cudaMemcpyAsync(out.data(), recv, kCount * sizeof(float), cudaMemcpyDeviceToHost, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    wrong = 0;
    for (size_t i = 0; i < kCount; ++i) wrong += out[i] != static_cast<float>(((rank * kCount + i) % 7) + kRanks - 1);
    EXPECT_EQ(wrong, 0u) << "reduce-scatter (max), rank " << rank;

    ASSERT_EQ(strataBroadcast(send, recv, kCount, strataFloat32, 1, comm, stream), strataSuccess);
    ASSERT_EQ(cudaMemcpyAsync(out.data(), recv, kCount * sizeof(float), cudaMemcpyDeviceToHost, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    wrong = 0;
    for (size_t i = 0; i < kCount; ++i) wrong += out[i] != static_cast<float>((i % 7) + 1);
    EXPECT_EQ(wrong, 0u) << "broadcast from rank 1, rank " << rank;

    strataResult_t async = strataInternalError;
    EXPECT_EQ(strataCommGetAsyncError(comm, &async), strataSuccess);
    EXPECT_EQ(async, strataSuccess);
    cudaFree(send);
    cudaFree(recv);
    cudaStreamDestroy(stream);
  });
}

TEST(GpuCollectives, HostAndDeviceBuffersMixedAreRejected) {
  SKIP_WITHOUT_GPU();
  testing::withComm(1, testing::testConfig(5), [&](int, strataComm_t comm) {
    float* d = nullptr;
    ASSERT_EQ(cudaMalloc(&d, 64 * sizeof(float)), cudaSuccess);
    std::vector<float> h(64);
    EXPECT_EQ(strataAllReduce(d, h.data(), 64, strataFloat32, strataSum, comm, nullptr), strataInvalidArgument);
    EXPECT_NE(std::string(strataGetLastError(comm)).find("host memory"), std::string::npos) << strataGetLastError(comm);
    cudaFree(d);
  });
}

}  // namespace
}  // namespace strata
