#include "bootstrap/bootstrap.h"

#include <poll.h>
#include <pthread.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "bootstrap/socket.h"
#include "bootstrap/wire.h"
#include "core/deadline.h"
#include "core/error.h"

namespace strata {

namespace {

constexpr uint32_t kUniqueIdMagic = 0x53545255;  // "STRU"
constexpr uint32_t kUniqueIdVersion = 1;
using namespace wire;  // the frames, and the parsers every byte read goes through

// How long the root spends telling a rank why it was refused; such messages fit in the socket
// buffer, so this only bounds a peer that stopped reading.
constexpr double kFarewellSec = 1.0;
// Connections whose hello has not arrived that a listener keeps at once.
constexpr size_t kMaxPendingHellos = 256;

void sendFrame(Socket& socket, FrameType type, const void* body, size_t bytes,
               const Deadline& deadline, const std::atomic<bool>* abortFlag) {
  FrameHeader header = makeHeader(type, bytes);
  sendAll(socket, &header, sizeof(header), deadline, abortFlag);
  if (bytes) sendAll(socket, body, bytes, deadline, abortFlag);
}

void checkAbort(const std::atomic<bool>* abortFlag, const char* operation) {
  if (abortFlag && abortFlag->load(std::memory_order_relaxed))
    fail(strataAborted, "bootstrap {} aborted", operation);
}

// Connections accepted on a listener whose hello (one frame of a fixed type and size) has not
// fully arrived. Reading them side by side keeps a silent or slow connection (an intruder, a
// port scanner) from delaying the others; anything but a well-formed hello closes the connection.
class HelloInbox {
 public:
  struct Arrival {
    Socket socket;
    std::vector<uint8_t> body;
  };

  HelloInbox(FrameType helloType, size_t helloBytes)
      : helloType_(helloType), helloBytes_(helloBytes) {}

  // Waits up to timeoutMs for new connections or hello bytes; returns the hellos completed.
  std::vector<Arrival> poll(const Socket& listener, int timeoutMs) {
    std::vector<pollfd> fds;
    fds.reserve(pending_.size() + 1);
    fds.push_back(pollfd{listener.fd(), POLLIN, 0});
    for (const Pending& p : pending_) fds.push_back(pollfd{p.socket.fd(), POLLIN, 0});
    int rc = ::poll(fds.data(), fds.size(), timeoutMs);
    std::vector<Arrival> arrivals;
    if (rc < 0) {
      if (errno == EINTR) return arrivals;
      failErrno("poll on {}", listener.name());
    }
    if (rc == 0) return arrivals;
    // Backwards, so that removing entry i (swap with the last) leaves 0..i-1 in place.
    for (size_t i = pending_.size(); i-- > 0;)
      if (fds[i + 1].revents) advance(i, arrivals);
    if (fds[0].revents) {
      bool acceptedAny = false;
      for (;;) {
        Socket socket = tryAccept(listener);
        if (!socket.valid()) break;
        acceptedAny = true;
        // A flood of silent connections must not take every descriptor: past the bound, the
        // oldest (the slowest to say hello) goes.
        if (pending_.size() >= kMaxPendingHellos) pending_.erase(pending_.begin());
        pending_.push_back(Pending{std::move(socket), HelloReader(helloType_, helloBytes_)});
        // The hello is usually already there: read it without another poll round.
        advance(pending_.size() - 1, arrivals);
      }
      // Readable but nothing to take (out of descriptors): don't spin on the listener.
      if (!acceptedAny) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return arrivals;
  }

 private:
  struct Pending {
    Socket socket;
    HelloReader reader;
  };

  // Reads what is there for pending_[i] (never past its hello: the frames after it belong to the
  // connection's user); moves it to `arrivals` when complete, drops it when malformed or closed.
  void advance(size_t i, std::vector<Arrival>& arrivals) {
    Pending& p = pending_[i];
    bool drop = false;
    for (;;) {
      long n = recvAvailable(p.socket, p.reader.room(), p.reader.roomBytes());
      if (n < 0) {
        drop = true;
        break;
      }
      if (n == 0) break;
      const HelloReader::State state = p.reader.add(static_cast<size_t>(n));
      if (state == HelloReader::State::Malformed) {
        drop = true;  // garbage, a foreign protocol or an oversized length: not ours
        break;
      }
      if (state == HelloReader::State::Complete) {
        const uint8_t* body = p.reader.body();
        arrivals.push_back(Arrival{std::move(p.socket),
                                   std::vector<uint8_t>(body, body + p.reader.bodyBytes())});
        drop = true;  // no longer pending
        break;
      }
    }
    if (drop) {
      if (i + 1 != pending_.size()) pending_[i] = std::move(pending_.back());
      pending_.pop_back();
    }
  }

  FrameType helloType_;
  size_t helloBytes_;
  std::vector<Pending> pending_;
};

// The single-use ids (by secret) that this process has joined or served: a second init with one
// would wait for a root that has exited. Secrets are random, so their first 8 bytes are a key.
class SpentIds {
 public:
  static SpentIds& get() {
    static auto* spent = new SpentIds();  // never destroyed: detached root threads may outlive main
    return *spent;
  }
  void add(const uint8_t* secret) {
    std::lock_guard<std::mutex> lock(mutex_);
    keys_.insert(key(secret));
  }
  bool contains(const uint8_t* secret) {
    std::lock_guard<std::mutex> lock(mutex_);
    return keys_.count(key(secret)) != 0;
  }

 private:
  static uint64_t key(const uint8_t* secret) {
    uint64_t k;
    std::memcpy(&k, secret, sizeof(k));
    return k;
  }
  std::mutex mutex_;
  std::unordered_set<uint64_t> keys_;
};

// ---- The root ---------------------------------------------------------------------------------

// Serves one communicator: registers ranks until all nranks are there, sends each the address
// table, and exits. Runs on its own thread (owned by RootThreads) and owns its listener.
class RootServer {
 public:
  RootServer(Socket listener, const std::array<uint8_t, kSecretBytes>& secret, double timeoutSec,
             bool singleUse)
      : listener_(std::move(listener)), secret_(secret), timeoutSec_(timeoutSec),
        singleUse_(singleUse) {}

  // `stop` ends the registration early (the process is exiting); the ranks waiting see the
  // connection close.
  void run(const std::atomic<bool>& stop) {
    Deadline deadline(timeoutSec_);
    HelloInbox inbox(kRootHello, sizeof(RootHello));
    while (!complete()) {
      if (stop.load(std::memory_order_relaxed)) return;
      if (deadline.expired()) {
        if (failure_.empty()) reportTimeout();
        return;
      }
      for (HelloInbox::Arrival& arrival :
           inbox.poll(listener_, std::min(kAbortPollMs, deadline.msLeft())))
        admit(std::move(arrival));
    }
    listener_.close();  // nobody else may join this communicator
    if (singleUse_) SpentIds::get().add(secret_.data());
    sendTables();
  }

 private:
  struct Member {
    Socket socket;
    sockaddr_storage listenAddr;
  };

  bool complete() const {
    return failure_.empty() && expected_ > 0 && static_cast<int>(members_.size()) == expected_;
  }

  void admit(HelloInbox::Arrival&& arrival) {
    RootHello hello;
    const RootHelloVerdict verdict =
        checkRootHello(arrival.body.data(), arrival.body.size(), secret_.data(), &hello);
    // Without the secret it is not one of ours: close silently (tell an intruder nothing).
    if (verdict == RootHelloVerdict::Intruder) return;
    Socket& socket = arrival.socket;
    if (verdict == RootHelloVerdict::BadRank)
      return refuse(socket, strataInvalidArgument,
                    fmt::format("rank {} is out of range for nranks {}", hello.rank, hello.nranks));
    if (!failure_.empty()) return refuse(socket, strataInvalidUsage, failure_);
    if (expected_ < 0) {
      expected_ = hello.nranks;
      firstRank_ = hello.rank;
    }
    if (hello.nranks != expected_) {
      // Everybody's communicator is broken: tell those waiting and everyone who comes later.
      failure_ = fmt::format(
          "mismatched nranks: rank {} gave nranks={} but rank {} gave nranks={}; every rank must "
          "give the same nranks",
          hello.rank, hello.nranks, firstRank_, expected_);
      for (auto& [rank, member] : members_) refuse(member.socket, strataInvalidUsage, failure_);
      members_.clear();
      return refuse(socket, strataInvalidUsage, failure_);
    }
    auto it = members_.find(hello.rank);
    if (it != members_.end())
      return refuse(socket, strataInvalidUsage,
                    fmt::format("rank {} joined twice (from {} and from {}); every rank must be "
                                "unique",
                                hello.rank, it->second.socket.name(), socket.name()));
    socket.setName(fmt::format("rank {} ({})", hello.rank, socket.name()));
    members_.emplace(hello.rank, Member{std::move(socket), hello.listenAddr});
  }

  // Sends the error (best effort) and closes the connection.
  static void refuse(Socket& socket, strataResult_t code, const std::string& text) {
    std::string message = text.substr(0, kMaxErrorBytes - sizeof(int32_t));
    std::vector<uint8_t> body(sizeof(int32_t) + message.size());
    int32_t code32 = code;
    std::memcpy(body.data(), &code32, sizeof(code32));
    std::memcpy(body.data() + sizeof(code32), message.data(), message.size());
    try {
      sendFrame(socket, kRootError, body.data(), body.size(), Deadline(kFarewellSec), nullptr);
    } catch (const Error&) {
      // The rank is gone already; nothing more to tell it.
    }
    socket.close();
  }

  void reportTimeout() {
    std::string missing;
    int listed = 0, missingCount = 0;
    for (int r = 0; r < expected_; ++r) {
      if (members_.count(r)) continue;
      ++missingCount;
      if (listed < 16) missing += fmt::format("{}{}", listed++ ? ", " : "", r);
    }
    if (missingCount > listed) missing += ", ...";
    std::string text = fmt::format(
        "bootstrap root timed out after {:.3g} s with {} of {} ranks registered (missing: {})",
        timeoutSec_, members_.size(), expected_, missing);
    for (auto& [rank, member] : members_) refuse(member.socket, strataTimeout, text);
  }

  void sendTables() {
    std::vector<sockaddr_storage> table(expected_);
    for (auto& [rank, member] : members_) table[rank] = member.listenAddr;
    Deadline deadline(timeoutSec_);
    for (auto& [rank, member] : members_) {
      try {
        sendFrame(member.socket, kRootTable, table.data(), table.size() * sizeof(table[0]),
                  deadline, nullptr);
      } catch (const Error&) {
        // This rank died after registering; the others find out when they cannot reach it.
      }
      member.socket.close();
    }
  }

  Socket listener_;
  std::array<uint8_t, kSecretBytes> secret_;
  double timeoutSec_;
  bool singleUse_;
  int expected_ = -1;  // nranks given by the first rank to register
  int firstRank_ = -1;
  std::string failure_;  // non-empty once the communicator cannot form
  std::map<int, Member> members_;  // by rank; a map so that a bogus nranks allocates nothing
};

// The root threads of this process, by secret. Joinable and joined: by the rank of the same
// process once its communicator has formed (Bootstrap::finishLocalRoot), else at exit. A
// detached root thread could still be exiting while the process exits, and LeakSanitizer's
// tracer, stopping every thread at exit, crashed now and then on such a thread.
class RootThreads {
 public:
  static RootThreads& instance() {
    // Never destroyed: a fork child inherits entries for threads it does not have, which it must
    // neither join nor destroy (std::thread's destructor would terminate).
    static RootThreads* threads = [] {
      auto* t = new RootThreads();
      std::atexit([] { RootThreads::instance().stopAll(); });
      return t;
    }();
    return *threads;
  }

  void start(RootServer server, const std::array<uint8_t, kSecretBytes>& secret) {
    std::lock_guard<std::mutex> lock(mutex_);
    reapFinishedLocked();
    auto entry = std::make_unique<Entry>();
    entry->secret = secret;
    entry->ownerPid = getpid();
    Entry* e = entry.get();
    e->thread = std::thread([server = std::move(server), e]() mutable {
      pthread_setname_np(pthread_self(), "strata-root");  // for debuggers, top -H and tests
      try {
        server.run(e->stop);
      } catch (...) {
        // Nobody to report to on this thread; the ranks see the root go away.
      }
      e->finished.store(true, std::memory_order_release);
    });
    entries_.push_back(std::move(entry));
  }

  // Joins the root with this secret if this process runs it.
  void join(const uint8_t* secret) {
    std::unique_ptr<Entry> entry;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = entries_.begin(); it != entries_.end(); ++it)
        if ((*it)->ownerPid == getpid() && constantTimeEqual((*it)->secret.data(), secret, kSecretBytes)) {
          entry = std::move(*it);
          entries_.erase(it);
          break;
        }
    }
    if (!entry) return;
    entry->thread.join();
  }

 private:
  struct Entry {
    std::array<uint8_t, kSecretBytes> secret;
    pid_t ownerPid;
    std::atomic<bool> stop{false};
    std::atomic<bool> finished{false};
    std::thread thread;
  };

  void reapFinishedLocked() {
    for (auto it = entries_.begin(); it != entries_.end();) {
      if ((*it)->ownerPid == getpid() && (*it)->finished.load(std::memory_order_acquire)) {
        (*it)->thread.join();
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void stopAll() {
    std::vector<std::unique_ptr<Entry>> mine;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = entries_.begin(); it != entries_.end();) {
        if ((*it)->ownerPid == getpid()) {
          mine.push_back(std::move(*it));
          it = entries_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& e : mine) {
      e->stop.store(true);
      e->thread.join();
    }
  }

  std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;  // others' (fork parents') entries stay untouched
};

void fillRandom(uint8_t* out, size_t bytes) {
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = getrandom(out + done, bytes - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      failErrno("getrandom");
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace

// Starts a root listening at `bind` (a wildcard address is advertised as a concrete one).
static strataUniqueId startRoot(const sockaddr_storage& bind, double timeoutSec, const uint8_t* secret);

// ---- Unique id --------------------------------------------------------------------------------

UniqueIdData decodeUniqueId(const strataUniqueId& id) {
  UniqueIdData data;
  std::memcpy(&data, id.internal, sizeof(data));
  STRATA_CHECK(data.magic == kUniqueIdMagic, strataInvalidArgument,
               "invalid unique id: bad magic {:#x} (not made by strataGetUniqueId, or corrupted)",
               data.magic);
  STRATA_CHECK(data.version == kUniqueIdVersion, strataInvalidArgument,
               "invalid unique id: version {} but this library reads version {}", data.version,
               kUniqueIdVersion);
  sockaddr_storage root = loadAddress(data.rootAddr);
  STRATA_CHECK(isInetFamily(root.ss_family), strataInvalidArgument,
               "invalid unique id: root address family {} is neither IPv4 nor IPv6",
               root.ss_family);
  STRATA_CHECK(addressPort(root) != 0, strataInvalidArgument,
               "invalid unique id: root address {} has no port", formatAddress(root));
  STRATA_CHECK((data.flags & ~kUniqueIdSingleUse) == 0, strataInvalidArgument,
               "invalid unique id: unknown flags {:#x}", data.flags);
  return data;
}

strataUniqueId encodeUniqueId(const UniqueIdData& data) {
  strataUniqueId id;
  std::memset(&id, 0, sizeof(id));
  std::memcpy(id.internal, &data, sizeof(data));
  return id;
}

strataUniqueId makeUniqueId(const sockaddr_storage& rootAddr, const uint8_t secret[kSecretBytes],
                            uint32_t flags) {
  STRATA_CHECK(isInetFamily(rootAddr.ss_family) && addressPort(rootAddr) != 0,
               strataInvalidArgument, "unique id: root address {} is not an IPv4/IPv6 address "
               "with a port", formatAddress(rootAddr));
  STRATA_CHECK(secret != nullptr, strataInvalidArgument, "unique id: null secret");
  UniqueIdData data;
  std::memset(&data, 0, sizeof(data));
  data.magic = kUniqueIdMagic;
  data.version = kUniqueIdVersion;
  storeAddress(data.rootAddr, rootAddr);
  std::memcpy(data.secret, secret, kSecretBytes);
  data.flags = flags;
  return encodeUniqueId(data);
}

strataUniqueId startBootstrapRoot(const char* bindAddr, uint16_t port, double timeoutSec,
                                  const uint8_t* secret) {
  sockaddr_storage bind = bindAddr ? parseAddress(bindAddr, port) : defaultBindAddress();
  setAddressPort(bind, port);
  return startRoot(bind, timeoutSec, secret);
}

strataUniqueId startBootstrapRoot(const sockaddr_storage& bindAddr, double timeoutSec) {
  sockaddr_storage bind = bindAddr;
  setAddressPort(bind, 0);
  return startRoot(bind, timeoutSec, nullptr);
}

static strataUniqueId startRoot(const sockaddr_storage& bind, double timeoutSec, const uint8_t* secret) {
  Socket listener = listenSocket(bind);

  sockaddr_storage rootAddr = localAddress(listener);
  if (isWildcardAddress(rootAddr)) {
    // Ranks cannot connect to "any": advertise a concrete address of this host instead.
    uint16_t boundPort = addressPort(rootAddr);
    sockaddr_storage concrete = defaultBindAddress();
    if (concrete.ss_family != rootAddr.ss_family)
      concrete = parseAddress(rootAddr.ss_family == AF_INET6 ? "::1" : "127.0.0.1", 0);
    rootAddr = concrete;
    setAddressPort(rootAddr, boundPort);
  }
  std::array<uint8_t, kSecretBytes> secretCopy;
  if (secret)
    std::memcpy(secretCopy.data(), secret, kSecretBytes);
  else
    fillRandom(secretCopy.data(), kSecretBytes);
  strataUniqueId id = makeUniqueId(rootAddr, secretCopy.data(), secret ? 0 : kUniqueIdSingleUse);

  try {
    RootThreads::instance().start(RootServer(std::move(listener), secretCopy, timeoutSec, secret == nullptr),
                                  secretCopy);
  } catch (const std::system_error& e) {
    fail(strataSystemError, "cannot start the bootstrap root thread: {}", e.what());
  }
  return id;
}

// ---- Bootstrap (one rank) ---------------------------------------------------------------------

struct Bootstrap::Impl {
  int rank;
  int nranks;
  double timeoutSec;
  const std::atomic<bool>* abortFlag;
  sockaddr_storage rootAddr;
  uint8_t secret[kSecretBytes];
  bool singleUse = false;  // the id's kUniqueIdSingleUse
  Socket listener;
  std::vector<sockaddr_storage> peerAddrs;  // every rank's listener, from the root
  HelloInbox inbox{kPeerHello, sizeof(PeerHello)};
  Socket ringNext;  // to (rank + 1) % nranks
  Socket ringPrev;  // from (rank - 1 + nranks) % nranks
  // Point-to-point connections by peer rank: ours to the peer (send) and the peer's to us (recv).
  std::unordered_map<int, Socket> sendConns;
  std::unordered_map<int, Socket> recvConns;
  std::deque<std::vector<uint8_t>> toSelf;  // send(rank) to itself, waiting for recv(rank)

  int next() const { return (rank + 1) % nranks; }
  int prev() const { return (rank - 1 + nranks) % nranks; }

  std::string peerName(int peer) const {
    return fmt::format("rank {} ({})", peer, formatAddress(peerAddrs[peer]));
  }

  void join() {
    Deadline deadline(timeoutSec);
    Socket root;
    try {
      root = connectSocket(rootAddr, fmt::format("bootstrap root {}", formatAddress(rootAddr)),
                           deadline, abortFlag);
    } catch (const Error& e) {
      if (e.code() != strataTimeout) throw;
      // Nothing listens there: the root has not started, or it served its one communicator.
      fail(strataTimeout, "rank {} of {}: {}; a unique id serves one communicator (is this id "
           "used a second time?)", rank, nranks, e.what());
    }
    listener = listenSocket(listenAddress(root));

    RootHello hello;
    std::memset(&hello, 0, sizeof(hello));
    std::memcpy(hello.secret, secret, kSecretBytes);
    hello.rank = rank;
    hello.nranks = nranks;
    hello.listenAddr = localAddress(listener);
    sendFrame(root, kRootHello, &hello, sizeof(hello), deadline, abortFlag);
    receiveTable(root, deadline);
    root.close();
    // The communicator formed at the root, which has exited: the id cannot serve another.
    if (singleUse) SpentIds::get().add(secret);

    if (nranks == 1) return;
    ringNext = connectToPeer(next(), kRingChannel, deadline);
    awaitIncoming(kRingChannel, prev(), deadline);
  }

  // Listen where the others can reach us: on STRATA_SOCKET_IFNAME if set, else on the local
  // address of our connection to the root (same family, and routable towards the root's network).
  sockaddr_storage listenAddress(const Socket& root) const {
    const char* ifname = std::getenv("STRATA_SOCKET_IFNAME");
    if (ifname && *ifname) {
      try {
        return interfaceAddress(ifname, rootAddr.ss_family);
      } catch (const Error& e) {
        fail(e.code(), "STRATA_SOCKET_IFNAME: {} (the root {} is {})", e.what(),
             formatAddress(rootAddr), rootAddr.ss_family == AF_INET6 ? "IPv6" : "IPv4");
      }
    }
    sockaddr_storage addr = localAddress(root);
    setAddressPort(addr, 0);
    return addr;
  }

  void receiveTable(Socket& root, const Deadline& deadline) {
    FrameHeader header;
    try {
      recvAll(root, &header, sizeof(header), deadline, abortFlag);
    } catch (const Error& e) {
      // The usual cause is a rank that never started; say so rather than "receiving 16 bytes".
      if (e.code() != strataTimeout) throw;
      fail(strataTimeout,
           "rank {} of {}: timed out after {:.3g} s waiting for all ranks to register with the "
           "bootstrap root {}",
           rank, nranks, deadline.seconds(), formatAddress(rootAddr));
    }
    const RootReply reply = parseRootReplyHeader(header, nranks);
    STRATA_CHECK(reply.kind != RootReply::Malformed, strataRemoteError,
                 "bootstrap root {} sent a malformed reply ({})", formatAddress(rootAddr),
                 reply.problem);
    if (reply.kind == RootReply::Error) {
      std::vector<uint8_t> body(reply.bodyBytes);  // bounded by kMaxErrorBytes
      recvAll(root, body.data(), body.size(), deadline, abortFlag);
      const RootError error = parseRootError(body.data(), body.size());
      fail(error.code, "rank {} of {}: bootstrap root {} refused: {}", rank, nranks,
           formatAddress(rootAddr), error.text);
    }
    peerAddrs.resize(nranks);
    recvAll(root, peerAddrs.data(), reply.bodyBytes, deadline, abortFlag);
    const int bad = firstBadTableEntry(peerAddrs.data(), nranks);
    STRATA_CHECK(bad < 0, strataRemoteError,
                 "bootstrap root sent rank {} an invalid address for rank {}", rank, bad);
  }

  Socket connectToPeer(int peer, Channel channel, const Deadline& deadline) {
    Socket socket = connectSocket(peerAddrs[peer], peerName(peer), deadline, abortFlag);
    PeerHello hello;
    std::memset(&hello, 0, sizeof(hello));
    std::memcpy(hello.secret, secret, kSecretBytes);
    hello.rank = rank;
    hello.channel = channel;
    sendFrame(socket, kPeerHello, &hello, sizeof(hello), deadline, abortFlag);
    return socket;
  }

  // Takes a connection that completed its hello: the ring connection from prev(), or a
  // point-to-point connection from any peer (kept until recv() asks for it). Anything without
  // the secret, claiming an impossible rank, or duplicating a connection we have is closed.
  void admit(HelloInbox::Arrival&& arrival) {
    PeerHello hello;
    if (!checkPeerHello(arrival.body.data(), arrival.body.size(), secret, rank, nranks, &hello))
      return;
    arrival.socket.setName(fmt::format("rank {} ({})", hello.rank, arrival.socket.name()));
    if (hello.channel == kRingChannel) {
      if (hello.rank == prev() && !ringPrev.valid()) ringPrev = std::move(arrival.socket);
    } else if (hello.channel == kP2pChannel) {
      Socket& slot = recvConns[hello.rank];
      if (!slot.valid()) slot = std::move(arrival.socket);
    }
  }

  // Accepts and admits connections until the one wanted is there.
  Socket& awaitIncoming(Channel channel, int peer, const Deadline& deadline) {
    for (;;) {
      if (channel == kRingChannel && ringPrev.valid()) return ringPrev;
      if (channel == kP2pChannel) {
        auto it = recvConns.find(peer);
        if (it != recvConns.end() && it->second.valid()) return it->second;
      }
      if (abortFlag && abortFlag->load(std::memory_order_relaxed))
        fail(strataAborted, "rank {}: aborted while waiting for rank {} to connect", rank, peer);
      if (deadline.expired())
        fail(strataTimeout, "rank {}: timed out after {:.3g} s waiting for rank {} ({}) to connect",
             rank, deadline.seconds(), peer, formatAddress(peerAddrs[peer]));
      for (HelloInbox::Arrival& arrival :
           inbox.poll(listener, std::min(kAbortPollMs, deadline.msLeft())))
        admit(std::move(arrival));
    }
  }

  void checkPeer(int peer, const char* operation) const {
    STRATA_CHECK(peer >= 0 && peer < nranks, strataInvalidArgument,
                 "bootstrap {}: peer {} is out of range for nranks {}", operation, peer, nranks);
  }
};

Bootstrap::Bootstrap(const strataUniqueId& id, int rank, int nranks, double timeoutSec,
                     const std::atomic<bool>* abortFlag)
    : impl_(std::make_unique<Impl>()) {
  STRATA_CHECK(nranks >= 1, strataInvalidArgument, "bootstrap: nranks {} must be at least 1",
               nranks);
  STRATA_CHECK(rank >= 0 && rank < nranks, strataInvalidArgument,
               "bootstrap: rank {} is out of range for nranks {}", rank, nranks);
  checkAbort(abortFlag, "init");
  impl_->rank = rank;
  impl_->nranks = nranks;
  impl_->timeoutSec = timeoutSec;
  impl_->abortFlag = abortFlag;
  UniqueIdData data = decodeUniqueId(id);
  const bool singleUse = data.flags & kUniqueIdSingleUse;
  STRATA_CHECK(!singleUse || !SpentIds::get().contains(data.secret), strataInvalidUsage,
               "unique id already used: its communicator formed and its root (at {}) has exited; "
               "every communicator needs a fresh id from strataGetUniqueId",
               formatAddress(loadAddress(data.rootAddr)));
  impl_->rootAddr = loadAddress(data.rootAddr);
  std::memcpy(impl_->secret, data.secret, kSecretBytes);
  impl_->singleUse = singleUse;
  // A failed join leaves a root of this process to the others (this rank may have been an
  // impostor the root refused); it ends at its deadline, or at exit.
  impl_->join();
}

Bootstrap::~Bootstrap() = default;

sockaddr_storage Bootstrap::listenAddress() const { return localAddress(impl_->listener); }

void Bootstrap::finishLocalRoot() { RootThreads::instance().join(impl_->secret); }

int Bootstrap::rank() const { return impl_->rank; }
int Bootstrap::nranks() const { return impl_->nranks; }

void Bootstrap::allGather(void* data, size_t bytesPerRank) {
  Impl& s = *impl_;
  checkAbort(s.abortFlag, "allGather");
  STRATA_CHECK(data || bytesPerRank == 0, strataInvalidArgument, "bootstrap allGather: null data");
  STRATA_CHECK(bytesPerRank <= SIZE_MAX / static_cast<size_t>(s.nranks), strataInvalidArgument,
               "bootstrap allGather: {} bytes per rank times {} ranks overflows", bytesPerRank,
               s.nranks);
  if (s.nranks == 1) return;
  Deadline deadline(s.timeoutSec);
  // Sizes first, so that a rank passing a different bytesPerRank fails clearly instead of
  // desynchronising the ring.
  FrameHeader mine = makeHeader(kAllGather, bytesPerRank), theirs;
  sendRecvAll(s.ringNext, &mine, sizeof(mine), s.ringPrev, &theirs, sizeof(theirs), deadline,
              s.abortFlag);
  STRATA_CHECK(theirs.magic == kWireMagic && theirs.type == kAllGather, strataRemoteError,
               "bootstrap allGather: rank {} sent a malformed frame (type {})", s.prev(),
               theirs.type);
  STRATA_CHECK(theirs.bodyBytes == bytesPerRank, strataInvalidUsage,
               "bootstrap allGather: rank {} passes {} bytes per rank but rank {} passes {}",
               s.prev(), theirs.bodyBytes, s.rank, bytesPerRank);
  if (bytesPerRank == 0) return;
  // Step k: pass on the slot received in step k-1 (our own at k=0) and receive the one before it.
  char* base = static_cast<char*>(data);
  for (int step = 0; step < s.nranks - 1; ++step) {
    int sendSlot = (s.rank - step + s.nranks) % s.nranks;
    int recvSlot = (s.rank - step - 1 + s.nranks) % s.nranks;
    sendRecvAll(s.ringNext, base + sendSlot * bytesPerRank, bytesPerRank, s.ringPrev,
                base + recvSlot * bytesPerRank, bytesPerRank, deadline, s.abortFlag);
  }
}

void Bootstrap::barrier() {
  std::vector<uint8_t> slots(impl_->nranks);
  allGather(slots.data(), 1);
}

void Bootstrap::send(int peer, const void* data, size_t bytes, double timeoutSec) {
  Impl& s = *impl_;
  checkAbort(s.abortFlag, "send");
  s.checkPeer(peer, "send");
  STRATA_CHECK(data || bytes == 0, strataInvalidArgument, "bootstrap send: null data");
  if (peer == s.rank) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    s.toSelf.emplace_back(p, p + bytes);
    return;
  }
  Deadline deadline(timeoutSec > 0 ? timeoutSec : s.timeoutSec);
  Socket& socket = s.sendConns[peer];
  try {
    if (!socket.valid()) socket = s.connectToPeer(peer, kP2pChannel, deadline);
    sendFrame(socket, kP2pData, data, bytes, deadline, s.abortFlag);
  } catch (...) {
    // A frame cut short would desynchronise the stream; the peer sees it closed instead.
    socket.close();
    throw;
  }
}

void Bootstrap::recv(int peer, void* data, size_t bytes, double timeoutSec) {
  Impl& s = *impl_;
  checkAbort(s.abortFlag, "recv");
  s.checkPeer(peer, "recv");
  STRATA_CHECK(data || bytes == 0, strataInvalidArgument, "bootstrap recv: null data");
  if (peer == s.rank) {
    STRATA_CHECK(!s.toSelf.empty(), strataInvalidUsage,
                 "bootstrap recv: rank {} receives from itself without a matching send", s.rank);
    std::vector<uint8_t> message = std::move(s.toSelf.front());
    s.toSelf.pop_front();
    STRATA_CHECK(message.size() == bytes, strataInvalidUsage,
                 "bootstrap recv: rank {} sent itself {} bytes but receives {}", s.rank,
                 message.size(), bytes);
    if (bytes) std::memcpy(data, message.data(), bytes);
    return;
  }
  Deadline deadline(timeoutSec > 0 ? timeoutSec : s.timeoutSec);
  Socket& socket = s.awaitIncoming(kP2pChannel, peer, deadline);
  try {
    FrameHeader header;
    recvAll(socket, &header, sizeof(header), deadline, s.abortFlag);
    STRATA_CHECK(header.magic == kWireMagic && header.type == kP2pData, strataRemoteError,
                 "bootstrap recv: {} sent a malformed frame (magic {:#x}, type {})", socket.name(),
                 header.magic, header.type);
    if (header.bodyBytes != bytes) {
      // Skip the message, so that the pair's later messages still line up.
      std::vector<char> sink(std::min<uint64_t>(header.bodyBytes, 1 << 20));
      for (uint64_t left = header.bodyBytes; left > 0;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, sink.size()));
        recvAll(socket, sink.data(), n, deadline, s.abortFlag);
        left -= n;
      }
      fail(strataInvalidUsage, "bootstrap recv: rank {} sent {} bytes but rank {} receives {}",
           peer, header.bodyBytes, s.rank, bytes);
    }
    recvAll(socket, data, bytes, deadline, s.abortFlag);
  } catch (const Error& e) {
    if (e.code() != strataInvalidUsage) socket.close();
    throw;
  }
}

}  // namespace strata
