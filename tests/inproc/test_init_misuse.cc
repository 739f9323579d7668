// Misuse at init through the C API: a unique id used for a second communicator, an id whose root
// is gone, ranks that disagree on nranks. Each fails with its documented code, fast where this
// process can know, and with a text that says what to do.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "bootstrap/socket.h"
#include "support/comm_threads.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// strataGetUniqueId's root serves one communicator: once it formed, a second init with the same
// id fails at once, on a rank of the first communicator and on the root's process alike.
TEST(InitMisuse, UniqueIdReusedAfterItsCommunicatorFormedIsInvalidUsage) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  strataConfig_t c = testing::testConfig(30);
  testing::runRanks(2, [&](int r) {
    strataComm_t comm = nullptr;
    ASSERT_EQ(strataCommInitRankConfig(&comm, 2, id, r, &c), strataSuccess) << strataGetLastError(nullptr);
    int x = 1;
    EXPECT_EQ(strataAllReduce(&x, &x, 1, strataInt32, strataSum, comm, nullptr), strataSuccess);
    EXPECT_EQ(strataCommDestroy(comm), strataSuccess);
  });
  const auto start = Clock::now();
  strataComm_t again = nullptr;
  EXPECT_EQ(strataCommInitRankConfig(&again, 2, id, 0, &c), strataInvalidUsage);
  EXPECT_EQ(again, nullptr);
  EXPECT_LT(secondsSince(start), 1.0) << "must not wait for a root that has exited";
  const std::string text = strataGetLastError(nullptr);
  EXPECT_NE(text.find("already used"), std::string::npos) << text;
  EXPECT_NE(text.find("strataGetUniqueId"), std::string::npos) << text;
}

// A process that never saw the id cannot tell a root that is gone from one that is slow: it waits
// for the deadline, and the text names the root it could not reach.
TEST(InitMisuse, IdWhoseRootIsGoneTimesOut) {
  sockaddr_storage gone;
  {
    Socket listener = listenSocket(parseAddress("127.0.0.1", 0));
    gone = localAddress(listener);
  }  // closed: nothing listens there now
  uint8_t secret[kSecretBytes] = {1, 2, 3};
  strataUniqueId id = makeUniqueId(gone, secret);
  strataConfig_t c = testing::testConfig(0.5);
  const auto start = Clock::now();
  strataComm_t comm = nullptr;
  EXPECT_EQ(strataCommInitRankConfig(&comm, 2, id, 1, &c), strataTimeout);
  EXPECT_LT(secondsSince(start), 3.0);
  const std::string text = strataGetLastError(nullptr);
  EXPECT_NE(text.find(formatAddress(gone)), std::string::npos) << text;
  EXPECT_NE(text.find("serves one communicator"), std::string::npos) << text;
}

TEST(InitMisuse, RanksDisagreeingOnNranksFailWithInvalidUsage) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  strataConfig_t c = testing::testConfig(30);
  std::vector<strataResult_t> results(2, strataSuccess);
  std::vector<std::string> texts(2);
  const auto start = Clock::now();
  testing::runRanks(2, [&](int r) {
    strataComm_t comm = nullptr;
    results[size_t(r)] = strataCommInitRankConfig(&comm, r == 0 ? 2 : 3, id, r, &c);
    texts[size_t(r)] = strataGetLastError(nullptr);
    if (comm) strataCommDestroy(comm);
  });
  EXPECT_LT(secondsSince(start), 5.0) << "a mismatch must fail fast, not wait for the timeout";
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(results[size_t(r)], strataInvalidUsage) << "rank " << r << ": " << texts[size_t(r)];
    EXPECT_NE(texts[size_t(r)].find("mismatched nranks"), std::string::npos) << texts[size_t(r)];
  }
}

// Every collective on a destroyed communicator, not only the all-reduce.
TEST(InitMisuse, EveryCollectiveOnADestroyedCommunicatorIsInvalidUsage) {
  strataUniqueId id;
  ASSERT_EQ(strataGetUniqueId(&id), strataSuccess);
  strataConfig_t c = testing::testConfig(30);
  strataComm_t comm = nullptr;
  ASSERT_EQ(strataCommInitRankConfig(&comm, 1, id, 0, &c), strataSuccess);
  ASSERT_EQ(strataCommDestroy(comm), strataSuccess);
  float x[4] = {};
  EXPECT_EQ(strataReduceScatter(x, x, 4, strataFloat32, strataSum, comm, nullptr), strataInvalidUsage);
  EXPECT_EQ(strataAllGather(x, x, 4, strataFloat32, comm, nullptr), strataInvalidUsage);
  EXPECT_EQ(strataBroadcast(x, x, 4, strataFloat32, 0, comm, nullptr), strataInvalidUsage);
  EXPECT_EQ(strataReduce(x, x, 4, strataFloat32, strataSum, 0, comm, nullptr), strataInvalidUsage);
  EXPECT_NE(std::string(strataGetLastError(nullptr)).find("not valid"), std::string::npos);
  EXPECT_EQ(strataCommAbort(comm), strataInvalidUsage);
}

}  // namespace
}  // namespace strata
