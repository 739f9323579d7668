// The UCX transport between ranks run as threads, each with its own UCP context and worker:
// order and contents for every size, credits (a receiver that stops releasing stops its sender
// after `depth` messages), wrap-around, all-to-all traffic, progress on every peer while waiting
// on one, large (rendezvous) messages, peers that close, setup deadlines and abort, settings that
// differ and UCX that cannot start. The suites run twice: with UCX's default choice of transports
// and with UCX_TLS=tcp, the path between hosts. (With UCP_ERR_HANDLING_MODE_PEER, UCX 1.13 leaves
// out its shared-memory transports, which cannot report a peer's failure, so on this machine its
// default choice is TCP too; where it has more, e.g. verbs, the first run takes them.)
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "core/deadline.h"
#include "core/error.h"
#include "support/rank_threads.h"
#include "support/message_pattern.h"
#include "support/scoped_env.h"
#include "support/thread_gather.h"
#include "transports/ucx/ucx_transport.h"

namespace strata {
namespace {

using testing::runRanks;
using testing::ThreadGather;

constexpr double kSetupSec = 20;  // setup in tests that expect it to work
constexpr double kWaitSec = 20;   // any single wait for a slot or a message

UcxOptions options(int rank, int nranks, std::vector<int> peers, size_t slotBytes, int depth) {
  UcxOptions o;
  o.rank = rank;
  o.nranks = nranks;
  o.peers = std::move(peers);
  o.slotBytes = slotBytes;
  o.depth = depth;
  o.timeoutSec = kSetupSec;
  return o;
}

std::vector<int> everyoneBut(int rank, int nranks) {
  std::vector<int> peers;
  for (int r = 0; r < nranks; ++r)
    if (r != rank) peers.push_back(r);
  return peers;
}

using testing::ScopedEnv;

// Param: UCX_TLS ("" = UCX's default choice).
class Ucx : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { env_.emplace("UCX_TLS", *GetParam() ? GetParam() : nullptr); }
  void TearDown() override { env_.reset(); }
  std::optional<ScopedEnv> env_;
};

std::string tlsName(const ::testing::TestParamInfo<const char*>& info) {
  return *info.param ? info.param : "default";
}

using testing::fill;
using testing::mismatch;

void* waitSlot(SendChannel& ch, size_t bytes) {
  Deadline deadline(kWaitSec);
  for (;;) {
    if (void* p = ch.trySlot(bytes)) return p;
    if (deadline.expired()) fail(strataTimeout, "test: no send slot for {} bytes", bytes);
    std::this_thread::yield();
  }
}

const void* waitPeek(RecvChannel& ch, size_t* bytes) {
  Deadline deadline(kWaitSec);
  for (;;) {
    if (const void* p = ch.tryPeek(bytes)) return p;
    if (deadline.expired()) fail(strataTimeout, "test: no message arrived");
    std::this_thread::yield();
  }
}

void sendMessage(Transport& t, int from, int to, uint64_t message, size_t bytes) {
  SendChannel& ch = t.sendChannel(to);
  fill(waitSlot(ch, bytes), bytes, from, to, message);
  ch.post(bytes);
}

void expectMessage(Transport& t, int from, int to, uint64_t message, size_t bytes) {
  RecvChannel& ch = t.recvChannel(from);
  size_t got = 0;
  const void* p = waitPeek(ch, &got);
  ASSERT_EQ(got, bytes) << "message " << message << " from rank " << from;
  EXPECT_EQ(mismatch(p, got, from, to, message), -1) << "message " << message << " from rank "
                                                     << from;
  ch.release();
}

void drain(Transport& t) {
  Deadline deadline(kWaitSec);
  while (t.progress()) {
    if (deadline.expired()) fail(strataTimeout, "test: ucx sends did not complete");
    std::this_thread::yield();
  }
}

template <typename Call>
Error waitForError(Call&& call, double seconds) {
  Deadline deadline(seconds);
  for (;;) {
    try {
      call();
    } catch (const Error& e) {
      return e;
    }
    if (deadline.expired()) {
      ADD_FAILURE() << "no error within " << seconds << " s";
      return Error(strataSuccess, "none");
    }
    std::this_thread::yield();
  }
}

TEST_P(Ucx, OrderedMessagesOfEverySize) {
  const size_t slot = 65536;
  const std::vector<size_t> sizes = {1, 7, 4093, slot, 0, 64, 1, slot - 1};
  const int kMessages = 200;
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    UcxTransport t(options(rank, 2, {1 - rank}, slot, 4), gather.rank(rank));
    EXPECT_STREQ(t.name(), "ucx");
    if (rank == 0) {
      EXPECT_EQ(t.sendChannel(1).maxMessageBytes(), slot);
      for (int m = 0; m < kMessages; ++m) sendMessage(t, 0, 1, m, sizes[m % sizes.size()]);
      drain(t);
      return;  // closes while rank 1 may still be reading: what was sent must still arrive
    }
    RecvChannel& in = t.recvChannel(0);
    for (int m = 0; m < kMessages; ++m) {
      size_t bytes = 0;
      const void* p = waitPeek(in, &bytes);
      ASSERT_EQ(bytes, sizes[m % sizes.size()]) << m;
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(mismatch(p, bytes, 0, 1, m), -1) << m;
      size_t again = 0;
      ASSERT_EQ(in.tryPeek(&again), p) << "the same message until release";
      ASSERT_EQ(again, bytes);
      in.release();
    }
  });
}

// Credits bound what a sender may have unreleased at the receiver: exactly `depth` messages,
// however long the receiver keeps UCX progressing without releasing. So UCX never buffers more.
TEST_P(Ucx, ReceiverThatStopsReleasingStopsTheSenderAtDepth) {
  const size_t slot = 65536;
  const int depth = 4;
  std::barrier<> sync(2);
  std::atomic<bool> stalled{false};
  ThreadGather gather(2);
  std::atomic<int> postedBeforeStall{0};
  const int kAfter = 3 * depth;
  runRanks(2, [&](int rank) {
    UcxTransport t(options(rank, 2, {1 - rank}, slot, depth), gather.rank(rank));
    if (rank == 0) {
      SendChannel& out = t.sendChannel(1);
      int m = 0, refusals = 0;
      const int kRefusals = 40;  // 200 ms while rank 1 keeps progressing
      while (m < 1000 && refusals < kRefusals) {
        void* p = out.trySlot(slot);
        if (!p) {
          ++refusals;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        refusals = 0;
        fill(p, slot, 0, 1, m);
        out.post(slot);
        ++m;
      }
      EXPECT_EQ(m, depth) << "the sender got past the receiver's window";
      postedBeforeStall = m;
      stalled = true;
      sync.arrive_and_wait();
      for (int k = 0; k < kAfter; ++k) sendMessage(t, 0, 1, m + k, slot);
      drain(t);
      sync.arrive_and_wait();  // rank 1 has read everything
      return;
    }
    // Peek (and so progress) without releasing until the sender has given up.
    size_t bytes = 0;
    waitPeek(t.recvChannel(0), &bytes);
    while (!stalled) t.recvChannel(0).tryPeek(&bytes);
    sync.arrive_and_wait();
    for (int m = 0; m < postedBeforeStall + kAfter; ++m) expectMessage(t, 0, 1, m, slot);
    sync.arrive_and_wait();
  });
}

TEST_P(Ucx, BothDirectionsWrapAroundOverThousandsOfMessages) {
  const size_t slot = 4096;
  const int kMessages = 3000;
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    const int peer = 1 - rank;
    UcxTransport t(options(rank, 2, {peer}, slot, 3), gather.rank(rank));
    auto size = [&](int m) { return static_cast<size_t>(m * 37 % (slot + 1)); };
    SendChannel& out = t.sendChannel(peer);
    RecvChannel& in = t.recvChannel(peer);
    int sent = 0, received = 0;
    Deadline deadline(4 * kWaitSec);
    while (sent < kMessages || received < kMessages) {
      ASSERT_FALSE(deadline.expired()) << "sent " << sent << ", received " << received;
      if (sent < kMessages) {
        if (void* p = out.trySlot(size(sent))) {
          fill(p, size(sent), rank, peer, sent);
          out.post(size(sent));
          ++sent;
        }
      }
      size_t bytes = 0;
      if (received < kMessages) {
        if (const void* p = in.tryPeek(&bytes)) {
          ASSERT_EQ(bytes, size(received)) << received;
          ASSERT_EQ(mismatch(p, bytes, peer, rank, received), -1) << received;
          in.release();
          ++received;
        }
      }
    }
    drain(t);
  });
}

// Every rank sends a full window to every other rank before receiving anything.
class UcxAllToAll : public ::testing::TestWithParam<std::tuple<const char*, int>> {};

TEST_P(UcxAllToAll, EverybodySendsBeforeReceiving) {
  const auto [tls, nranks] = GetParam();
  ScopedEnv env("UCX_TLS", *tls ? tls : nullptr);
  const size_t slot = 256 * 1024;
  const int depth = 4, rounds = 3;
  ThreadGather gather(nranks);
  std::barrier<> done(nranks);
  runRanks(nranks, [&](int rank) {
    UcxTransport t(options(rank, nranks, everyoneBut(rank, nranks), slot, depth), gather.rank(rank));
    for (int round = 0; round < rounds; ++round) {
      for (int k = 0; k < depth; ++k)
        for (int peer : everyoneBut(rank, nranks))
          sendMessage(t, rank, peer, round * depth + k, slot - k);
      for (int peer : everyoneBut(rank, nranks))
        for (int k = 0; k < depth; ++k) expectMessage(t, peer, rank, round * depth + k, slot - k);
    }
    drain(t);
    done.arrive_and_wait();
  });
}

INSTANTIATE_TEST_SUITE_P(Tls, UcxAllToAll,
                         ::testing::Combine(::testing::Values("", "tcp"), ::testing::Values(2, 4)),
                         [](const auto& info) {
                           return std::string(*std::get<0>(info.param) ? "tcp" : "default") + "_n" +
                                  std::to_string(std::get<1>(info.param));
                         });

TEST_P(Ucx, WaitingOnOnePeerMovesTheMessageToAnother) {
  // Rank 0 posts 16 MiB to rank 2 (a rendezvous: the data moves only while rank 0 progresses),
  // then waits for rank 1, who waits for rank 2, who needs all of rank 0's message. Only rank
  // 0's wait on rank 1 can move it.
  const size_t big = 16 << 20;
  ThreadGather gather(3);
  runRanks(3, [&](int rank) {
    UcxTransport t(options(rank, 3, everyoneBut(rank, 3), big, 1), gather.rank(rank));
    if (rank == 0) {
      sendMessage(t, 0, 2, 0, big);
      expectMessage(t, 1, 0, 0, 1);
    } else if (rank == 1) {
      expectMessage(t, 2, 1, 0, 1);
      sendMessage(t, 1, 0, 0, 1);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // rank 0 is waiting by now
      expectMessage(t, 0, 2, 0, big);
      sendMessage(t, 2, 1, 0, 1);
    }
    drain(t);
  });
}

TEST_P(Ucx, LargeMessagesPipelineBothWays) {
  const size_t slot = 1 << 20;
  const int depth = 4, kMessages = 48;
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    const int peer = 1 - rank;
    UcxTransport t(options(rank, 2, {peer}, slot, depth), gather.rank(rank));
    int sent = 0, received = 0;
    Deadline deadline(4 * kWaitSec);
    while (sent < kMessages || received < kMessages) {
      ASSERT_FALSE(deadline.expired()) << "sent " << sent << ", received " << received;
      if (sent < kMessages)
        if (void* p = t.sendChannel(peer).trySlot(slot - sent)) {
          fill(p, slot - sent, rank, peer, sent);
          t.sendChannel(peer).post(slot - sent);
          ++sent;
        }
      size_t bytes = 0;
      if (received < kMessages)
        if (const void* p = t.recvChannel(peer).tryPeek(&bytes)) {
          ASSERT_EQ(bytes, slot - received);
          ASSERT_EQ(mismatch(p, bytes, peer, rank, received), -1) << received;
          t.recvChannel(peer).release();
          ++received;
        }
    }
    drain(t);
  });
}

// postFrom sends the caller's bytes where they lie, interleaved with slot messages, every size;
// with segments of one slot (how a communicator sets UCX up over sockets).
TEST_P(Ucx, PostFromSendsTheCallersBytesInOrderWithSlotMessages) {
  const size_t slot = 65536;
  const std::vector<size_t> sizes = {slot, 1, 0, 4093, slot - 1, 64};
  const int kMessages = 120;
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    UcxOptions o = options(rank, 2, {1 - rank}, slot, 4);
    o.socketSegmentBytes = slot;
    UcxTransport t(o, gather.rank(rank));
    if (rank == 0) {
      SendChannel& out = t.sendChannel(1);
      EXPECT_TRUE(out.canPostFrom());
      std::vector<std::vector<uint8_t>> mine(kMessages);  // held still until drained
      for (int m = 0; m < kMessages; ++m) {
        const size_t bytes = sizes[m % sizes.size()];
        if (m % 3 == 2) {  // every third through a slot
          sendMessage(t, 0, 1, m, bytes);
          continue;
        }
        mine[m].resize(bytes);
        fill(mine[m].data(), bytes, 0, 1, m);
        waitSlot(out, bytes);
        out.postFrom(mine[m].data(), bytes);
      }
      drain(t);
      return;
    }
    for (int m = 0; m < kMessages; ++m) expectMessage(t, 0, 1, m, sizes[m % sizes.size()]);
  });
}

// UCX holds the caller's memory until a send completes, and a send whose receiver does not read
// cannot complete: releaseCallerMemory waits for the sends that overlap the range (only those),
// and after it returns the memory is the caller's again.
TEST_P(Ucx, ReleaseCallerMemoryWaitsForTheSendsInTheRange) {
  const size_t slot = 4 << 20;
  const int depth = 8;  // 32 MiB: far more than loopback's socket buffers take
  std::atomic<bool> reading{false};
  std::barrier<> sync(2);
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    UcxTransport t(options(rank, 2, {1 - rank}, slot, depth), gather.rank(rank));
    sync.arrive_and_wait();
    if (rank == 0) {
      SendChannel& out = t.sendChannel(1);
      std::vector<uint8_t> mine(slot * depth);
      auto at = [&](int m) { return mine.data() + size_t(m) * slot; };
      for (int m = 0; m < depth; ++m) {
        fill(at(m), slot, 0, 1, m);
        ASSERT_NE(waitSlot(out, slot), nullptr) << m;
        out.postFrom(at(m), slot);
      }
      EXPECT_TRUE(t.progress()) << "every send completed unread: the test proves nothing";
      t.releaseCallerMemory(at(depth - 1) + 1000, 10);  // a few bytes inside the last message
      EXPECT_TRUE(reading) << "released before the receiver read: UCX may still send from it";
      std::memset(at(depth - 1), 0xA5, slot);
      t.releaseCallerMemory(nullptr, SIZE_MAX);
      std::memset(mine.data(), 0x5A, mine.size());
      drain(t);
      sync.arrive_and_wait();
      return;
    }
    // Neither read nor progress for a while: rank 0's sends stay in flight.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    reading = true;
    for (int m = 0; m < depth; ++m) expectMessage(t, 0, 1, m, slot);
    sync.arrive_and_wait();
  });
}

// Sends from the caller's memory that cannot leave (the receiver does not read) and an abort:
// releaseCallerMemory gives up at once with strataAborted instead of waiting out its timeout.
// The sends still hold the memory (it outlives the transport here); once the receiver reads,
// they complete and everything arrives intact.
TEST_P(Ucx, AbortEndsAReleaseThatWaitsForSendsFromTheCallersMemory) {
  const size_t slot = 4 << 20;
  const int depth = 8;
  std::atomic<bool> abortFlag{false};
  std::barrier<> sync(2);
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    std::vector<uint8_t> mine(slot * depth);  // declared first: outlives the transport
    UcxOptions o = options(rank, 2, {1 - rank}, slot, depth);
    if (rank == 0) o.abortFlag = &abortFlag;
    UcxTransport t(o, gather.rank(rank));
    sync.arrive_and_wait();
    if (rank == 0) {
      SendChannel& out = t.sendChannel(1);
      for (int m = 0; m < depth; ++m) {
        fill(mine.data() + size_t(m) * slot, slot, 0, 1, m);
        if (!waitSlot(out, slot)) break;
        out.postFrom(mine.data() + size_t(m) * slot, slot);
      }
      EXPECT_TRUE(t.progress()) << "every send completed unread: the test proves nothing";
      abortFlag = true;
      const auto start = std::chrono::steady_clock::now();
      try {
        t.releaseCallerMemory(nullptr, SIZE_MAX);
        ADD_FAILURE() << "released with sends in flight and the abort flag set";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), strataAborted) << e.what();
      }
      EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                kSetupSec / 4)
          << "the abort did not end the wait";
      sync.arrive_and_wait();
      drain(t);  // the receiver reads now
    } else {
      sync.arrive_and_wait();
      for (int m = 0; m < depth; ++m) expectMessage(t, 0, 1, m, slot);
    }
    sync.arrive_and_wait();
  });
}

// Waits for `flag` while the transport progresses, as a rank inside a collective does (a closing
// peer's endpoint flush may need this side's worker to answer).
void progressUntil(Transport& t, const std::atomic<bool>& flag) {
  Deadline deadline(kWaitSec);
  while (!flag) {
    t.progress();
    if (deadline.expired()) fail(strataTimeout, "test: the peer did not close");
    std::this_thread::yield();
  }
}

TEST_P(Ucx, ClosedPeerFailsTheWaitingReceiverWithRemoteError) {
  std::atomic<bool> closed{false};
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    auto t = std::make_unique<UcxTransport>(options(rank, 2, {1 - rank}, 4096, 2), gather.rank(rank));
    if (rank == 1) {
      sendMessage(*t, 1, 0, 0, 100);
      drain(*t);
      t.reset();
      closed = true;
      return;
    }
    progressUntil(*t, closed);
    expectMessage(*t, 1, 0, 0, 100);  // what was sent before the close still arrives
    size_t bytes;
    Error e = waitForError([&] { t->recvChannel(1).tryPeek(&bytes); }, 5);
    EXPECT_EQ(e.code(), strataRemoteError) << e.what();
    EXPECT_NE(std::string(e.what()).find("rank 1 ("), std::string::npos) << e.what();
    EXPECT_THROW(t->recvChannel(1).tryPeek(&bytes), Error) << "the failure must stick";
  });
}

TEST_P(Ucx, ClosedPeerFailsTheSenderWithRemoteError) {
  std::atomic<bool> closed{false};
  ThreadGather gather(2);
  const size_t slot = 65536;
  runRanks(2, [&](int rank) {
    auto t = std::make_unique<UcxTransport>(options(rank, 2, {1 - rank}, slot, 2), gather.rank(rank));
    if (rank == 1) {
      t.reset();
      closed = true;
      return;
    }
    progressUntil(*t, closed);
    SendChannel& out = t->sendChannel(1);
    Error e = waitForError([&] {
      if (void* p = out.trySlot(slot)) {
        std::memset(p, 1, slot);
        out.post(slot);
      }
    }, 5);
    EXPECT_EQ(e.code(), strataRemoteError) << e.what();
    EXPECT_NE(std::string(e.what()).find("rank 1"), std::string::npos) << e.what();
  });
}

// Two real ranks, but rank 0 stops in its last exchange of the setup (before any hello) and
// never progresses: rank 1, given rank 0's entry of that exchange, must fail on its own.
// Returns rank 1's error and how long its setup took.
std::pair<Error, double> setupAgainstSilentPeer(double timeoutSec, const std::atomic<bool>* abortFlag) {
  ThreadGather gather(2);
  std::atomic<bool> done{false};
  std::optional<Error> result;
  double seconds = 0;
  runRanks(2, [&](int rank) {
    int calls = 0;
    auto real = gather.rank(rank);
    auto allGather = [&](void* data, size_t bytes) {
      if (++calls < 3) return real(data, bytes);
      if (rank == 1) {  // rank 0's entry says what ours says: ready
        std::memcpy(data, static_cast<char*>(data) + bytes, bytes);
        return;
      }
      while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      fail(strataAborted, "test: rank 0 stops here");
    };
    UcxOptions o = options(rank, 2, {1 - rank}, 4096, 2);
    o.timeoutSec = timeoutSec;
    if (rank == 1) o.abortFlag = abortFlag;
    auto start = Clock::now();
    try {
      UcxTransport t(o, allGather);
      if (rank == 1) result = Error(strataSuccess, "setup succeeded");
    } catch (const Error& e) {
      if (rank == 1) result = e;
    }
    if (rank == 1) {
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
      done = true;
    }
  });
  return {*result, seconds};
}

TEST_P(Ucx, PeerThatNeverAnswersTimesOut) {
  auto [e, seconds] = setupAgainstSilentPeer(1, nullptr);
  EXPECT_EQ(e.code(), strataTimeout) << e.what();
  EXPECT_NE(std::string(e.what()).find("rank 0"), std::string::npos) << e.what();
  EXPECT_GE(seconds, 0.9);
  EXPECT_LT(seconds, 5);
}

TEST_P(Ucx, AbortEndsTheSetupQuickly) {
  std::atomic<bool> abortFlag{false};
  std::thread aborter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    abortFlag = true;
  });
  auto [e, seconds] = setupAgainstSilentPeer(60, &abortFlag);
  aborter.join();
  EXPECT_EQ(e.code(), strataAborted) << e.what();
  EXPECT_LT(seconds, 2);
}

TEST_P(Ucx, SettingsMismatchIsInvalidUsageOnEveryRank) {
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    try {
      UcxTransport t(options(rank, 2, {1 - rank}, 4096, 2 + rank), gather.rank(rank));
      ADD_FAILURE() << "rank " << rank << " accepted a peer with another depth";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), strataInvalidUsage) << e.what();
    }
  });
}

// Every rank learns that one cannot start UCX, so that all can fall back alike.
TEST(UcxTransport, UcxThatCannotStartIsUnavailableOnEveryRank) {
  ScopedEnv env("UCX_TLS", "no-such-transport");
  ThreadGather gather(3);
  runRanks(3, [&](int rank) {
    // Rank 2 serves no peer and starts no UCX, but must learn it too.
    std::vector<int> peers = rank == 2 ? std::vector<int>{} : std::vector<int>{1 - rank};
    try {
      UcxTransport t(options(rank, 3, peers, 4096, 2), gather.rank(rank));
      ADD_FAILURE() << "rank " << rank << ": UCX started with UCX_TLS=no-such-transport";
    } catch (const UcxUnavailable& e) {
      EXPECT_EQ(e.code(), strataSystemError) << e.what();
      EXPECT_NE(std::string(e.what()).find("rank 0"), std::string::npos) << e.what();
    }
  });
}

TEST(UcxTransport, NoChannelOutsideItsPeersAndBadOptionsRejected) {
  // One rank alone: the exchanges see only its own entry, repeated.
  auto lonely = [](void* data, size_t bytes) {
    for (size_t r = 1; r < 3; ++r) std::memcpy(static_cast<char*>(data) + r * bytes, data, bytes);
  };
  UcxTransport t(options(0, 3, {}, 4096, 2), lonely);
  EXPECT_THROW(t.sendChannel(1), Error);
  EXPECT_THROW(t.recvChannel(0), Error);
  EXPECT_THROW(t.sendChannel(7), Error);
  EXPECT_FALSE(t.progress());
  for (auto bad : {options(0, 2, {0}, 4096, 2), options(0, 2, {1, 1}, 4096, 2),
                   options(0, 2, {1}, 4096, 0), options(0, 2, {1}, 0, 2),
                   options(2, 2, {1}, 4096, 2)}) {
    try {
      UcxTransport b(bad, lonely);
      ADD_FAILURE() << "accepted bad options";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), strataInvalidArgument) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tls, Ucx, ::testing::Values("", "tcp"), tlsName);

}  // namespace
}  // namespace strata
