// Bootstrap tests: every rank is a thread of this process, talking over loopback TCP.
#include "bootstrap/bootstrap.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "bootstrap/socket.h"
#include "core/error.h"
#include "support/closed_without_reply.h"

namespace strata {
namespace {

using std::chrono::duration;
using std::chrono::milliseconds;

// Long enough never to fire on a loaded 2-core machine when things work; the failure tests use
// kShortTimeout and check they fail within about that.
constexpr double kTimeout = 30.0;
constexpr double kShortTimeout = 1.0;

strataUniqueId loopbackRoot(double timeoutSec) {
  return startBootstrapRoot("127.0.0.1", 0, timeoutSec);
}

struct Outcome {
  strataResult_t code = strataSuccess;
  std::string message;
};

// Runs body(i) on `count` threads; collects what each thread threw (success if nothing).
std::vector<Outcome> runThreads(int count, const std::function<void(int)>& body) {
  std::vector<Outcome> outcomes(count);
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i)
    threads.emplace_back([&, i] {
      try {
        body(i);
      } catch (const Error& e) {
        outcomes[i] = {e.code(), e.what()};
      } catch (const std::exception& e) {
        outcomes[i] = {strataInternalError, e.what()};
      }
    });
  for (auto& t : threads) t.join();
  return outcomes;
}

void expectAll(const std::vector<Outcome>& outcomes, strataResult_t code) {
  for (size_t i = 0; i < outcomes.size(); ++i)
    EXPECT_EQ(outcomes[i].code, code) << "thread " << i << ": " << outcomes[i].message;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return duration<double>(std::chrono::steady_clock::now() - start).count();
}

uint8_t pattern(int rank, size_t i) { return static_cast<uint8_t>(rank * 131 + i * 7 + 1); }

// ---- Unique id ------------------------------------------------------------------------------------

TEST(UniqueId, RoundTripIPv4AndIPv6) {
  for (const char* host : {"10.1.2.3", "::1"}) {
    uint8_t secret[kSecretBytes];
    for (int i = 0; i < kSecretBytes; ++i) secret[i] = static_cast<uint8_t>(i * 3);
    sockaddr_storage root = parseAddress(host, 4711);
    UniqueIdData back = decodeUniqueId(makeUniqueId(root, secret));
    EXPECT_EQ(formatAddress(loadAddress(back.rootAddr)), formatAddress(root));
    EXPECT_EQ(0, std::memcmp(back.secret, secret, kSecretBytes));
    UniqueIdData again = decodeUniqueId(encodeUniqueId(back));
    EXPECT_EQ(0, std::memcmp(&again, &back, sizeof(back)));
  }
}

TEST(UniqueId, GivenSecretIsUsed) {
  uint8_t secret[kSecretBytes];
  std::memset(secret, 0x42, sizeof(secret));
  UniqueIdData data = decodeUniqueId(startBootstrapRoot("127.0.0.1", 0, kShortTimeout, secret));
  EXPECT_EQ(0, std::memcmp(data.secret, secret, kSecretBytes));
  EXPECT_EQ(formatAddress(loadAddress(data.rootAddr)).rfind("127.0.0.1:", 0), 0u);
}

TEST(UniqueId, FreshIdsDifferInSecret) {
  UniqueIdData a = decodeUniqueId(loopbackRoot(kShortTimeout));
  UniqueIdData b = decodeUniqueId(loopbackRoot(kShortTimeout));
  EXPECT_NE(0, std::memcmp(a.secret, b.secret, kSecretBytes));
  EXPECT_NE(addressPort(loadAddress(a.rootAddr)), addressPort(loadAddress(b.rootAddr)));
}

TEST(UniqueId, GarbageIsRejected) {
  auto expectRejected = [](const strataUniqueId& id, const char* why) {
    try {
      decodeUniqueId(id);
      ADD_FAILURE() << "accepted " << why;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), strataInvalidArgument) << why;
      EXPECT_NE(std::string(e.what()).find("unique id"), std::string::npos) << e.what();
    }
  };
  strataUniqueId zeros;
  std::memset(&zeros, 0, sizeof(zeros));
  expectRejected(zeros, "all zeros");
  strataUniqueId junk;
  for (size_t i = 0; i < sizeof(junk.internal); ++i) junk.internal[i] = static_cast<char>(i * 37);
  expectRejected(junk, "junk bytes");

  UniqueIdData good = decodeUniqueId(loopbackRoot(kShortTimeout));
  UniqueIdData bad = good;
  bad.version += 1;
  expectRejected(encodeUniqueId(bad), "wrong version");
  sockaddr_storage root = loadAddress(good.rootAddr);
  root.ss_family = AF_UNIX;
  bad = good;
  storeAddress(bad.rootAddr, root);
  expectRejected(encodeUniqueId(bad), "AF_UNIX family");
  root = loadAddress(good.rootAddr);
  setAddressPort(root, 0);
  bad = good;
  storeAddress(bad.rootAddr, root);
  expectRejected(encodeUniqueId(bad), "port 0");
}

TEST(Address, ParseAndFormat) {
  EXPECT_EQ(formatAddress(parseHostPort("127.0.0.1:80")), "127.0.0.1:80");
  EXPECT_EQ(formatAddress(parseHostPort("[::1]:9")), "[::1]:9");
  EXPECT_EQ(parseHostPort("localhost:5").ss_family, AF_INET);
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "::1:5", "1.2.3.4:70000", "1.2.3.4:x"})
    EXPECT_THROW(parseHostPort(bad), Error) << bad;
  EXPECT_TRUE(isInetFamily(defaultBindAddress().ss_family));
}

// ---- A working communicator ---------------------------------------------------------------------

class BootstrapSizes : public ::testing::TestWithParam<int> {};

TEST_P(BootstrapSizes, AllGatherBarrierAndSendRecvBetweenEveryPair) {
  const int nranks = GetParam();
  strataUniqueId id = loopbackRoot(kTimeout);
  auto outcomes = runThreads(nranks, [&](int rank) {
    Bootstrap bs(id, rank, nranks, kTimeout, nullptr);
    ASSERT_EQ(bs.rank(), rank);
    ASSERT_EQ(bs.nranks(), nranks);

    // An odd slot size, and a second round to see that consecutive collectives stay in step.
    for (size_t slot : {size_t{37}, size_t{8}}) {
      std::vector<uint8_t> data(slot * nranks, 0xEE);
      for (size_t i = 0; i < slot; ++i) data[rank * slot + i] = pattern(rank, i + slot);
      bs.allGather(data.data(), slot);
      for (int r = 0; r < nranks; ++r)
        for (size_t i = 0; i < slot; ++i)
          ASSERT_EQ(data[r * slot + i], pattern(r, i + slot)) << "rank " << rank << " slot " << r;
    }
    for (int i = 0; i < 3; ++i) bs.barrier();

    // Two messages to every peer (and to itself) first: small enough for the socket buffers.
    // Sizes depend on the pair, so a mix-up shows as a size mismatch.
    for (int peer = 0; peer < nranks; ++peer)
      for (int seq = 0; seq < 2; ++seq) {
        std::vector<int> msg(3 + (rank + 2 * peer) % 5, 0);
        msg[0] = rank, msg[1] = peer, msg[2] = seq;
        bs.send(peer, msg.data(), msg.size() * sizeof(int));
      }
    // Receive in descending order, so connections arrive while waiting for another peer.
    for (int peer = nranks - 1; peer >= 0; --peer)
      for (int seq = 0; seq < 2; ++seq) {
        std::vector<int> msg(3 + (peer + 2 * rank) % 5, -1);
        bs.recv(peer, msg.data(), msg.size() * sizeof(int));
        ASSERT_EQ(msg[0], peer);
        ASSERT_EQ(msg[1], rank);
        ASSERT_EQ(msg[2], seq) << "messages of a pair arrive in order";
      }
    bs.barrier();
  });
  expectAll(outcomes, strataSuccess);
}

INSTANTIATE_TEST_SUITE_P(Ranks, BootstrapSizes, ::testing::Values(1, 2, 3, 5, 8, 17));

TEST(Bootstrap, LargeMessagesDoNotDeadlock) {
  // Slots and messages far beyond the socket buffers: every rank sends and receives at once.
  const int nranks = 3;
  const size_t slot = 3 << 20;
  strataUniqueId id = loopbackRoot(kTimeout);
  auto outcomes = runThreads(nranks, [&](int rank) {
    Bootstrap bs(id, rank, nranks, kTimeout, nullptr);
    std::vector<uint8_t> data(slot * nranks);
    for (size_t i = 0; i < slot; ++i) data[rank * slot + i] = pattern(rank, i);
    bs.allGather(data.data(), slot);
    for (int r = 0; r < nranks; ++r)
      for (size_t i = 0; i < slot; i += 4093) ASSERT_EQ(data[r * slot + i], pattern(r, i));
    // Rank 0 -> 1 with the receiver posting late.
    std::vector<uint8_t> big(slot);
    if (rank == 0) {
      for (size_t i = 0; i < slot; ++i) big[i] = pattern(5, i);
      bs.send(1, big.data(), big.size());
    } else if (rank == 1) {
      std::this_thread::sleep_for(milliseconds(50));
      bs.recv(0, big.data(), big.size());
      for (size_t i = 0; i < slot; i += 1021) ASSERT_EQ(big[i], pattern(5, i));
    }
    bs.barrier();
  });
  expectAll(outcomes, strataSuccess);
}

TEST(Bootstrap, IndependentRootsRunSideBySide) {
  const int nranks = 3;
  strataUniqueId a = loopbackRoot(kTimeout), b = loopbackRoot(kTimeout);
  auto outcomes = runThreads(2 * nranks, [&](int i) {
    int rank = i % nranks;
    bool first = i < nranks;
    Bootstrap bs(first ? a : b, rank, nranks, kTimeout, nullptr);
    std::vector<int> data(nranks);
    data[rank] = (first ? 100 : 200) + rank;
    bs.allGather(data.data(), sizeof(int));
    for (int r = 0; r < nranks; ++r) ASSERT_EQ(data[r], (first ? 100 : 200) + r);
  });
  expectAll(outcomes, strataSuccess);
}

TEST(Bootstrap, WorksOverIPv6) {
  try {
    Socket probe = listenSocket(parseAddress("::1", 0));
  } catch (const Error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  const int nranks = 3;
  strataUniqueId id = startBootstrapRoot("::1", 0, kTimeout);
  ASSERT_EQ(loadAddress(decodeUniqueId(id).rootAddr).ss_family, AF_INET6);
  auto outcomes = runThreads(nranks, [&](int rank) {
    Bootstrap bs(id, rank, nranks, kTimeout, nullptr);
    std::vector<int> data(nranks);
    data[rank] = rank + 7;
    bs.allGather(data.data(), sizeof(int));
    for (int r = 0; r < nranks; ++r) ASSERT_EQ(data[r], r + 7);
    int token = rank;
    bs.send((rank + 1) % nranks, &token, sizeof(token));
    bs.recv((rank + nranks - 1) % nranks, &token, sizeof(token));
    ASSERT_EQ(token, (rank + nranks - 1) % nranks);
  });
  expectAll(outcomes, strataSuccess);
}

// ---- Intruders ---------------------------------------------------------------------------------

// A raw connection to the root that is not a rank.
Socket connectRaw(const strataUniqueId& id) {
  return connectSocket(loadAddress(decodeUniqueId(id).rootAddr), "test intruder", Deadline(kTimeout), nullptr);
}

TEST(Bootstrap, IntrudersAreDroppedAndTheCommunicatorStillForms) {
  const int nranks = 4;
  strataUniqueId id = loopbackRoot(kTimeout);

  // Before any rank: one that never says anything, one that sends garbage, one that announces
  // a frame of absurd length, and a real Bootstrap that holds the wrong secret.
  Socket silent = connectRaw(id);
  Socket garbage = connectRaw(id);
  std::string junk(200, '\x5a');
  sendAll(garbage, junk.data(), junk.size(), Deadline(kTimeout), nullptr);
  Socket huge = connectRaw(id);
  std::vector<uint8_t> hugeHeader(16, 0xFF);
  sendAll(huge, hugeHeader.data(), hugeHeader.size(), Deadline(kTimeout), nullptr);

  UniqueIdData forged = decodeUniqueId(id);
  forged.secret[0] ^= 1;
  strataUniqueId forgedId = encodeUniqueId(forged);
  std::optional<Outcome> impostor;
  std::thread impostorThread([&] {
    try {
      Bootstrap bs(forgedId, 0, nranks, kShortTimeout, nullptr);
      impostor = Outcome{};
    } catch (const Error& e) {
      impostor = Outcome{e.code(), e.what()};
    }
  });
  impostorThread.join();
  ASSERT_TRUE(impostor);
  EXPECT_NE(impostor->code, strataSuccess) << "a wrong secret must not join";

  EXPECT_TRUE(testing::closedWithoutReply(garbage));
  EXPECT_TRUE(testing::closedWithoutReply(huge));

  auto outcomes = runThreads(nranks, [&](int rank) {
    Bootstrap bs(id, rank, nranks, kTimeout, nullptr);
    std::vector<int> data(nranks);
    data[rank] = rank * 10;
    bs.allGather(data.data(), sizeof(int));
    for (int r = 0; r < nranks; ++r) ASSERT_EQ(data[r], r * 10);
  });
  expectAll(outcomes, strataSuccess);
}

// ---- Failures ----------------------------------------------------------------------------------

TEST(Bootstrap, MissingRankTimesOutOnTheOthers) {
  const int nranks = 4;
  strataUniqueId id = loopbackRoot(kShortTimeout);
  auto start = std::chrono::steady_clock::now();
  auto outcomes = runThreads(nranks - 1, [&](int rank) {  // rank 3 never comes
    Bootstrap bs(id, rank, nranks, kShortTimeout, nullptr);
  });
  double elapsed = secondsSince(start);
  expectAll(outcomes, strataTimeout);
  EXPECT_LT(elapsed, 3.0);
  EXPECT_GT(elapsed, 0.5);
}

TEST(Bootstrap, RecvFromSilentPeerTimesOut) {
  const int nranks = 2;
  strataUniqueId id = loopbackRoot(kTimeout);
  std::atomic<double> elapsed{0};
  auto outcomes = runThreads(nranks, [&](int rank) {
    Bootstrap bs(id, rank, nranks, kShortTimeout, nullptr);
    if (rank == 1) {
      auto start = std::chrono::steady_clock::now();
      int value;
      try {
        bs.recv(0, &value, sizeof(value));
      } catch (...) {
        elapsed = secondsSince(start);
        throw;
      }
    }
  });
  EXPECT_EQ(outcomes[0].code, strataSuccess) << outcomes[0].message;
  EXPECT_EQ(outcomes[1].code, strataTimeout) << outcomes[1].message;
  EXPECT_LT(elapsed.load(), 3.0);
}

TEST(Bootstrap, MismatchedNranksFailsWithInvalidUsage) {
  strataUniqueId id = loopbackRoot(kTimeout);
  auto start = std::chrono::steady_clock::now();
  auto outcomes = runThreads(3, [&](int i) {
    // Ranks 0 and 1 think there are 3 ranks; rank 2 thinks there are 4.
    Bootstrap bs(id, i, i == 2 ? 4 : 3, kTimeout, nullptr);
  });
  expectAll(outcomes, strataInvalidUsage);
  EXPECT_LT(secondsSince(start), 5.0) << "a mismatch must fail fast, not wait for the timeout";
  for (auto& o : outcomes) EXPECT_NE(o.message.find("nranks"), std::string::npos) << o.message;
}

TEST(Bootstrap, DuplicateRankIsRefused) {
  strataUniqueId id = loopbackRoot(5.0);
  auto outcomes = runThreads(3, [&](int i) {
    // Threads 0 and 1 both claim rank 0; rank 1 comes once both have registered.
    if (i == 2) std::this_thread::sleep_for(milliseconds(300));
    Bootstrap bs(id, i == 2 ? 1 : 0, 2, 5.0, nullptr);
  });
  int refused = 0, joined = 0;
  for (auto& o : outcomes) {
    if (o.code == strataInvalidUsage) ++refused;
    if (o.code == strataSuccess) ++joined;
  }
  EXPECT_EQ(refused, 1) << outcomes[0].message << " | " << outcomes[1].message;
  EXPECT_EQ(joined, 2) << outcomes[0].message << " | " << outcomes[1].message << " | "
                       << outcomes[2].message;
}

TEST(Bootstrap, SizeMismatchIsInvalidUsage) {
  strataUniqueId id = loopbackRoot(kTimeout);
  auto outcomes = runThreads(2, [&](int rank) {
    Bootstrap bs(id, rank, 2, kTimeout, nullptr);
    char buf[16] = {};
    if (rank == 0) {
      bs.send(1, buf, 10);
      bs.send(1, buf, 4);
    } else {
      EXPECT_THROW(
          try { bs.recv(0, buf, 12); } catch (const Error& e) {
            EXPECT_EQ(e.code(), strataInvalidUsage) << e.what();
            throw;
          },
          Error);
      // The mismatched message was skipped: the next one still lines up.
      bs.recv(0, buf, 4);
    }
  });
  expectAll(outcomes, strataSuccess);
}

TEST(Bootstrap, BadArgumentsAreRejected) {
  strataUniqueId id = loopbackRoot(kShortTimeout);
  for (auto [rank, nranks] : {std::pair{2, 2}, std::pair{-1, 2}, std::pair{0, 0}}) {
    try {
      Bootstrap bs(id, rank, nranks, kShortTimeout, nullptr);
      ADD_FAILURE() << "accepted rank " << rank << " of " << nranks;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), strataInvalidArgument) << e.what();
    }
  }
  Bootstrap solo(loopbackRoot(kTimeout), 0, 1, kTimeout, nullptr);
  char byte = 0;
  EXPECT_THROW(solo.send(1, &byte, 1), Error);
  EXPECT_THROW(solo.recv(0, &byte, 1), Error);  // nothing was sent to itself
}

// ---- Abort ---------------------------------------------------------------------------------------

// Runs `wait` on a thread, sets the abort flag after a while, and checks that wait() ends with
// strataAborted soon after.
void expectAbortedQuickly(const std::function<void(const std::atomic<bool>*)>& wait) {
  std::atomic<bool> abortFlag{false};
  std::atomic<Clock::rep> abortedAt{0};
  Outcome outcome;
  double latency = -1;
  std::thread waiter([&] {
    try {
      wait(&abortFlag);
    } catch (const Error& e) {
      outcome = {e.code(), e.what()};
    }
    latency = duration<double>(Clock::now() - Clock::time_point(Clock::duration(abortedAt.load())))
                  .count();
  });
  std::this_thread::sleep_for(milliseconds(300));
  abortedAt = Clock::now().time_since_epoch().count();
  abortFlag = true;
  waiter.join();
  EXPECT_EQ(outcome.code, strataAborted) << outcome.message;
  EXPECT_LT(latency, 0.2);
}

TEST(Bootstrap, AbortDuringInitReturnsQuickly) {
  strataUniqueId id = loopbackRoot(kTimeout);
  expectAbortedQuickly([&](const std::atomic<bool>* abortFlag) {
    Bootstrap bs(id, 0, 2, kTimeout, abortFlag);  // rank 1 never comes
  });
}

TEST(Bootstrap, AbortDuringConnectToAbsentRootReturnsQuickly) {
  // Nobody listens here: the connect retries until the abort.
  Socket placeholder = listenSocket(parseAddress("127.0.0.1", 0));
  uint8_t secret[kSecretBytes] = {};
  strataUniqueId id = makeUniqueId(localAddress(placeholder), secret);
  placeholder.close();
  expectAbortedQuickly([&](const std::atomic<bool>* abortFlag) {
    Bootstrap bs(id, 0, 2, kTimeout, abortFlag);
  });
}

TEST(Bootstrap, AbortDuringRecvReturnsQuickly) {
  strataUniqueId id = loopbackRoot(kTimeout);
  std::atomic<int> phase{0};
  auto outcomes = runThreads(2, [&](int rank) {
    if (rank == 0) {
      Bootstrap bs(id, 0, 2, kTimeout, nullptr);
      bs.barrier();
      // Stay alive (and silent) until rank 1 is done.
      while (phase.load() == 0) std::this_thread::sleep_for(milliseconds(5));
      return;
    }
    // Rank 1 joins with the flag, then waits for a message that never comes.
    expectAbortedQuickly([&](const std::atomic<bool>* flag) {
      // The flag given to expectAbortedQuickly is only known here; the bootstrap must use it
      // from the start, so join inside.
      Bootstrap bs(id, 1, 2, kTimeout, flag);
      bs.barrier();
      int value;
      bs.recv(0, &value, sizeof(value));
    });
    phase = 1;
  });
  expectAll(outcomes, strataSuccess);
}

}  // namespace
}  // namespace strata
