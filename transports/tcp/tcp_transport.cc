#include "transports/tcp/tcp_transport.h"

#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "bootstrap/socket.h"
#include "core/deadline.h"
#include "core/log.h"

namespace strata {
namespace {

constexpr uint32_t kHelloMagic = 0x53544350;  // "STCP"
constexpr uint32_t kHelloVersion = 1;
constexpr int kMaxDepth = 1024;
constexpr int kMaxStreams = 64;
constexpr size_t kSlotAlign = 64;
constexpr int kMaxIov = 64;  // per sendmsg; far below IOV_MAX

// First bytes on every connection, from the connecting (lower) rank. The settings travel too, so
// that ranks configured differently fail clearly instead of misreading each other's streams.
using tcpwire::Hello;
using tcpwire::WireHeader;
constexpr size_t kHeaderBytes = sizeof(WireHeader);

size_t roundUp(size_t v, size_t to) { return (v + to - 1) / to * to; }

bool isPeerGone(int err) { return err == EPIPE || err == ECONNRESET || err == ENOTCONN; }

// Slots of one direction: malloc'd lazily by the kernel, so unused ones cost no memory.
struct SlotBuffer {
  char* base = nullptr;
  size_t stride = 0;
  SlotBuffer(size_t slotBytes, int depth) : stride(roundUp(slotBytes, kSlotAlign)) {
    base = static_cast<char*>(std::aligned_alloc(kSlotAlign, stride * depth));
    if (!base) fail(strataSystemError, "cannot allocate {} tcp slots of {} bytes", depth, slotBytes);
  }
  ~SlotBuffer() { std::free(base); }
  SlotBuffer(const SlotBuffer&) = delete;
  SlotBuffer& operator=(const SlotBuffer&) = delete;
  char* slot(size_t index) const { return base + index * stride; }
};

}  // namespace

// One connection to a peer and where each direction of it stands.
struct TcpTransport::Stream {
  Socket socket;
  // Sending: the message being written (the stream's next unwritten one) and how much of its
  // header and payload the kernel has taken.
  uint64_t sendSeq = 0;
  size_t sendDone = 0;
  // Receiving: the message expected next on this stream and how much of it arrived.
  uint64_t recvSeq = 0;
  size_t recvDone = 0;
  WireHeader recvHeader{};
  // Set when the peer closed the connection with nothing owed either way; thrown only when this
  // stream is needed, since a peer that finished may close before we do.
  std::optional<Error> closed;
};

struct TcpTransport::Peer {
  int rank = -1;
  std::string name;  // "rank 3 (10.0.0.2:4711)"
  std::vector<Stream> streams;
  SlotBuffer sendSlots, recvSlots;
  std::vector<WireHeader> sendHeaders;  // by send slot
  std::vector<const char*> sendFrom;    // by send slot: the slot, or the caller's bytes (postFrom)
  std::vector<uint64_t> recvBytes;      // by receive slot
  uint64_t posted = 0;    // messages posted; message k uses slot k % depth, stream k % streams
  uint64_t released = 0;  // messages received and released
  std::unique_ptr<TcpSend> send;
  std::unique_ptr<TcpRecv> recv;

  Peer(size_t slotBytes, int depth, int nstreams)
      : streams(nstreams), sendSlots(slotBytes, depth), recvSlots(slotBytes, depth),
        sendHeaders(depth), sendFrom(depth), recvBytes(depth) {
    for (int s = 0; s < nstreams; ++s) {
      streams[s].sendSeq = s;
      streams[s].recvSeq = s;
    }
  }
  Stream& streamOf(uint64_t message) { return streams[message % streams.size()]; }
  // Throws the first close seen on any stream: nothing more can be sent in order.
  void checkOpen() const {
    for (const Stream& s : streams)
      if (s.closed) throw *s.closed;
  }
};

class TcpTransport::TcpSend final : public SendChannel {
 public:
  TcpSend(TcpTransport& t, Peer& p) : t_(t), p_(p) {}

  void* trySlot(size_t bytes) override {
    // With nothing unsent every slot's previous message is in the kernel: no poll needed.
    if (t_.failure_) throw *t_.failure_;
    if (t_.unsent_ > 0) t_.progress();
    p_.checkOpen();
    STRATA_CHECK(bytes <= t_.options_.slotBytes, strataInternalError,
                 "tcp message of {} bytes to {} exceeds the slot size {}", bytes, p_.name,
                 t_.options_.slotBytes);
    const uint64_t depth = t_.options_.depth;
    if (p_.posted >= depth) {
      // The slot's previous message must be fully in the kernel before it is overwritten.
      uint64_t previous = p_.posted - depth;
      if (p_.streamOf(previous).sendSeq <= previous) return nullptr;
    }
    return p_.sendSlots.slot(p_.posted % depth);
  }

  void post(size_t bytes) override {
    postFrom(p_.sendSlots.slot(p_.posted % t_.options_.depth), bytes);
  }

  // The kernel copies from wherever the bytes are: the slot stays reserved (the same bound on
  // what is in flight) but unused.
  bool canPostFrom() const override { return true; }
  void postFrom(const void* data, size_t bytes) override {
    if (t_.failure_) throw *t_.failure_;
    p_.checkOpen();
    STRATA_CHECK(bytes <= t_.options_.slotBytes, strataInternalError,
                 "tcp message of {} bytes to {} exceeds the slot size {}", bytes, p_.name,
                 t_.options_.slotBytes);
    p_.sendHeaders[p_.posted % t_.options_.depth] = WireHeader{p_.posted, bytes};
    p_.sendFrom[p_.posted % t_.options_.depth] = static_cast<const char*>(data);
    if (data != p_.sendSlots.slot(p_.posted % t_.options_.depth)) ++t_.unsentFromCaller_;
    const uint64_t k = p_.posted;
    Stream& st = p_.streamOf(k);
    ++p_.posted;
    ++t_.unsent_;
    // Straight to the kernel when nothing waits before it on its stream (the latency path:
    // no poll first); what stays queued leaves through progress().
    if (st.sendSeq == k) t_.sendOn(p_, st);
    if (t_.unsent_ > 0) t_.progress();
  }

  size_t maxMessageBytes() const override { return t_.options_.slotBytes; }

 private:
  TcpTransport& t_;
  Peer& p_;
};

class TcpTransport::TcpRecv final : public RecvChannel {
 public:
  TcpRecv(TcpTransport& t, Peer& p) : t_(t), p_(p) {}

  const void* tryPeek(size_t* bytes) override {
    Stream& s = p_.streamOf(p_.released);
    // Queued sends need the full progress (a peer may wait on them while we wait on it);
    // otherwise one recv on the stream that carries the message is all the work there is.
    if (t_.unsent_ > 0) t_.progress();
    else if (s.recvSeq <= p_.released && !s.closed) {
      if (t_.failure_) throw *t_.failure_;
      t_.recvOn(p_, s);
    }
    if (s.recvSeq > p_.released) {
      size_t slot = p_.released % t_.options_.depth;
      *bytes = p_.recvBytes[slot];
      return p_.recvSlots.slot(slot);
    }
    if (s.closed) throw *s.closed;  // the message it would carry can never come
    return nullptr;
  }

  void release() override { ++p_.released; }

 private:
  TcpTransport& t_;
  Peer& p_;
};

TcpTransport::TcpTransport(const TcpOptions& options,
                           const std::function<void(void* data, size_t bytesPerRank)>& allGather)
    : options_(options) {
  const TcpOptions& o = options_;
  STRATA_CHECK(o.nranks >= 1 && o.rank >= 0 && o.rank < o.nranks, strataInvalidArgument,
               "tcp transport: rank {} out of range for nranks {}", o.rank, o.nranks);
  STRATA_CHECK(o.depth >= 1 && o.depth <= kMaxDepth, strataInvalidArgument,
               "tcp slot depth {} out of range [1, {}]", o.depth, kMaxDepth);
  STRATA_CHECK(o.streams >= 1 && o.streams <= kMaxStreams, strataInvalidArgument,
               "tcp streams {} out of range [1, {}]", o.streams, kMaxStreams);
  STRATA_CHECK(o.slotBytes > 0, strataInvalidArgument, "tcp slot size must be positive");
  peers_.resize(o.nranks);
  for (int p : o.peers) {
    STRATA_CHECK(p >= 0 && p < o.nranks && p != o.rank, strataInvalidArgument,
                 "tcp transport of rank {}: peer {} is itself or out of range for nranks {}",
                 o.rank, p, o.nranks);
    STRATA_CHECK(!peers_[p], strataInvalidArgument, "tcp transport: peer {} listed twice", p);
    peers_[p] = std::make_unique<Peer>(o.slotBytes, o.depth, o.streams);
    peers_[p]->rank = p;
  }

  Socket listener = listenSocket(o.ifname.empty() ? defaultBindAddress()
                                                  : interfaceAddress(o.ifname));
  std::vector<sockaddr_storage> addrs(o.nranks);
  addrs[o.rank] = localAddress(listener);
  allGather(addrs.data(), sizeof(sockaddr_storage));
  for (auto& peer : peers_) {
    if (!peer) continue;
    STRATA_CHECK(isInetFamily(addrs[peer->rank].ss_family) && addressPort(addrs[peer->rank]) != 0,
                 strataRemoteError, "tcp transport: rank {} published no valid address",
                 peer->rank);
    peer->name = fmt::format("rank {} ({})", peer->rank, formatAddress(addrs[peer->rank]));
    peer->send = std::make_unique<TcpSend>(*this, *peer);
    peer->recv = std::make_unique<TcpRecv>(*this, *peer);
  }

  // Connecting needs no accept on the other side (the kernel completes it from the backlog), so
  // every rank connects to all its higher peers first, then accepts its lower ones.
  Deadline deadline(o.timeoutSec);
  for (auto& peer : peers_) {
    if (!peer || peer->rank < o.rank) continue;
    for (int s = 0; s < o.streams; ++s) {
      std::string name = fmt::format("{} stream {}", peer->name, s);
      Socket socket = connectSocket(addrs[peer->rank], name, deadline, o.abortFlag);
      const Hello hello = tcpwire::makeHello(o, s);
      sendAll(socket, &hello, sizeof(hello), deadline, o.abortFlag);
      peer->streams[s].socket = std::move(socket);
    }
  }
  acceptAll(listener, deadline);

  for (auto& peer : peers_) {
    if (!peer) continue;
    for (int s = 0; s < o.streams; ++s) {
      pollFds_.push_back(pollfd{-1, 0, 0});
      pollOwners_.emplace_back(peer.get(), s);
    }
  }
}

// Takes connections on the listener until every lower peer's streams are there. Hellos are read
// side by side, so a silent or slow intruder delays nobody; anything but a hello with our secret,
// from a lower peer we serve, for a stream not yet connected, is closed.
void TcpTransport::acceptAll(const Socket& listener, const Deadline& deadline) {
  const TcpOptions& o = options_;
  size_t missing = 0;
  for (auto& peer : peers_)
    if (peer && peer->rank < o.rank) missing += o.streams;
  struct Pending {
    Socket socket;
    Hello hello;
    size_t got = 0;
  };
  std::vector<Pending> pending;
  std::vector<pollfd> fds;
  while (missing > 0) {
    if (o.abortFlag && o.abortFlag->load(std::memory_order_relaxed))
      fail(strataAborted, "tcp transport of rank {}: aborted while waiting for peers to connect",
           o.rank);
    if (deadline.expired()) {
      std::string who;
      int listed = 0;
      for (auto& peer : peers_) {
        if (!peer || peer->rank >= o.rank) continue;
        int absent = 0;
        for (const Stream& s : peer->streams) absent += !s.socket.valid();
        if (absent && listed++ < 16)
          who += fmt::format("{}{} ({} of {} streams missing)", listed > 1 ? ", " : "", peer->name,
                             absent, o.streams);
      }
      fail(strataTimeout, "tcp transport of rank {}: timed out after {:.3g} s waiting for {} to "
           "connect", o.rank, deadline.seconds(), who);
    }
    fds.clear();
    fds.push_back(pollfd{listener.fd(), POLLIN, 0});
    for (const Pending& p : pending) fds.push_back(pollfd{p.socket.fd(), POLLIN, 0});
    int rc = ::poll(fds.data(), fds.size(), std::min(kAbortPollMs, deadline.msLeft()));
    if (rc < 0 && errno != EINTR) failErrno("poll on {}", listener.name());
    if (rc <= 0) continue;
    // Backwards, so that dropping entry i (swap with the last) leaves 0..i-1 in place.
    for (size_t i = pending.size(); i-- > 0;) {
      if (!fds[i + 1].revents) continue;
      Pending& p = pending[i];
      long n = recvAvailable(p.socket, reinterpret_cast<char*>(&p.hello) + p.got,
                             sizeof(Hello) - p.got);
      bool drop = n < 0;
      if (n > 0 && (p.got += n) == sizeof(Hello)) {
        drop = true;  // no longer pending, either way
        const Hello& h = p.hello;
        if (h.magic != kHelloMagic || h.version != kHelloVersion ||
            !constantTimeEqual(h.secret, o.secret.data(), kSecretBytes))
          log(LogLevel::Info, "tcp transport of rank {}: dropped a connection from {} without "
              "the secret", o.rank, p.socket.name());
        else if (h.rank < 0 || h.rank >= o.rank || !peers_[h.rank] || h.stream < 0 ||
                 h.stream >= o.streams || peers_[h.rank]->streams[h.stream].socket.valid())
          log(LogLevel::Info, "tcp transport of rank {}: dropped an unexpected connection from "
              "{} (rank {}, stream {})", o.rank, p.socket.name(), h.rank, h.stream);
        else if (h.streams != o.streams || h.depth != o.depth || h.slotBytes != o.slotBytes)
          fail(strataInvalidUsage, "tcp transport: rank {} uses {} streams, depth {}, slots of {} "
               "bytes but rank {} uses {}, {}, {}; every rank must use the same",
               h.rank, h.streams, h.depth, h.slotBytes, o.rank, o.streams, o.depth, o.slotBytes);
        else {
          Peer& peer = *peers_[h.rank];
          p.socket.setName(fmt::format("{} stream {}", peer.name, h.stream));
          peer.streams[h.stream].socket = std::move(p.socket);
          --missing;
        }
      }
      if (drop) {
        if (i + 1 != pending.size()) pending[i] = std::move(pending.back());
        pending.pop_back();
      }
    }
    if (fds[0].revents) {
      size_t before = pending.size();
      for (Socket s = tryAccept(listener); s.valid(); s = tryAccept(listener))
        pending.push_back(Pending{std::move(s), {}, 0});
      // Readable but nothing to take (out of descriptors): don't spin on the listener.
      if (pending.size() == before) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

namespace tcpwire {

Hello makeHello(const TcpOptions& o, int stream) {
  Hello hello;
  std::memset(&hello, 0, sizeof(hello));
  hello.magic = kHelloMagic;
  hello.version = kHelloVersion;
  std::memcpy(hello.secret, o.secret.data(), kSecretBytes);
  hello.rank = o.rank;
  hello.stream = stream;
  hello.streams = o.streams;
  hello.depth = o.depth;
  hello.slotBytes = o.slotBytes;
  return hello;
}

std::string headerProblem(const WireHeader& header, uint64_t expectedSequence, size_t slotBytes) {
  if (header.sequence != expectedSequence || header.bytes > slotBytes)
    return fmt::format("sequence {}, {} bytes; expected sequence {}, at most {} bytes",
                       header.sequence, header.bytes, expectedSequence, slotBytes);
  return {};
}

}  // namespace tcpwire

TcpTransport::~TcpTransport() {
  try {
    flush();
  } catch (const Error& e) {
    log(LogLevel::Warn, "tcp transport of rank {}: messages left unsent at close: {}",
        options_.rank, e.what());
  }
}

// Hands the queued bytes to the kernel, which delivers them after close(): a rank whose last step
// was a send may destroy its transport before the peer has read it all.
void TcpTransport::flush() {
  if (failure_) return;
  Deadline deadline(options_.timeoutSec);
  std::vector<pollfd> fds;
  while (progress()) {
    if (options_.abortFlag && options_.abortFlag->load(std::memory_order_relaxed))
      fail(strataAborted, "aborted");
    if (deadline.expired()) fail(strataTimeout, "timed out after {:.3g} s", deadline.seconds());
    fds.clear();
    for (const auto& [peer, s] : pollOwners_) {
      const Stream& st = peer->streams[s];
      if (st.sendSeq < peer->posted) fds.push_back(pollfd{st.socket.fd(), POLLOUT, 0});
    }
    if (::poll(fds.data(), fds.size(), std::min(kAbortPollMs, deadline.msLeft())) < 0 &&
        errno != EINTR)
      failErrno("poll");
  }
}

SendChannel& TcpTransport::sendChannel(int peer) {
  STRATA_CHECK(peer >= 0 && peer < options_.nranks && peers_[peer], strataInternalError,
               "no tcp channel from rank {} to rank {} (not among its peers)", options_.rank, peer);
  return *peers_[peer]->send;
}

RecvChannel& TcpTransport::recvChannel(int peer) {
  STRATA_CHECK(peer >= 0 && peer < options_.nranks && peers_[peer], strataInternalError,
               "no tcp channel to rank {} from rank {} (not among its peers)", options_.rank, peer);
  return *peers_[peer]->recv;
}

// The streams that have something to do: bytes queued, or a free receive slot for the message
// the stream carries next. poll() skips negative descriptors.
bool TcpTransport::armPoll() {
  const uint64_t depth = options_.depth;
  bool any = false;
  for (size_t i = 0; i < pollFds_.size(); ++i) {
    Peer& peer = *pollOwners_[i].first;
    Stream& st = peer.streams[pollOwners_[i].second];
    short events = 0;
    if (!st.closed) {
      if (st.sendSeq < peer.posted) events |= POLLOUT;
      if (st.recvSeq < peer.released + depth) events |= POLLIN;
    }
    pollFds_[i] = pollfd{events ? st.socket.fd() : -1, events, 0};
    any |= events != 0;
  }
  return any;
}

bool TcpTransport::waitForEvents(int micros) {
  if (failure_ || !armPoll()) return false;
  timespec timeout{micros / 1000000, (micros % 1000000) * 1000L};
  if (::ppoll(pollFds_.data(), pollFds_.size(), &timeout, nullptr) < 0 && errno != EINTR)
    failErrno("poll of tcp connections");
  return true;
}

bool TcpTransport::progress() {
  if (failure_) throw *failure_;
  // Nothing of ours waits for the kernel: receiving is done by tryPeek, on the stream it needs,
  // so an idle poll here would only double a waiting rank's system calls.
  if (unsent_ == 0) return false;
  if (!armPoll()) return false;
  int rc = ::poll(pollFds_.data(), pollFds_.size(), 0);
  if (rc < 0 && errno != EINTR) failErrno("poll of tcp connections");
  bool queued = false;
  for (size_t i = 0; i < pollFds_.size(); ++i) {
    Peer& peer = *pollOwners_[i].first;
    Stream& st = peer.streams[pollOwners_[i].second];
    const pollfd& p = pollFds_[i];
    if (rc > 0 && p.revents) {
      // An error or hang-up shows in revents whatever was asked; the call that follows says which.
      if ((p.events & POLLOUT) && (p.revents & (POLLOUT | POLLERR | POLLHUP))) sendOn(peer, st);
      if ((p.events & POLLIN) && (p.revents & (POLLIN | POLLERR | POLLHUP))) recvOn(peer, st);
    }
    queued |= st.sendSeq < peer.posted;
  }
  return queued;
}

void TcpTransport::releaseCallerMemory(const void* from, size_t bytes) {
  // Most calls find nothing: a message usually leaves within its post().
  if (unsentFromCaller_ == 0) return;
  const uint64_t depth = options_.depth;
  const auto lo = reinterpret_cast<uintptr_t>(from);
  const uintptr_t hi = from ? lo + bytes : UINTPTR_MAX;
  for (const std::unique_ptr<Peer>& peer : peers_) {
    if (!peer) continue;
    for (Stream& st : peer->streams)
      for (uint64_t k = st.sendSeq; k < peer->posted; k += peer->streams.size()) {
        char* slot = peer->sendSlots.slot(k % depth);
        const char* data = peer->sendFrom[k % depth];
        const size_t size = peer->sendHeaders[k % depth].bytes;
        const auto at = reinterpret_cast<uintptr_t>(data);
        if (data == slot || at >= hi || at + size <= lo) continue;
        // Whole: the part already sent is skipped by its offset, wherever the bytes are.
        std::memcpy(slot, data, size);
        peer->sendFrom[k % depth] = slot;
        --unsentFromCaller_;
      }
  }
}

// Writes as much of the stream's queue as the kernel takes, several messages per sendmsg.
void TcpTransport::sendOn(Peer& peer, Stream& st) {
  const uint64_t depth = options_.depth, nstreams = options_.streams;
  while (!st.closed && st.sendSeq < peer.posted) {
    iovec iov[kMaxIov];
    int n = 0;
    size_t offered = 0;
    size_t skip = st.sendDone;
    for (uint64_t k = st.sendSeq; k < peer.posted && n + 2 <= kMaxIov; k += nstreams) {
      WireHeader& h = peer.sendHeaders[k % depth];
      const char* parts[2] = {reinterpret_cast<const char*>(&h), peer.sendFrom[k % depth]};
      size_t sizes[2] = {kHeaderBytes, h.bytes};
      for (int j = 0; j < 2; ++j) {
        size_t from = std::min(skip, sizes[j]);
        skip -= from;
        if (sizes[j] > from) {
          iov[n++] = iovec{const_cast<char*>(parts[j] + from), sizes[j] - from};  // sendmsg only reads
          offered += sizes[j] - from;
        }
      }
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    ssize_t sent = ::sendmsg(st.socket.fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (isPeerGone(errno))
        return broken(peer, st, strataRemoteError,
                      fmt::format("reset by the peer while sending ({})", std::strerror(errno)),
                      true);
      failErrno("send to {}", st.socket.name());
    }
    for (size_t left = static_cast<size_t>(sent); left > 0;) {
      size_t total = kHeaderBytes + peer.sendHeaders[st.sendSeq % depth].bytes;
      size_t take = std::min(left, total - st.sendDone);
      st.sendDone += take;
      left -= take;
      if (st.sendDone == total) {
        if (peer.sendFrom[st.sendSeq % depth] != peer.sendSlots.slot(st.sendSeq % depth))
          --unsentFromCaller_;
        st.sendSeq += nstreams;
        st.sendDone = 0;
        --unsent_;
      }
    }
    if (static_cast<size_t>(sent) < offered) return;  // the kernel is full for now
  }
}

// Reads the stream's messages into their receive slots while the slot of the next one is free.
void TcpTransport::recvOn(Peer& peer, Stream& st) {
  const uint64_t depth = options_.depth, nstreams = options_.streams;
  while (!st.closed && st.recvSeq < peer.released + depth) {
    char* into;
    size_t want;
    if (st.recvDone < kHeaderBytes) {
      into = reinterpret_cast<char*>(&st.recvHeader) + st.recvDone;
      want = kHeaderBytes - st.recvDone;
    } else {
      into = peer.recvSlots.slot(st.recvSeq % depth) + (st.recvDone - kHeaderBytes);
      want = kHeaderBytes + st.recvHeader.bytes - st.recvDone;
    }
    ssize_t got = ::recv(st.socket.fd(), into, want, MSG_DONTWAIT);
    if (got == 0)
      return broken(peer, st, strataRemoteError,
                    st.recvDone ? fmt::format("closed by the peer in the middle of message {} "
                                              "({} bytes received)", st.recvSeq, st.recvDone)
                                : std::string("closed by the peer"),
                    st.recvDone > 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (isPeerGone(errno))
        return broken(peer, st, strataRemoteError,
                      fmt::format("reset by the peer ({})", std::strerror(errno)),
                      st.recvDone > 0);
      failErrno("recv from {}", st.socket.name());
    }
    size_t before = st.recvDone;
    st.recvDone += static_cast<size_t>(got);
    // The header says where the payload goes and how long it is: checked before a byte of it
    // is read, so that no peer can make us write past the slot.
    if (before < kHeaderBytes && st.recvDone == kHeaderBytes) {
      std::string problem = tcpwire::headerProblem(st.recvHeader, st.recvSeq, options_.slotBytes);
      if (!problem.empty())
        return broken(peer, st, strataRemoteError,
                      fmt::format("sent a malformed message header ({})", problem), true);
    }
    if (st.recvDone == kHeaderBytes + st.recvHeader.bytes) {
      peer.recvBytes[st.recvSeq % depth] = st.recvHeader.bytes;
      st.recvSeq += nstreams;
      st.recvDone = 0;
    }
  }
}

// A connection ended. If data was owed either way (bytes queued to the peer, or a message cut
// short) the transport is broken and every call throws from now on; otherwise only a use of this
// stream throws, since a peer that is done with us may close before we are done with the others.
void TcpTransport::broken(Peer& peer, Stream& st, strataResult_t code, const std::string& text,
                          bool owed) {
  Error error(code, fmt::format("tcp connection to {}: {}", st.socket.name(), text));
  st.closed = error;
  st.socket.close();
  if (owed || st.sendSeq < peer.posted) {
    failure_ = error;
    throw error;
  }
}

}  // namespace strata
