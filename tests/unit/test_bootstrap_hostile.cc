// Hostile connections: a root, a rank's bootstrap listener and a TCP transport connection get
// oversized length fields, truncated frames, garbage after a hello, hellos without the secret and
// a slow-loris that drips bytes; each is dropped and the communicator still forms and works. A
// forged TCP message header is refused before any payload byte is read. Also the pure parsers of
// src/bootstrap/wire.h that every received byte goes through.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "bootstrap/socket.h"
#include "bootstrap/wire.h"
#include "core/deadline.h"
#include "core/error.h"
#include "support/closed_without_reply.h"
#include "support/rank_threads.h"
#include "transports/tcp/tcp_transport.h"

namespace strata {
namespace {

using namespace wire;
using std::chrono::milliseconds;

constexpr double kTimeout = 30.0;  // never fires when things work, even on a loaded machine

struct Outcome {
  strataResult_t code = strataSuccess;
  std::string message;
};

Outcome outcomeOf(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  return {};
}

template <typename T>
std::vector<uint8_t> bytesOf(const T& value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  return std::vector<uint8_t>(p, p + sizeof(T));
}

std::vector<uint8_t> frame(FrameType type, uint64_t announcedBytes, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> out = bytesOf(makeHeader(type, announcedBytes));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

void sendBytes(Socket& socket, const std::vector<uint8_t>& bytes) {
  sendAll(socket, bytes.data(), bytes.size(), Deadline(kTimeout), nullptr);
}

// The hostile connections every listener gets. `helloType`/`helloBytes` are what the listener
// expects first; `wrongSecretHello` is a well-formed hello body without the secret.
struct Hostiles {
  std::vector<Socket> dropped;  // must be closed by the listener
  Socket silent;                // connects and never sends
  Socket drip;                  // a slow-loris: one byte of a plausible hello at a time
  std::atomic<bool> stopDrip{false};
  std::thread dripper;

  Hostiles(const sockaddr_storage& target, FrameType helloType, size_t helloBytes,
           const std::vector<uint8_t>& wrongSecretHello) {
    auto connect = [&] { return connectSocket(target, "test intruder", Deadline(kTimeout), nullptr); };
    // Length fields of 2^32-1 and 2^64-1 with the right magic and type.
    for (uint64_t huge : {uint64_t(0xFFFFFFFFu), ~uint64_t(0)}) {
      dropped.push_back(connect());
      sendBytes(dropped.back(), frame(helloType, huge, std::vector<uint8_t>(64, 0x11)));
    }
    // A truncated hello: the header, half the body, then the write side closed.
    dropped.push_back(connect());
    std::vector<uint8_t> half = frame(helloType, helloBytes, std::vector<uint8_t>(helloBytes / 2, 0));
    sendBytes(dropped.back(), half);
    ::shutdown(dropped.back().fd(), SHUT_WR);
    // A well-formed hello without the secret, with garbage after it.
    dropped.push_back(connect());
    std::vector<uint8_t> wrong = frame(helloType, helloBytes, wrongSecretHello);
    wrong.insert(wrong.end(), 300, 0x5a);
    sendBytes(dropped.back(), wrong);
    // Garbage from the first byte.
    dropped.push_back(connect());
    sendBytes(dropped.back(), std::vector<uint8_t>(200, 0xa5));
    silent = connect();
    drip = connect();
    dripper = std::thread([this, header = bytesOf(makeHeader(helloType, helloBytes))] {
      for (size_t i = 0; !stopDrip.load(); i = (i + 1) % header.size()) {
        try {
          sendAll(drip, &header[i], 1, Deadline(1.0), nullptr);
        } catch (const Error&) {
          return;  // dropped: fine too
        }
        std::this_thread::sleep_for(milliseconds(50));
      }
    });
  }
  ~Hostiles() {
    stopDrip = true;
    dripper.join();
  }
  void expectDropped() {
    for (size_t i = 0; i < dropped.size(); ++i)
      EXPECT_TRUE(testing::closedWithoutReply(dropped[i])) << "hostile connection " << i << " was kept";
  }
};

std::vector<uint8_t> rootHelloBody(const uint8_t* secret, int rank, int nranks,
                                   const sockaddr_storage& listenAddr) {
  RootHello hello;
  std::memset(&hello, 0, sizeof(hello));
  std::memcpy(hello.secret, secret, kSecretBytes);
  hello.rank = rank;
  hello.nranks = nranks;
  hello.listenAddr = listenAddr;
  return bytesOf(hello);
}

std::vector<uint8_t> peerHelloBody(const uint8_t* secret, int rank, Channel channel) {
  PeerHello hello;
  std::memset(&hello, 0, sizeof(hello));
  std::memcpy(hello.secret, secret, kSecretBytes);
  hello.rank = rank;
  hello.channel = channel;
  return bytesOf(hello);
}

// The ranks form a communicator and all-gather and exchange point-to-point correctly.
void expectCommunicatorWorks(const strataUniqueId& id, int nranks) {
  std::vector<Outcome> outcomes(size_t(nranks), Outcome{});
  testing::runRanks(nranks, [&](int rank) {
    outcomes[size_t(rank)] = outcomeOf([&] {
      Bootstrap bs(id, rank, nranks, kTimeout, nullptr);
      std::vector<int> data(static_cast<size_t>(nranks));
      data[size_t(rank)] = rank * 10 + 3;
      bs.allGather(data.data(), sizeof(int));
      for (int r = 0; r < nranks; ++r) EXPECT_EQ(data[size_t(r)], r * 10 + 3);
      int token = rank;
      bs.send((rank + 1) % nranks, &token, sizeof(token));
      bs.recv((rank + nranks - 1) % nranks, &token, sizeof(token));
      EXPECT_EQ(token, (rank + nranks - 1) % nranks);
    });
  });
  for (int r = 0; r < nranks; ++r)
    EXPECT_EQ(outcomes[size_t(r)].code, strataSuccess) << "rank " << r << ": " << outcomes[size_t(r)].message;
}

TEST(HostileBootstrap, RootDropsThemAndTheCommunicatorForms) {
  strataUniqueId id = startBootstrapRoot("127.0.0.1", 0, kTimeout);
  UniqueIdData data = decodeUniqueId(id);
  const sockaddr_storage root = loadAddress(data.rootAddr);
  uint8_t wrongSecret[kSecretBytes];
  std::memcpy(wrongSecret, data.secret, kSecretBytes);
  wrongSecret[5] ^= 0x40;
  Hostiles hostiles(root, kRootHello, sizeof(RootHello),
                    rootHelloBody(wrongSecret, 0, 3, parseAddress("127.0.0.1", 4000)));
  hostiles.expectDropped();
  expectCommunicatorWorks(id, 3);
}

// Rank listeners: the test registers as rank 2 of 3 itself, so that it learns where ranks 0 and 1
// listen, attacks both while they wait for their ring connections, then completes the ring.
TEST(HostileBootstrap, RankListenersDropThemAndTheCommunicatorWorks) {
  const int nranks = 3;
  strataUniqueId id = startBootstrapRoot("127.0.0.1", 0, kTimeout);
  UniqueIdData data = decodeUniqueId(id);
  const sockaddr_storage rootAddr = loadAddress(data.rootAddr);

  std::vector<Outcome> outcomes(2);
  std::atomic<int> exchanged{0};
  std::thread ranks([&] {
    testing::runRanks(2, [&](int rank) {
      outcomes[size_t(rank)] = outcomeOf([&] {
        Bootstrap bs(id, rank, nranks, kTimeout, nullptr);
        // Point-to-point connections go through the same listeners: they must still work.
        int token = rank + 100;
        if (rank == 0) bs.send(1, &token, sizeof(token));
        else {
          bs.recv(0, &token, sizeof(token));
          EXPECT_EQ(token, 100);
        }
        ++exchanged;
      });
    });
  });

  // Register as rank 2 with a listener of our own and read the table.
  Socket listener = listenSocket(parseAddress("127.0.0.1", 0));
  Socket root = connectSocket(rootAddr, "root", Deadline(kTimeout), nullptr);
  sendBytes(root, frame(kRootHello, sizeof(RootHello),
                        rootHelloBody(data.secret, 2, nranks, localAddress(listener))));
  FrameHeader header;
  recvAll(root, &header, sizeof(header), Deadline(kTimeout), nullptr);
  RootReply reply = parseRootReplyHeader(header, nranks);
  ASSERT_EQ(reply.kind, RootReply::Table) << reply.problem;
  std::vector<sockaddr_storage> table(nranks);
  recvAll(root, table.data(), reply.bodyBytes, Deadline(kTimeout), nullptr);

  uint8_t wrongSecret[kSecretBytes];
  std::memcpy(wrongSecret, data.secret, kSecretBytes);
  wrongSecret[0] ^= 1;
  {
    Hostiles at0(table[0], kPeerHello, sizeof(PeerHello), peerHelloBody(wrongSecret, 2, kRingChannel));
    Hostiles at1(table[1], kPeerHello, sizeof(PeerHello), peerHelloBody(wrongSecret, 0, kRingChannel));
    at0.expectDropped();
    at1.expectDropped();
    // Rank 0 waits for its ring predecessor (us): the real hello lets it finish while the
    // slow-loris and the silent connection are still open.
    Socket ring = connectSocket(table[0], "rank 0", Deadline(kTimeout), nullptr);
    sendBytes(ring, frame(kPeerHello, sizeof(PeerHello), peerHelloBody(data.secret, 2, kRingChannel)));
    // Rank 1 connects to us, its ring successor.
    Deadline deadline(kTimeout);
    Socket fromRank1;
    while (!fromRank1.valid() && !deadline.expired()) {
      fromRank1 = tryAccept(listener);
      if (!fromRank1.valid()) std::this_thread::sleep_for(milliseconds(5));
    }
    EXPECT_TRUE(fromRank1.valid()) << "rank 1 never connected to its ring successor";
    while (exchanged.load() < 2 && !deadline.expired()) std::this_thread::sleep_for(milliseconds(5));
    EXPECT_EQ(exchanged.load(), 2);
    ranks.join();
  }
  for (int r = 0; r < 2; ++r)
    EXPECT_EQ(outcomes[size_t(r)].code, strataSuccess) << "rank " << r << ": " << outcomes[size_t(r)].message;
}

// ---- The pure parsers --------------------------------------------------------------------------

TEST(BootstrapWire, HelloReaderTakesPiecesAndRejectsBadHeadersAtOnce) {
  const size_t helloBytes = sizeof(PeerHello);
  std::vector<uint8_t> good = frame(kPeerHello, helloBytes, std::vector<uint8_t>(helloBytes, 7));
  HelloReader reader(kPeerHello, helloBytes);
  for (size_t i = 0; i < good.size(); ++i) {
    ASSERT_EQ(reader.state(), HelloReader::State::NeedMore) << i;
    ASSERT_GE(reader.roomBytes(), 1u);
    *reader.room() = good[i];
    reader.add(1);
  }
  EXPECT_EQ(reader.state(), HelloReader::State::Complete);
  EXPECT_EQ(reader.roomBytes(), 0u) << "never asks for a byte past the hello";
  EXPECT_EQ(reader.body()[0], 7);

  for (uint64_t announced : {uint64_t(0), uint64_t(helloBytes - 1), uint64_t(helloBytes + 1),
                             uint64_t(0xFFFFFFFFu), ~uint64_t(0)}) {
    HelloReader r(kPeerHello, helloBytes);
    std::vector<uint8_t> header = bytesOf(makeHeader(kPeerHello, announced));
    std::memcpy(r.room(), header.data(), header.size());
    EXPECT_EQ(r.add(header.size()), HelloReader::State::Malformed) << announced;
  }
  HelloReader wrongType(kPeerHello, helloBytes);
  std::vector<uint8_t> rootHeader = bytesOf(makeHeader(kRootHello, helloBytes));
  std::memcpy(wrongType.room(), rootHeader.data(), rootHeader.size());
  EXPECT_EQ(wrongType.add(rootHeader.size()), HelloReader::State::Malformed);
  HelloReader overfed(kPeerHello, helloBytes);
  EXPECT_EQ(overfed.add(overfed.roomBytes() + 1), HelloReader::State::Malformed);
}

TEST(BootstrapWire, HellosNeedTheSecretAndRanksInRange) {
  uint8_t secret[kSecretBytes], other[kSecretBytes];
  for (int i = 0; i < kSecretBytes; ++i) secret[i] = other[i] = uint8_t(i * 3);
  other[31] ^= 0x80;
  const sockaddr_storage addr = parseAddress("127.0.0.1", 4000);
  RootHello root;
  auto rootVerdict = [&](const std::vector<uint8_t>& body) {
    return checkRootHello(body.data(), body.size(), secret, &root);
  };
  EXPECT_EQ(rootVerdict(rootHelloBody(secret, 1, 4, addr)), RootHelloVerdict::Accept);
  EXPECT_EQ(rootVerdict(rootHelloBody(other, 1, 4, addr)), RootHelloVerdict::Intruder);
  EXPECT_EQ(rootVerdict(rootHelloBody(secret, 1, 4, parseAddress("127.0.0.1", 0))),
            RootHelloVerdict::Intruder);
  EXPECT_EQ(rootVerdict(rootHelloBody(secret, 4, 4, addr)), RootHelloVerdict::BadRank);
  EXPECT_EQ(rootVerdict(rootHelloBody(secret, -1, 4, addr)), RootHelloVerdict::BadRank);
  EXPECT_EQ(rootVerdict(rootHelloBody(secret, 0, 0, addr)), RootHelloVerdict::BadRank);
  std::vector<uint8_t> shortBody = rootHelloBody(secret, 1, 4, addr);
  shortBody.pop_back();
  EXPECT_EQ(rootVerdict(shortBody), RootHelloVerdict::Intruder);

  PeerHello peer;
  auto peerOk = [&](const std::vector<uint8_t>& body) {
    return checkPeerHello(body.data(), body.size(), secret, 1, 4, &peer);
  };
  EXPECT_TRUE(peerOk(peerHelloBody(secret, 0, kRingChannel)));
  EXPECT_TRUE(peerOk(peerHelloBody(secret, 3, kP2pChannel)));
  EXPECT_FALSE(peerOk(peerHelloBody(other, 0, kRingChannel)));
  EXPECT_FALSE(peerOk(peerHelloBody(secret, 1, kRingChannel))) << "itself";
  EXPECT_FALSE(peerOk(peerHelloBody(secret, 4, kRingChannel)));
  EXPECT_FALSE(peerOk(peerHelloBody(secret, -7, kRingChannel)));
  EXPECT_FALSE(peerOk(peerHelloBody(secret, 0, Channel(9))));
}

TEST(BootstrapWire, RootRepliesAreBoundedBeforeAnythingIsRead) {
  const int nranks = 5;
  const uint64_t table = nranks * sizeof(sockaddr_storage);
  EXPECT_EQ(parseRootReplyHeader(makeHeader(kRootTable, table), nranks).kind, RootReply::Table);
  for (uint64_t bytes : {table - 1, table + 1, uint64_t(0xFFFFFFFFu), ~uint64_t(0)})
    EXPECT_EQ(parseRootReplyHeader(makeHeader(kRootTable, bytes), nranks).kind, RootReply::Malformed);
  EXPECT_EQ(parseRootReplyHeader(makeHeader(kRootError, 10), nranks).kind, RootReply::Error);
  for (uint64_t bytes : {uint64_t(3), uint64_t(kMaxErrorBytes + 1), uint64_t(0xFFFFFFFFu)})
    EXPECT_EQ(parseRootReplyHeader(makeHeader(kRootError, bytes), nranks).kind, RootReply::Malformed);
  FrameHeader foreign{0x12345678, kRootTable, table};
  EXPECT_EQ(parseRootReplyHeader(foreign, nranks).kind, RootReply::Malformed);
  EXPECT_EQ(parseRootReplyHeader(makeHeader(kP2pData, table), nranks).kind, RootReply::Malformed);

  std::vector<uint8_t> body = bytesOf(int32_t(strataInvalidUsage));
  body.insert(body.end(), {'n', 'o'});
  RootError error = parseRootError(body.data(), body.size());
  EXPECT_EQ(error.code, strataInvalidUsage);
  EXPECT_EQ(error.text, "no");
  body = bytesOf(int32_t(strataSuccess));  // a root never refuses with success
  EXPECT_EQ(parseRootError(body.data(), body.size()).code, strataRemoteError);
  EXPECT_EQ(parseRootError(body.data(), 2).code, strataRemoteError);

  std::vector<sockaddr_storage> addrs(3, parseAddress("127.0.0.1", 5000));
  EXPECT_EQ(firstBadTableEntry(addrs.data(), 3), -1);
  addrs[2] = parseAddress("127.0.0.1", 0);
  EXPECT_EQ(firstBadTableEntry(addrs.data(), 3), 2);
  std::memset(&addrs[1], 0, sizeof(addrs[1]));
  EXPECT_EQ(firstBadTableEntry(addrs.data(), 3), 1);
}

// ---- TCP transport: forged message headers -----------------------------------------------------

TEST(TcpWire, HeaderProblemBoundsSequenceAndLength) {
  EXPECT_EQ(tcpwire::headerProblem({4, 4096}, 4, 4096), "");
  EXPECT_EQ(tcpwire::headerProblem({4, 0}, 4, 4096), "");
  EXPECT_NE(tcpwire::headerProblem({4, 4097}, 4, 4096), "");
  EXPECT_NE(tcpwire::headerProblem({4, 0xFFFFFFFFu}, 4, 4096), "");
  EXPECT_NE(tcpwire::headerProblem({4, ~uint64_t(0)}, 4, 4096), "");
  EXPECT_NE(tcpwire::headerProblem({5, 10}, 4, 4096), "");
}

// A real rank 1 accepts a hand-made rank 0 that presents the secret and then sends `forged`:
// the transport fails with strataRemoteError and the text, and (under ASan) writes nothing
// outside its slots.
void expectForgedStreamRefused(const std::vector<uint8_t>& forged, bool closeAfter,
                               const std::string& expectText) {
  const size_t slotBytes = 4096;
  TcpOptions o;
  o.rank = 1;
  o.nranks = 2;
  o.peers = {0};
  o.slotBytes = slotBytes;
  o.depth = 2;
  o.streams = 1;
  o.ifname = "lo";
  o.timeoutSec = kTimeout;
  for (int i = 0; i < kSecretBytes; ++i) o.secret[size_t(i)] = uint8_t(i + 9);

  std::promise<sockaddr_storage> listening;
  std::future<sockaddr_storage> rank1Addr = listening.get_future();
  std::thread attacker([&] {
   try {
    sockaddr_storage target = rank1Addr.get();
    Socket s = connectSocket(target, "rank 1", Deadline(kTimeout), nullptr);
    TcpOptions fake = o;
    fake.rank = 0;
    const tcpwire::Hello hello = tcpwire::makeHello(fake, 0);
    sendAll(s, &hello, sizeof(hello), Deadline(kTimeout), nullptr);
    sendAll(s, forged.data(), forged.size(), Deadline(kTimeout), nullptr);
    if (closeAfter) return;  // s closes here
    char byte;
    try {
      recvAll(s, &byte, 1, Deadline(kTimeout), nullptr);  // until rank 1 drops us
    } catch (const Error&) {
    }
   } catch (const Error& e) {
    ADD_FAILURE() << "the attacker could not reach rank 1: " << e.what();
   }
  });
  Outcome outcome = outcomeOf([&] {
    TcpTransport t(o, [&](void* data, size_t bytesPerRank) {
      sockaddr_storage mine;
      std::memcpy(&mine, static_cast<char*>(data) + bytesPerRank, sizeof(mine));
      // Rank 0's address must look real; rank 1 never connects to it (the lower rank connects).
      const sockaddr_storage rank0 = parseAddress("127.0.0.1", 9);
      std::memcpy(data, &rank0, sizeof(rank0));
      listening.set_value(mine);
    });
    Deadline deadline(kTimeout);
    size_t bytes = 0;
    while (!deadline.expired()) {
      if (t.recvChannel(0).tryPeek(&bytes)) fail(strataInternalError, "a forged message was delivered");
      t.waitForEvents(1000);
    }
  });
  attacker.join();
  EXPECT_EQ(outcome.code, strataRemoteError) << outcome.message;
  EXPECT_NE(outcome.message.find(expectText), std::string::npos) << outcome.message;
}

TEST(TcpWire, ForgedHeadersAreRefusedBeforeThePayload) {
  for (uint64_t bytes : {uint64_t(4097), uint64_t(0xFFFFFFFFu), ~uint64_t(0)}) {
    SCOPED_TRACE(bytes);
    std::vector<uint8_t> forged = bytesOf(tcpwire::WireHeader{0, bytes});
    forged.resize(forged.size() + 8192, 0xee);  // a payload that would overrun the slot
    expectForgedStreamRefused(forged, false, "malformed message header");
  }
  SCOPED_TRACE("out of sequence");
  expectForgedStreamRefused(bytesOf(tcpwire::WireHeader{3, 8}), false, "malformed message header");
}

TEST(TcpWire, TruncatedMessageIsARemoteError) {
  std::vector<uint8_t> forged = bytesOf(tcpwire::WireHeader{0, 100});
  forged.resize(forged.size() + 50, 1);
  expectForgedStreamRefused(forged, true, "in the middle of message 0");
}

}  // namespace
}  // namespace strata
