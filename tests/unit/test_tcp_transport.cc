// The TCP transport between ranks run as threads over 127.0.0.1: order and contents for every
// size, back-pressure, wrap-around, all-to-all traffic with several streams, progress on every
// connection while waiting on one, peers that close, intruders, and setup deadlines.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "bootstrap/socket.h"
#include "core/deadline.h"
#include "core/error.h"
#include "support/rank_threads.h"
#include "support/message_pattern.h"
#include "support/thread_gather.h"
#include "transports/tcp/tcp_transport.h"

namespace strata {
namespace {

using testing::runRanks;

constexpr double kSetupSec = 20;  // connection setup in tests that expect it to work
constexpr double kWaitSec = 20;   // any single wait for a slot or a message

std::array<uint8_t, kSecretBytes> secret(uint8_t seed = 7) {
  std::array<uint8_t, kSecretBytes> s;
  for (int i = 0; i < kSecretBytes; ++i) s[i] = static_cast<uint8_t>(seed * 31 + i);
  return s;
}

TcpOptions options(int rank, int nranks, std::vector<int> peers, size_t slotBytes, int depth,
                   int streams) {
  TcpOptions o;
  o.rank = rank;
  o.nranks = nranks;
  o.peers = std::move(peers);
  o.slotBytes = slotBytes;
  o.depth = depth;
  o.streams = streams;
  o.ifname = "lo";
  o.timeoutSec = kSetupSec;
  o.secret = secret();
  return o;
}

std::vector<int> everyoneBut(int rank, int nranks) {
  std::vector<int> peers;
  for (int r = 0; r < nranks; ++r)
    if (r != rank) peers.push_back(r);
  return peers;
}

using strata::testing::ThreadGather;

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

// Every queued byte handed to the kernel.
void drain(Transport& t) {
  Deadline deadline(kWaitSec);
  while (t.progress()) {
    if (deadline.expired()) fail(strataTimeout, "test: tcp sends did not drain");
    std::this_thread::yield();
  }
}

// Runs the call until it throws strata::Error; returns it (fails the test after `seconds`).
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

TEST(TcpTransport, OrderedMessagesOfEverySize) {
  const size_t slot = 65536;
  const std::vector<size_t> sizes = {1, 7, 4093, slot, 0, 64, 1, slot - 1};
  const int kMessages = 200;
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    TcpTransport t(options(rank, 2, {1 - rank}, slot, 4, 2), gather.rank(rank));
    EXPECT_STREQ(t.name(), "tcp");
    EXPECT_FALSE(t.caps().zeroCopy || t.caps().oneSided || t.caps().deviceMemory);
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

TEST(TcpTransport, SendSlotsRunOutWhileTheReceiverStalls) {
  const size_t slot = 65536;
  const int depth = 4;
  std::barrier<> sync(2);
  ThreadGather gather(2);
  std::atomic<int> postedBeforeStall{0};
  const int kAfter = 3 * depth;
  runRanks(2, [&](int rank) {
    TcpTransport t(options(rank, 2, {1 - rank}, slot, depth, 2), gather.rank(rank));
    if (rank == 0) {
      SendChannel& out = t.sendChannel(1);
      // Rank 1 does not read: once the kernel buffers are full, every slot stays in flight and
      // trySlot keeps refusing. 4096 messages (256 MiB) are far more than socket buffers hold.
      int m = 0, refusals = 0;
      const int kRefusals = 20;  // over 100 ms: the kernel has stopped taking more
      while (m < 4096 && refusals < kRefusals) {
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
      EXPECT_EQ(refusals, kRefusals) << "trySlot never refused although the receiver never read";
      EXPECT_GE(m, depth);
      postedBeforeStall = m;
      sync.arrive_and_wait();
      for (int k = 0; k < kAfter; ++k) sendMessage(t, 0, 1, m + k, slot);
      drain(t);
      sync.arrive_and_wait();  // rank 1 has read everything
      return;
    }
    sync.arrive_and_wait();
    for (int m = 0; m < postedBeforeStall + kAfter; ++m) expectMessage(t, 0, 1, m, slot);
    sync.arrive_and_wait();
  });
}

// postFrom sends the caller's bytes where they lie, interleaved with slot messages, every size.
TEST(TcpTransport, PostFromSendsTheCallersBytesInOrderWithSlotMessages) {
  const size_t slot = 65536;
  const std::vector<size_t> sizes = {slot, 1, 0, 4093, slot - 1, 64};
  const int kMessages = 120;
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    TcpTransport t(options(rank, 2, {1 - rank}, slot, 4, 3), gather.rank(rank));
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

// A message posted from the caller's memory goes out as the memory is when it leaves, until
// releaseCallerMemory moves it into its slot: for the messages that overlap the range given
// (before the caller overwrites it), or all of them (a collective that failed before its flush).
TEST(TcpTransport, ReleaseCallerMemoryMovesWhatIsStillQueuedInTheRange) {
  const size_t slot = 4 << 20;
  const int depth = 8;
  const int kMessages = 3 * depth;  // 96 MiB: far more than loopback's socket buffers take
  const int kMoved = 4, kLeft = depth - 1, kRewritten = 100;
  std::barrier<> sync(2);
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    TcpTransport t(options(rank, 2, {1 - rank}, slot, depth, 2), gather.rank(rank));
    if (rank == 0) {
      SendChannel& out = t.sendChannel(1);
      std::vector<uint8_t> mine(slot * depth);
      auto at = [&](int m) { return mine.data() + size_t(m) * slot; };
      // Rank 1 does not read yet: the kernel takes the first few MiB, the rest stays queued.
      for (int m = 0; m < depth; ++m) {
        fill(at(m), slot, 0, 1, m);
        ASSERT_NE(out.trySlot(slot), nullptr) << m;
        out.postFrom(at(m), slot);
      }
      EXPECT_TRUE(t.progress()) << "the kernel took all of it: the test proves nothing";
      t.releaseCallerMemory(at(kMoved) + 1000, 10);  // a few bytes inside message kMoved
      std::memset(at(kMoved), 0xA5, slot);
      fill(at(kLeft), slot, 0, 1, kRewritten);  // still the caller's: goes out as it is now
      t.releaseCallerMemory(nullptr, SIZE_MAX);
      std::memset(mine.data(), 0x5A, mine.size());
      sync.arrive_and_wait();
      for (int m = depth; m < kMessages; ++m) sendMessage(t, 0, 1, m, slot);
      drain(t);
      sync.arrive_and_wait();
      return;
    }
    sync.arrive_and_wait();
    for (int m = 0; m < kMessages; ++m) expectMessage(t, 0, 1, m == kLeft ? kRewritten : m, slot);
    sync.arrive_and_wait();
  });
}

TEST(TcpTransport, BothDirectionsWrapAroundOverThousandsOfMessages) {
  // Depth and streams coprime, so slots and streams pair up differently on every lap.
  const size_t slot = 4096;
  const int kMessages = 3000;
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    const int peer = 1 - rank;
    TcpTransport t(options(rank, 2, {peer}, slot, 3, 2), gather.rank(rank));
    auto size = [&](int m) { return static_cast<size_t>(m * 37 % (slot + 1)); };
    SendChannel& out = t.sendChannel(peer);
    RecvChannel& in = t.recvChannel(peer);
    int sent = 0, received = 0;
    Deadline deadline(4 * kWaitSec);
    // Interleaved without blocking on either side, as a ring step does.
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

// Every rank sends a full window to every other rank before receiving anything: the sends only
// complete if each rank's waits also read what the others send it.
class TcpAllToAll : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(TcpAllToAll, EverybodySendsBeforeReceiving) {
  const auto [nranks, streams] = GetParam();
  const size_t slot = 256 * 1024;
  const int depth = 4, rounds = 3;
  ThreadGather gather(nranks);
  std::barrier<> done(nranks);
  runRanks(nranks, [&](int rank) {
    TcpTransport t(options(rank, nranks, everyoneBut(rank, nranks), slot, depth, streams),
                   gather.rank(rank));
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

INSTANTIATE_TEST_SUITE_P(RanksAndStreams, TcpAllToAll,
                         ::testing::Combine(::testing::Values(2, 4), ::testing::Values(1, 3)));

TEST(TcpTransport, WaitingOnOnePeerMovesTheBytesQueuedForAnother) {
  // Rank 0 posts 16 MiB to rank 2 (more than the kernel buffers take while rank 2 is not
  // reading), then waits for rank 1, who waits for rank 2, who needs all of rank 0's message.
  // Only rank 0's wait on rank 1 can move the rest of it.
  const size_t big = 16 << 20;
  ThreadGather gather(3);
  runRanks(3, [&](int rank) {
    TcpTransport t(options(rank, 3, everyoneBut(rank, 3), big, 1, 1), gather.rank(rank));
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

TEST(TcpTransport, ClosedPeerFailsTheWaitingReceiverWithRemoteError) {
  std::barrier<> sync(2);
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    auto t = std::make_unique<TcpTransport>(options(rank, 2, {1 - rank}, 4096, 2, 2),
                                            gather.rank(rank));
    if (rank == 1) {
      sendMessage(*t, 1, 0, 0, 100);
      drain(*t);
      t.reset();
      sync.arrive_and_wait();
      return;
    }
    expectMessage(*t, 1, 0, 0, 100);  // what was sent before the close still arrives
    sync.arrive_and_wait();
    size_t bytes;
    Error e = waitForError([&] { t->recvChannel(1).tryPeek(&bytes); }, 5);
    EXPECT_EQ(e.code(), strataRemoteError) << e.what();
    EXPECT_NE(std::string(e.what()).find("rank 1 (127.0.0.1:"), std::string::npos) << e.what();
    EXPECT_THROW(t->recvChannel(1).tryPeek(&bytes), Error) << "the failure must stick";
  });
}

TEST(TcpTransport, ClosedPeerFailsTheSenderWithRemoteError) {
  std::barrier<> sync(2);
  ThreadGather gather(2);
  const size_t slot = 65536;
  runRanks(2, [&](int rank) {
    auto t = std::make_unique<TcpTransport>(options(rank, 2, {1 - rank}, slot, 2, 2),
                                            gather.rank(rank));
    if (rank == 1) {
      t.reset();
      sync.arrive_and_wait();
      return;
    }
    sync.arrive_and_wait();
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

// Expects the connection to end from the other side (closed or reset) within a few seconds.
void expectDropped(Socket& s, const char* what) {
  char byte;
  try {
    recvAll(s, &byte, 1, Deadline(5), nullptr);
    ADD_FAILURE() << what << ": received a byte";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), strataRemoteError) << what << ": " << e.what();
  }
}

TEST(TcpTransport, IntrudersAreDroppedAndTheRealPeerConnects) {
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    auto allGather = gather.rank(rank);
    std::unique_ptr<TcpTransport> impostor;
    std::vector<Socket> raw;
    if (rank == 0) {
      // Before the real rank 0 connects, rank 1's listener gets garbage the size of a hello, a
      // few bytes and then silence, and a well-formed hello claiming rank 0 without the secret.
      // The first and the last must be dropped before the real rank 0 starts; the silent one
      // must not hold it up.
      allGather = [&, real = allGather](void* data, size_t bytes) {
        real(data, bytes);
        sockaddr_storage target;
        std::memcpy(&target, static_cast<char*>(data) + bytes, sizeof(target));
        Deadline deadline(kSetupSec);
        std::vector<uint8_t> garbage(64, 0xab);
        for (size_t n : {garbage.size(), size_t(5)}) {
          raw.push_back(connectSocket(target, "rank 1", deadline, nullptr));
          sendAll(raw.back(), garbage.data(), n, deadline, nullptr);
        }
        TcpOptions o = options(0, 2, {1}, 4096, 2, 2);
        o.secret = secret(99);
        impostor = std::make_unique<TcpTransport>(o, [&](void* d, size_t b) {
          std::memcpy(static_cast<char*>(d) + b, &target, sizeof(target));
        });
        size_t got;
        Error e = waitForError([&] { impostor->recvChannel(1).tryPeek(&got); }, 5);
        EXPECT_EQ(e.code(), strataRemoteError) << "the impostor must be dropped: " << e.what();
        expectDropped(raw[0], "garbage");
      };
    }
    TcpTransport t(options(rank, 2, {1 - rank}, 4096, 2, 2), allGather);
    for (int m = 0; m < 10; ++m) {
      sendMessage(t, rank, 1 - rank, m, 4096 - m);
      expectMessage(t, 1 - rank, rank, m, 4096 - m);
    }
    drain(t);
  });
}

TEST(TcpTransport, SettingsMismatchIsInvalidUsage) {
  ThreadGather gather(2);
  runRanks(2, [&](int rank) {
    TcpOptions o = options(rank, 2, {1 - rank}, 4096, 2, 2 + rank);
    if (rank == 0) {
      // The connecting side cannot tell: it succeeds, or times out when rank 1 has already
      // failed and closed its listener.
      o.timeoutSec = 2;
      try {
        TcpTransport t(o, gather.rank(rank));
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), strataTimeout) << e.what();
      }
      return;
    }
    try {
      TcpTransport t(o, gather.rank(rank));
      ADD_FAILURE() << "rank 1 accepted connections with 2 streams while using 3";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), strataInvalidUsage) << e.what();
    }
  });
}

// Runs the setup of one real rank of two, with `other` published as the other rank's address,
// and returns how it failed and how long that took.
std::pair<Error, double> setupAgainst(int rank, const sockaddr_storage& other, double timeoutSec,
                                      const std::atomic<bool>* abortFlag = nullptr) {
  TcpOptions o = options(rank, 2, {1 - rank}, 4096, 2, 2);
  o.timeoutSec = timeoutSec;
  o.abortFlag = abortFlag;
  auto start = Clock::now();
  try {
    TcpTransport t(o, [&](void* data, size_t bytes) {
      std::memcpy(static_cast<char*>(data) + (1 - rank) * bytes, &other, sizeof(other));
    });
  } catch (const Error& e) {
    return {e, std::chrono::duration<double>(Clock::now() - start).count()};
  }
  return {Error(strataSuccess, "setup succeeded"), 0};
}

TEST(TcpTransport, LowerPeerThatNeverConnectsTimesOut) {
  auto [e, seconds] = setupAgainst(1, parseAddress("127.0.0.1", 9), 1);
  EXPECT_EQ(e.code(), strataTimeout) << e.what();
  EXPECT_NE(std::string(e.what()).find("rank 0"), std::string::npos) << e.what();
  EXPECT_GE(seconds, 0.9);
  EXPECT_LT(seconds, 5);
}

TEST(TcpTransport, HigherPeerThatNeverListensTimesOut) {
  sockaddr_storage closed;
  {
    Socket l = listenSocket(parseAddress("127.0.0.1", 0));
    closed = localAddress(l);
  }
  auto [e, seconds] = setupAgainst(0, closed, 1);
  EXPECT_EQ(e.code(), strataTimeout) << e.what();
  EXPECT_LT(seconds, 5);
}

TEST(TcpTransport, AbortEndsTheSetupQuickly) {
  std::atomic<bool> abortFlag{false};
  std::thread aborter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    abortFlag = true;
  });
  auto [e, seconds] = setupAgainst(1, parseAddress("127.0.0.1", 9), 60, &abortFlag);
  aborter.join();
  EXPECT_EQ(e.code(), strataAborted) << e.what();
  EXPECT_LT(seconds, 1);
}

TEST(TcpTransport, NoChannelOutsideItsPeersAndBadOptionsRejected) {
  auto none = [](void*, size_t) {};
  TcpTransport t(options(0, 3, {}, 4096, 2, 2), none);
  EXPECT_THROW(t.sendChannel(1), Error);
  EXPECT_THROW(t.recvChannel(0), Error);
  EXPECT_THROW(t.sendChannel(7), Error);
  EXPECT_FALSE(t.progress());
  for (auto bad : {options(0, 2, {0}, 4096, 2, 2), options(0, 2, {1, 1}, 4096, 2, 2),
                   options(0, 2, {1}, 4096, 0, 2), options(0, 2, {1}, 4096, 2, 0),
                   options(0, 2, {1}, 0, 2, 2), options(2, 2, {1}, 4096, 2, 2)}) {
    try {
      TcpTransport b(bad, none);
      ADD_FAILURE() << "accepted bad options";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), strataInvalidArgument) << e.what();
    }
  }
}

}  // namespace
}  // namespace strata
