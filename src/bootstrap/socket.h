// A small TCP layer for the bootstrap: an owning Socket, address helpers, and blocking-style
// operations that never block unboundedly. Every socket is non-blocking underneath; each wait is a
// poll() of at most kAbortPollMs so that the deadline and the abort flag are checked at least that
// often. Errors are strata::Error: strataTimeout (deadline), strataAborted (abort flag),
// strataRemoteError (the peer closed or reset the connection; the message names the peer),
// strataSystemError (any other failed call), strataInvalidArgument (a bad address).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/deadline.h"

namespace strata {

// Longest single poll() while waiting, so that an abort is noticed within this many ms (the API
// promises that strataCommAbort ends every wait within 100 ms, scheduling delays included).
constexpr int kAbortPollMs = 50;
// Enough for every rank of a 1024-rank (and larger) communicator to connect at once; the kernel
// clamps it to net.core.somaxconn.
constexpr int kListenBacklog = 16384;

// Owns a file descriptor (closed on destruction); move-only. `name` says who is at the other end
// ("rank 3 (10.0.0.2:4711)") and appears in error messages.
class Socket {
 public:
  Socket() = default;
  Socket(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~Socket() { close(); }
  Socket(Socket&& other) noexcept : fd_(other.fd_), name_(std::move(other.name_)) { other.fd_ = -1; }
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  const std::string& name() const { return name_; }
  void setName(std::string name) { name_ = std::move(name); }
  void close();

 private:
  int fd_ = -1;
  std::string name_;
};

// ---- Addresses (IPv4 or IPv6 in a sockaddr_storage) ---------------------------------------------

bool isInetFamily(int family);  // AF_INET or AF_INET6
socklen_t addressLength(const sockaddr_storage& addr);  // 0 for any other family
uint16_t addressPort(const sockaddr_storage& addr);
void setAddressPort(sockaddr_storage& addr, uint16_t port);
bool isWildcardAddress(const sockaddr_storage& addr);  // 0.0.0.0 or ::
bool sameAddress(const sockaddr_storage& a, const sockaddr_storage& b);  // family, ip and port
// "10.0.0.2:4711" or "[fe80::1]:4711"; "<family N>" for anything else.
std::string formatAddress(const sockaddr_storage& addr);

// A numeric IPv4/IPv6 address (brackets allowed) or a host name (resolved, IPv4 preferred).
// Throws strataInvalidArgument.
sockaddr_storage parseAddress(const std::string& host, uint16_t port);
// "host:port", "[ipv6]:port". Throws strataInvalidArgument.
sockaddr_storage parseHostPort(const std::string& hostPort);

// An address of the interface called `ifname` (port 0), of `family` unless AF_UNSPEC (then IPv4
// first). Throws strataInvalidArgument when there is none.
sockaddr_storage interfaceAddress(const std::string& ifname, int family = AF_UNSPEC);
// The interface to bind to when none is given: STRATA_SOCKET_IFNAME, else the first up
// non-loopback IPv4 interface, else 127.0.0.1. Port 0.
sockaddr_storage defaultBindAddress();

// Copies an address between a sockaddr_storage and a smaller fixed-size holder that starts with
// the family (e.g. the one inside a unique id, kept small so that the id fits its 128 bytes).
template <typename Holder>
sockaddr_storage loadAddress(const Holder& holder) {
  static_assert(sizeof(Holder) >= sizeof(sockaddr_in6) && sizeof(Holder) <= sizeof(sockaddr_storage));
  sockaddr_storage addr{};
  std::memcpy(&addr, &holder, sizeof(Holder));
  return addr;
}
template <typename Holder>
void storeAddress(Holder& holder, const sockaddr_storage& addr) {
  static_assert(sizeof(Holder) >= sizeof(sockaddr_in6) && sizeof(Holder) <= sizeof(sockaddr_storage));
  std::memcpy(&holder, &addr, sizeof(Holder));
}

sockaddr_storage localAddress(const Socket& socket);  // getsockname
sockaddr_storage peerAddress(const Socket& socket);   // getpeername

// ---- Connections -----------------------------------------------------------------------------

// A non-blocking listening socket bound to `addr` (port 0: any), with SO_REUSEADDR.
Socket listenSocket(const sockaddr_storage& addr, int backlog = kListenBacklog);

// Connects to `addr`, retrying with backoff while nobody listens yet (ECONNREFUSED and friends)
// until the deadline. `name` names the peer in errors and in the returned Socket.
Socket connectSocket(const sockaddr_storage& addr, const std::string& name,
                     const Deadline& deadline, const std::atomic<bool>* abortFlag);

// Takes one pending connection without waiting; an invalid Socket when there is none.
Socket tryAccept(const Socket& listener);
// Waits (poll) for one connection until the deadline.
Socket acceptSocket(const Socket& listener, const Deadline& deadline,
                    const std::atomic<bool>* abortFlag);

// Sends / receives exactly `bytes`, waiting under the deadline and the abort flag.
void sendAll(Socket& socket, const void* data, size_t bytes, const Deadline& deadline,
             const std::atomic<bool>* abortFlag);
void recvAll(Socket& socket, void* data, size_t bytes, const Deadline& deadline,
             const std::atomic<bool>* abortFlag);
// Sends on `out` while receiving on `in`, so that a ring of ranks all sending more than the
// socket buffers hold cannot deadlock.
void sendRecvAll(Socket& out, const void* sendData, size_t sendBytes, Socket& in, void* recvData,
                 size_t recvBytes, const Deadline& deadline, const std::atomic<bool>* abortFlag);

// Reads what is available now, up to `bytes`, without waiting: the count read (0 when nothing is
// there yet), or -1 when the peer closed the connection or it failed. For multiplexed readers
// that drop misbehaving connections instead of throwing.
long recvAvailable(Socket& socket, void* data, size_t bytes);

// Compares secrets in time independent of where they differ.
bool constantTimeEqual(const void* a, const void* b, size_t bytes);

}  // namespace strata
