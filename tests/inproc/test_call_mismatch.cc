// Ranks that call collectives with different kinds, counts, datatypes, ops or roots: the call
// fingerprint (src/exec/call_fingerprint.h) makes a receiving rank fail with strataInvalidUsage
// and a text that names the difference, before it uses any of the peer's data; no rank hangs
// past its deadline. Also the fingerprint's own encoding, which reads peer bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "exec/call_fingerprint.h"
#include "support/comm_threads.h"

namespace strata {
namespace {

using Clock = std::chrono::steady_clock;

// A short deadline: the rank that detects the mismatch returns at once, the ones that wait on it
// give up after this.
constexpr double kTimeoutSec = 1.0;

struct Outcome {
  strataResult_t result = strataSuccess;
  std::string text;
  double seconds = 0;
};

// Runs call(rank, comm) on every rank of an n-rank communicator and collects what each returned.
std::vector<Outcome> runMismatch(int n, const strataConfig_t& config,
                                 const std::function<strataResult_t(int, strataComm_t)>& call) {
  std::vector<Outcome> outcomes(static_cast<size_t>(n));
  testing::withComm(n, config, [&](int r, strataComm_t comm) {
    const auto start = Clock::now();
    Outcome& o = outcomes[size_t(r)];
    o.result = call(r, comm);
    o.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (o.result != strataSuccess) o.text = strataGetLastError(comm);
  });
  return outcomes;
}

// Some rank saw the mismatch with a text naming `difference`, and every rank returned (no hang)
// in about the deadline. With `nobodyFinishes` no rank may succeed (a collective whose every
// result depends on every rank); otherwise a rank may finish only where its call needs nothing
// from a mismatched peer, and the call's lambda checks that its result is right.
void expectDetected(const std::vector<Outcome>& outcomes, const std::string& difference,
                    bool nobodyFinishes) {
  int detected = 0;
  for (size_t r = 0; r < outcomes.size(); ++r) {
    const Outcome& o = outcomes[r];
    EXPECT_LT(o.seconds, 2 * kTimeoutSec + 1.0) << "rank " << r << " waited too long";
    if (o.result == strataInvalidUsage) {
      EXPECT_NE(o.text.find(difference), std::string::npos) << "rank " << r << ": " << o.text;
      EXPECT_NE(o.text.find("same count, datatype, op and root"), std::string::npos) << o.text;
      ++detected;
    } else if (o.result == strataSuccess) {
      EXPECT_FALSE(nobodyFinishes) << "rank " << r << " finished a mismatched call";
    } else if (o.result == strataRemoteError) {
      // A peer that detected the mismatch gave up, and says so (docs/reliability.md).
      EXPECT_NE(o.text.find("gave up"), std::string::npos) << "rank " << r << ": " << o.text;
    } else {
      EXPECT_EQ(o.result, strataTimeout) << "rank " << r << ": " << o.text;
    }
  }
  EXPECT_GE(detected, 1) << "no rank detected the mismatch (" << difference << ")";
}

strataConfig_t config(const char* transport = nullptr) {
  strataConfig_t c = testing::testConfig(kTimeoutSec);
  c.transport = transport;
  return c;
}

// float32 and int32 of the same count move the same bytes: only the fingerprint tells them apart.
TEST(CallMismatch, DatatypeOfTheSameSizeIsDetected) {
  auto outcomes = runMismatch(3, config(), [](int r, strataComm_t comm) {
    std::vector<int32_t> x(100, 1);
    return strataAllReduce(x.data(), x.data(), x.size(), r == 2 ? strataInt32 : strataFloat32,
                           strataSum, comm, nullptr);
  });
  expectDetected(outcomes, "datatype", true);
}

TEST(CallMismatch, OpIsDetected) {
  auto outcomes = runMismatch(2, config(), [](int r, strataComm_t comm) {
    std::vector<float> x(33, 1.0f);
    return strataAllReduce(x.data(), x.data(), x.size(), strataFloat32,
                           r == 0 ? strataSum : strataMax, comm, nullptr);
  });
  expectDetected(outcomes, "op ", true);
}

// Large enough that the fingerprint travels alone ahead of the data (over 4 KiB), over TCP.
TEST(CallMismatch, CountIsDetectedOverTcpWithLargeMessages) {
  auto outcomes = runMismatch(2, config("tcp"), [](int r, strataComm_t comm) {
    std::vector<float> x(300000, 1.0f);
    return strataAllReduce(x.data(), x.data(), r == 0 ? 300000 : 200000, strataFloat32, strataSum,
                           comm, nullptr);
  });
  expectDetected(outcomes, "count", true);
}

// Ranks 0-2 broadcast from rank 0, rank 3 from rank 1. Ranks whose chain or tree only touches
// agreeing peers may finish, with rank 0's data; the others detect or time out.
TEST(CallMismatch, BroadcastRootIsDetected) {
  auto outcomes = runMismatch(4, config(), [](int r, strataComm_t comm) {
    const int root = r == 3 ? 1 : 0;
    std::vector<int32_t> x(64, r + 10);
    strataResult_t res = strataBroadcast(x.data(), x.data(), x.size(), strataInt32, root, comm, nullptr);
    if (res == strataSuccess) {
      for (int32_t v : x) EXPECT_EQ(v, root + 10) << "rank " << r << " finished with wrong data";
    }
    return res;
  });
  expectDetected(outcomes, "root", false);
}

// Rank 0 reduces to rank 0, ranks 1 and 2 to rank 2: a root that finishes must hold the sum.
TEST(CallMismatch, ReduceRootIsDetected) {
  auto outcomes = runMismatch(3, config(), [](int r, strataComm_t comm) {
    const int root = r == 0 ? 0 : 2;
    std::vector<int32_t> x(64, r), y(64, -1);
    strataResult_t res = strataReduce(x.data(), y.data(), x.size(), strataInt32, strataSum, root,
                                      comm, nullptr);
    if (res == strataSuccess && r == root) {
      for (int32_t v : y) EXPECT_EQ(v, 0 + 1 + 2) << "root " << r << " finished with a wrong sum";
    }
    return res;
  });
  expectDetected(outcomes, "root", false);
}

TEST(CallMismatch, CollectiveKindIsDetected) {
  auto outcomes = runMismatch(2, config(), [](int r, strataComm_t comm) {
    std::vector<int32_t> x(128, 1), y(256, 0);
    if (r == 0) return strataAllReduce(x.data(), x.data(), 128, strataInt32, strataSum, comm, nullptr);
    return strataAllGather(x.data(), y.data(), 64, strataInt32, comm, nullptr);
  });
  expectDetected(outcomes, "collective", true);
}

TEST(CallMismatch, ReduceScatterCountIsDetected) {
  auto outcomes = runMismatch(2, config("tcp"), [](int r, strataComm_t comm) {
    std::vector<int32_t> x(200, 1), y(100, 0);
    return strataReduceScatter(x.data(), y.data(), r == 0 ? 100 : 90, strataInt32, strataSum, comm,
                               nullptr);
  });
  expectDetected(outcomes, "count", true);
}

// After a mismatch is reported, the communicator is poisoned (its async error is set) and can
// still be destroyed; a fresh one works.
TEST(CallMismatch, CommunicatorIsPoisonedAndAFreshOneWorks) {
  testing::withComm(2, config(), [](int r, strataComm_t comm) {
    std::vector<int32_t> x(16, 1);
    strataResult_t res = strataAllReduce(x.data(), x.data(), x.size(),
                                         r == 0 ? strataInt32 : strataUint32, strataSum, comm, nullptr);
    EXPECT_TRUE(res == strataInvalidUsage || res == strataTimeout) << strataGetErrorString(res);
    strataResult_t async = strataSuccess;
    EXPECT_EQ(strataCommGetAsyncError(comm, &async), strataSuccess);
    EXPECT_EQ(async, res);
  });
  testing::withComm(2, config(), [](int, strataComm_t comm) {
    std::vector<int32_t> x(16, 1);
    ASSERT_EQ(strataAllReduce(x.data(), x.data(), x.size(), strataInt32, strataSum, comm, nullptr),
              strataSuccess);
    for (int32_t v : x) EXPECT_EQ(v, 2);
  });
}

TEST(CallFingerprint, EncodesTheCallAndNamesEachDifference) {
  CallFingerprint a = makeFingerprint("allreduce", 7, 1000, strataFloat32, strataSum, 0);
  EXPECT_EQ(describeCall(a), "allreduce #7 (1000 elements of float, sum)");
  EXPECT_EQ(callDifference(a, a), "");
  CallFingerprint b = makeFingerprint("broadcast", 8, 10, strataInt8, strataMax, 3);
  EXPECT_EQ(describeCall(b), "broadcast #8 (10 elements of int8, root 3)");
  EXPECT_EQ(callDifference(a, b),
            "collective broadcast != allreduce, call number 8 != 7, count 10 != 1000, "
            "datatype int8 != float, root 3 != 0");
  // Ops and roots of collectives that have none are not compared.
  EXPECT_EQ(callDifference(makeFingerprint("allgather", 1, 4, strataInt32, strataSum, 0),
                           makeFingerprint("allgather", 1, 4, strataInt32, strataMax, 2)),
            "");
}

TEST(CallFingerprint, ReadingForeignBytesNeverTrustsThem) {
  CallFingerprint a = makeFingerprint("reduce", 1, 5, strataInt64, strataMin, 1);
  std::vector<unsigned char> bytes(kFingerprintBytes + 3);
  std::memcpy(bytes.data() + 1, &a, sizeof(a));  // unaligned on purpose
  auto read = readFingerprint(bytes.data() + 1, kFingerprintBytes);
  ASSERT_TRUE(read);
  EXPECT_EQ(callDifference(a, *read), "");
  EXPECT_FALSE(readFingerprint(bytes.data() + 1, kFingerprintBytes - 1));  // too short
  EXPECT_FALSE(readFingerprint(bytes.data(), kFingerprintBytes));          // no magic there
  EXPECT_FALSE(readFingerprint(nullptr, 100));
  // Out-of-range fields still describe safely.
  CallFingerprint junk = a;
  junk.collective = 200;
  junk.type = 250;
  junk.op = 99;
  EXPECT_EQ(describeCall(junk), "unknown collective #1 (5 elements of unknown)");
  EXPECT_NE(callDifference(a, junk).find("datatype unknown != int64"), std::string::npos);
}

}  // namespace
}  // namespace strata
