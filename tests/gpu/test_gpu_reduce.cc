// The GPU kernels and device-buffer collectives. Each test needs a CUDA device and skips, naming
// why, where there is none (this machine: no driver). What runs everywhere: that having no GPU is
// an answer, not an error.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <barrier>
#include <cstdint>
#include <span>
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
// The results are copied back into pageable memory (a std::vector: the copy blocks the calling
// thread until the stream gets there, the way a training loop's .item() does) or into pinned
// memory allocated before the first collective.
void collectivesInStreamOrder(bool pinnedResults) {
  constexpr int kRanks = 3;
  constexpr size_t kCount = 1 << 18;
  // The ranks are threads of one process, so they share CUDA's context, whose lock a thread
  // blocked in a copy that waits for a collective may hold: each rank enqueues, then the ranks
  // meet, and only then does any of them block (docs/gpu.md, "Several ranks in one process").
  std::barrier enqueued(kRanks);
  testing::withComm(kRanks, testing::testConfig(20), [&](int rank, strataComm_t comm) {
    ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
    cudaStream_t stream;
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    std::vector<float> host(kCount * kRanks);
    for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>((i % 7) + rank);
    float *send = nullptr, *recv = nullptr;
    ASSERT_EQ(cudaMalloc(&send, host.size() * sizeof(float)), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&recv, host.size() * sizeof(float)), cudaSuccess);
    ASSERT_EQ(cudaMemcpyAsync(send, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice, stream), cudaSuccess);
    std::vector<float> pageable;
    float* pinned = nullptr;
    if (pinnedResults) {
      ASSERT_EQ(cudaMallocHost(&pinned, kCount * kRanks * sizeof(float)), cudaSuccess);
    } else {
      pageable.resize(kCount * kRanks);
    }
    const std::span<float> out(pinnedResults ? pinned : pageable.data(), kCount * kRanks);

    EXPECT_EQ(strataAllReduce(send, recv, kCount, strataFloat32, strataSum, comm, stream), strataSuccess)
        << strataGetLastError(comm);
    enqueued.arrive_and_wait();
    ASSERT_EQ(cudaMemcpyAsync(out.data(), recv, kCount * sizeof(float), cudaMemcpyDeviceToHost, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    size_t wrong = 0;
    for (size_t i = 0; i < kCount; ++i) wrong += out[i] != static_cast<float>(kRanks * (i % 7) + 0 + 1 + 2);
    EXPECT_EQ(wrong, 0u) << "all-reduce, rank " << rank;

    EXPECT_EQ(strataAllGather(send, recv, kCount, strataFloat32, comm, stream), strataSuccess);
    enqueued.arrive_and_wait();
    ASSERT_EQ(cudaMemcpyAsync(out.data(), recv, out.size() * sizeof(float), cudaMemcpyDeviceToHost, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    wrong = 0;
    for (int r = 0; r < kRanks; ++r)
      for (size_t i = 0; i < kCount; ++i) wrong += out[r * kCount + i] != static_cast<float>((i % 7) + r);
    EXPECT_EQ(wrong, 0u) << "all-gather, rank " << rank;

    EXPECT_EQ(strataReduceScatter(send, recv, kCount, strataFloat32, strataMax, comm, stream), strataSuccess);
    enqueued.arrive_and_wait();
    ASSERT_EQ(cudaMemcpyAsync(out.data(), recv, kCount * sizeof(float), cudaMemcpyDeviceToHost, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    wrong = 0;
    for (size_t i = 0; i < kCount; ++i) wrong += out[i] != static_cast<float>(((rank * kCount + i) % 7) + kRanks - 1);
    EXPECT_EQ(wrong, 0u) << "reduce-scatter (max), rank " << rank;

    EXPECT_EQ(strataBroadcast(send, recv, kCount, strataFloat32, 1, comm, stream), strataSuccess);
    enqueued.arrive_and_wait();
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
    if (pinned) cudaFreeHost(pinned);
    cudaStreamDestroy(stream);
  });
}

TEST(GpuCollectives, DeviceBuffersInStreamOrder) {
  SKIP_WITHOUT_GPU();
  collectivesInStreamOrder(false);
}

TEST(GpuCollectives, DeviceBuffersInStreamOrderPinnedResults) {
  SKIP_WITHOUT_GPU();
  collectivesInStreamOrder(true);
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
