// Bad input gets its documented error code and a message that names the problem; waits that
// cannot finish end with a timeout or an abort instead of a hang.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <cstring>
#include <thread>

#include "support/comm_threads.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A one-rank communicator is enough for argument checks.
class ApiErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    strataUniqueId id;
    ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
    strataConfig_t c = testing::testConfig(5);
    ASSERT_EQ(strataCommInitRankConfig(&comm_, 1, id, 0, &c), strataSuccess);
  }
  void TearDown() override {
    if (comm_) {
      EXPECT_EQ(strataCommDestroy(comm_), strataSuccess);
    }
  }
  void expectAllReduce(strataResult_t code, const char* textPart, const void* s, void* r,
                       size_t count, strataDataType_t t, strataRedOp_t op,
                       strataStream_t stream = nullptr) {
    EXPECT_EQ(strataAllReduce(s, r, count, t, op, comm_, stream), code);
    EXPECT_NE(std::string(strataGetLastError(comm_)).find(textPart), std::string::npos)
        << "last error: " << strataGetLastError(comm_);
  }
  strataComm_t comm_ = nullptr;
  float buf_[64] = {};
};

TEST_F(ApiErrors, NullCommunicator) {
  EXPECT_EQ(strataAllReduce(buf_, buf_, 1, strataFloat32, strataSum, nullptr, nullptr),
            strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("NULL"), std::string::npos);
}
TEST_F(ApiErrors, UnknownDatatype) {
  expectAllReduce(strataInvalidArgument, "datatype", buf_, buf_, 1, strataNumTypes, strataSum);
  expectAllReduce(strataInvalidArgument, "datatype", buf_, buf_, 1, strataDataType_t(1000), strataSum);
}
TEST_F(ApiErrors, UnknownOp) {
  expectAllReduce(strataInvalidArgument, "op", buf_, buf_, 1, strataFloat32, strataNumOps);
  expectAllReduce(strataInvalidArgument, "op", buf_, buf_, 1, strataFloat32, strataRedOp_t(77));
}
TEST_F(ApiErrors, NullSendBuffer) {
  expectAllReduce(strataInvalidArgument, "NULL", nullptr, buf_, 4, strataFloat32, strataSum);
}
TEST_F(ApiErrors, NullRecvBuffer) {
  expectAllReduce(strataInvalidArgument, "NULL", buf_, nullptr, 4, strataFloat32, strataSum);
}
TEST_F(ApiErrors, ZeroCountWithNullBuffersIsFine) {
  EXPECT_EQ(strataAllReduce(nullptr, nullptr, 0, strataFloat32, strataSum, comm_, nullptr),
            strataSuccess);
}
TEST_F(ApiErrors, CountOverflow) {
  expectAllReduce(strataInvalidArgument, "overflows", buf_, buf_, SIZE_MAX / 2, strataFloat32, strataSum);
}
// A stream orders device-buffer collectives; with host buffers it is a mistake, named as such
// (the buffers are not device memory, so no CUDA call touches the bogus stream).
TEST_F(ApiErrors, HostBuffersWithAStreamAreRejected) {
  int fakeStream;
  expectAllReduce(strataInvalidArgument, "buffers are host memory", buf_, buf_, 1, strataFloat32, strataSum,
                  &fakeStream);
  EXPECT_EQ(strataBroadcast(buf_, buf_, 4, strataFloat32, 0, comm_, &fakeStream), strataInvalidArgument);
  // With no bytes there is nothing to place: the stream is moot and the call succeeds.
  EXPECT_EQ(strataAllReduce(buf_, buf_, 0, strataFloat32, strataSum, comm_, &fakeStream), strataSuccess)
      << strataGetLastError(comm_);
}
TEST_F(ApiErrors, PartiallyOverlappingBuffers) {
  expectAllReduce(strataInvalidArgument, "overlap", buf_, buf_ + 1, 8, strataFloat32, strataSum);
}
TEST_F(ApiErrors, UseAfterDestroy) {
  ASSERT_EQ(strataCommDestroy(comm_), strataSuccess);
  strataComm_t dead = comm_;
  comm_ = nullptr;
  EXPECT_EQ(strataAllReduce(buf_, buf_, 1, strataFloat32, strataSum, dead, nullptr), strataInvalidUsage);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("not valid"), std::string::npos);
  int n;
  EXPECT_EQ(strataCommCount(dead, &n), strataInvalidUsage);
  EXPECT_EQ(strataCommDestroy(dead), strataInvalidUsage);
}
TEST_F(ApiErrors, NullOutputPointers) {
  EXPECT_EQ(strataCommCount(comm_, nullptr), strataInvalidArgument);
  EXPECT_EQ(strataCommUserRank(comm_, nullptr), strataInvalidArgument);
  EXPECT_EQ(strataCommGetAsyncError(comm_, nullptr), strataInvalidArgument);
  EXPECT_EQ(strataGetUniqueId(nullptr), strataInvalidArgument);
  EXPECT_EQ(strataGetVersion(nullptr), strataInvalidArgument);
}
TEST_F(ApiErrors, QueriesWork) {
  int n = -1, r = -1, v = 0;
  strataResult_t async = strataInternalError;
  EXPECT_EQ(strataCommCount(comm_, &n), strataSuccess);
  EXPECT_EQ(strataCommUserRank(comm_, &r), strataSuccess);
  EXPECT_EQ(strataCommGetAsyncError(comm_, &async), strataSuccess);
  EXPECT_EQ(strataGetVersion(&v), strataSuccess);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(r, 0);
  EXPECT_EQ(async, strataSuccess);
  EXPECT_EQ(v, STRATA_VERSION_CODE);
}

// The other collectives share the checks of all-reduce and add their own: roots in range, the
// buffers each rank must pass, and their in-place layouts.
TEST_F(ApiErrors, OtherCollectivesCheckTypeOpAndStream) {
  int fakeStream;
  EXPECT_EQ(strataReduceScatter(buf_, buf_, 1, strataNumTypes, strataSum, comm_, nullptr), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(comm_)).find("datatype"), std::string::npos);
  EXPECT_EQ(strataReduceScatter(buf_, buf_, 1, strataFloat32, strataNumOps, comm_, nullptr), strataInvalidArgument);
  EXPECT_EQ(strataReduce(buf_, buf_, 1, strataFloat32, strataRedOp_t(77), 0, comm_, nullptr), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(comm_)).find("op"), std::string::npos);
  EXPECT_EQ(strataAllGather(buf_, buf_, 1, strataDataType_t(1000), comm_, nullptr), strataInvalidArgument);
  EXPECT_EQ(strataBroadcast(buf_, buf_, 1, strataFloat32, 0, comm_, &fakeStream), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(comm_)).find("stream"), std::string::npos);
  EXPECT_EQ(strataAllGather(buf_, buf_, SIZE_MAX / 2, strataFloat32, comm_, nullptr), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(comm_)).find("overflows"), std::string::npos);
}
TEST_F(ApiErrors, OtherCollectivesRejectNullBuffers) {
  EXPECT_EQ(strataReduceScatter(nullptr, buf_, 4, strataFloat32, strataSum, comm_, nullptr), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(comm_)).find("NULL"), std::string::npos);
  EXPECT_EQ(strataAllGather(buf_, nullptr, 4, strataFloat32, comm_, nullptr), strataInvalidArgument);
  EXPECT_EQ(strataBroadcast(nullptr, buf_, 4, strataFloat32, 0, comm_, nullptr), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(comm_)).find("root"), std::string::npos);
  EXPECT_EQ(strataBroadcast(buf_, nullptr, 4, strataFloat32, 0, comm_, nullptr), strataInvalidArgument);
  EXPECT_EQ(strataReduce(nullptr, buf_, 4, strataFloat32, strataSum, 0, comm_, nullptr), strataInvalidArgument);
  EXPECT_EQ(strataReduce(buf_, nullptr, 4, strataFloat32, strataSum, 0, comm_, nullptr), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(comm_)).find("root"), std::string::npos);
  // Zero elements need no buffers.
  EXPECT_EQ(strataReduceScatter(nullptr, nullptr, 0, strataFloat32, strataSum, comm_, nullptr), strataSuccess);
  EXPECT_EQ(strataAllGather(nullptr, nullptr, 0, strataFloat32, comm_, nullptr), strataSuccess);
  EXPECT_EQ(strataBroadcast(nullptr, nullptr, 0, strataFloat32, 0, comm_, nullptr), strataSuccess);
  EXPECT_EQ(strataReduce(nullptr, nullptr, 0, strataFloat32, strataSum, 0, comm_, nullptr), strataSuccess);
}
TEST_F(ApiErrors, RootOutOfRange) {
  for (int root : {-1, 1, 1000}) {
    EXPECT_EQ(strataBroadcast(buf_, buf_, 4, strataFloat32, root, comm_, nullptr), strataInvalidArgument);
    EXPECT_NE(std::string(strataGetLastError(comm_)).find("out of range"), std::string::npos);
    EXPECT_EQ(strataReduce(buf_, buf_, 4, strataFloat32, strataSum, root, comm_, nullptr), strataInvalidArgument);
    EXPECT_NE(std::string(strataGetLastError(comm_)).find("out of range"), std::string::npos);
  }
}
TEST_F(ApiErrors, OtherCollectivesRejectPartialOverlapAndAcceptInPlace) {
  EXPECT_EQ(strataReduceScatter(buf_, buf_ + 1, 8, strataFloat32, strataSum, comm_, nullptr), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(comm_)).find("overlap"), std::string::npos);
  EXPECT_EQ(strataAllGather(buf_ + 1, buf_, 8, strataFloat32, comm_, nullptr), strataInvalidArgument);
  EXPECT_EQ(strataBroadcast(buf_, buf_ + 2, 8, strataFloat32, 0, comm_, nullptr), strataInvalidArgument);
  EXPECT_EQ(strataReduce(buf_ + 3, buf_, 8, strataFloat32, strataSum, 0, comm_, nullptr), strataInvalidArgument);
  // One rank: rank * count is 0, so in place is the same pointer.
  for (int i = 0; i < 8; ++i) buf_[i] = float(i);
  EXPECT_EQ(strataReduceScatter(buf_, buf_, 8, strataFloat32, strataSum, comm_, nullptr), strataSuccess);
  EXPECT_EQ(strataAllGather(buf_, buf_, 8, strataFloat32, comm_, nullptr), strataSuccess);
  EXPECT_EQ(strataBroadcast(buf_, buf_, 8, strataFloat32, 0, comm_, nullptr), strataSuccess);
  EXPECT_EQ(strataReduce(buf_, buf_, 8, strataFloat32, strataSum, 0, comm_, nullptr), strataSuccess);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(buf_[i], float(i));
}

TEST(ApiInit, RanksPerHostMustDivideTheWorld) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  strataComm_t comm;
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.ranksPerHost = 2;  // a world of 1 rank
  EXPECT_EQ(strataCommInitRankConfig(&comm, 1, id, 0, &c), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("ranks per host"), std::string::npos);
}

TEST(ApiInit, ConfigOfTheFirstReleaseStillWorks) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  strataComm_t comm = nullptr;
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.size = offsetof(strataConfig_t, ranksPerHost);  // a program built before ranksPerHost
  c.ranksPerHost = 2;                                // beyond its size: never read
  ASSERT_EQ(strataCommInitRankConfig(&comm, 1, id, 0, &c), strataSuccess) << strataGetLastError(nullptr);
  EXPECT_EQ(strataCommDestroy(comm), strataSuccess);
}

TEST(ApiInit, BadRankAndSize) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  strataComm_t comm;
  EXPECT_EQ(strataCommInitRank(&comm, 0, id, 0), strataInvalidArgument);
  EXPECT_EQ(strataCommInitRank(&comm, 2, id, 2), strataInvalidArgument);
  EXPECT_EQ(strataCommInitRank(&comm, 2, id, -1), strataInvalidArgument);
  EXPECT_EQ(strataCommInitRank(nullptr, 1, id, 0), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("NULL"), std::string::npos);
}

TEST(ApiInit, GarbageUniqueId) {
  strataUniqueId id;
  std::memset(&id, 0xab, sizeof(id));
  strataComm_t comm;
  EXPECT_EQ(strataCommInitRank(&comm, 1, id, 0), strataInvalidArgument);
}

TEST(ApiInit, BadConfig) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  strataComm_t comm;
  strataConfig_t raw;
  std::memset(&raw, 0, sizeof(raw));
  EXPECT_EQ(strataCommInitRankConfig(&comm, 1, id, 0, &raw), strataInvalidArgument);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("STRATA_CONFIG_INITIALIZER"), std::string::npos);
  strataConfig_t c = STRATA_CONFIG_INITIALIZER;
  c.algorithm = "bogus";
  EXPECT_EQ(strataCommInitRankConfig(&comm, 1, id, 0, &c), strataInvalidArgument);
  c = STRATA_CONFIG_INITIALIZER;
  c.chunkBytes = 1000;  // not a multiple of 64
  EXPECT_EQ(strataCommInitRankConfig(&comm, 1, id, 0, &c), strataInvalidArgument);
  c = STRATA_CONFIG_INITIALIZER;
  c.fifoDepth = 1000;
  EXPECT_EQ(strataCommInitRankConfig(&comm, 1, id, 0, &c), strataInvalidArgument);
}

TEST(ApiInit, ErrorStringsAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < strataNumResults; ++i)
    EXPECT_TRUE(seen.insert(strataGetErrorString(strataResult_t(i))).second) << i;
}

TEST(ApiWaits, MissingPeerTimesOut) {
  strataConfig_t c = testing::testConfig(1.0);
  testing::withComm(2, c, [](int r, strataComm_t comm) {
    if (r == 1) return;  // rank 1 never joins the collective
    float x[4] = {};
    auto t0 = Clock::now();
    EXPECT_EQ(strataAllReduce(x, x, 4, strataFloat32, strataSum, comm, nullptr), strataTimeout);
    double s = secondsSince(t0);
    EXPECT_GE(s, 0.9);
    EXPECT_LT(s, 2.0);
    EXPECT_NE(std::string(strataGetLastError(comm)).find("rank 1"), std::string::npos)
        << strataGetLastError(comm);
    strataResult_t async;
    EXPECT_EQ(strataCommGetAsyncError(comm, &async), strataSuccess);
    EXPECT_EQ(async, strataTimeout);
  });
}

TEST(ApiWaits, MismatchedCountsAreDetected) {
  strataConfig_t c = testing::testConfig(2.0);
  c.algorithm = "ring";
  testing::withComm(2, c, [](int r, strataComm_t comm) {
    std::vector<float> x(1000, 1.0f);
    strataResult_t res = strataAllReduce(x.data(), x.data(), r == 0 ? 1000 : 600, strataFloat32,
                                         strataSum, comm, nullptr);
    // The rank that sees the wrong size fails with strataInvalidUsage; the other waits for its
    // deadline, or fails at once with strataRemoteError from the first one's failure notice
    // (docs/reliability.md), whose text it carries.
    EXPECT_TRUE(res == strataInvalidUsage || res == strataTimeout || res == strataRemoteError)
        << strataGetErrorString(res);
    if (res == strataInvalidUsage || res == strataRemoteError) {
      EXPECT_NE(std::string(strataGetLastError(comm)).find("same count"), std::string::npos)
          << strataGetLastError(comm);
    }
  });
}

TEST(ApiWaits, AbortFromAnotherThreadEndsAWait) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  strataConfig_t c = testing::testConfig(60);
  strataComm_t comms[2] = {};
  testing::runRanks(2, [&](int r) {
    ASSERT_EQ(strataCommInitRankConfig(&comms[r], 2, id, r, &c), strataSuccess);
  });
  float x[4] = {};
  std::atomic<double> waited{-1};
  std::atomic<int> result{-1};
  std::thread waiter([&] {
    auto t0 = Clock::now();
    result = strataAllReduce(x, x, 4, strataFloat32, strataSum, comms[0], nullptr);
    waited = secondsSince(t0);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto t0 = Clock::now();
  EXPECT_EQ(strataCommAbort(comms[0]), strataSuccess);
  double abortTook = secondsSince(t0);
  waiter.join();
  EXPECT_EQ(result.load(), strataAborted);
  EXPECT_LT(abortTook, 0.1);
  EXPECT_LT(waited.load(), 0.5);
  EXPECT_EQ(strataCommDestroy(comms[1]), strataSuccess);
}

}  // namespace
}  // namespace strata
