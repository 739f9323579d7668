#include "bootstrap/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "core/error.h"

namespace strata {

// ---- Socket -----------------------------------------------------------------------------------

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    name_ = std::move(other.name_);
    other.fd_ = -1;
  }
  return *this;
}

void Socket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

// ---- Addresses --------------------------------------------------------------------------------

bool isInetFamily(int family) { return family == AF_INET || family == AF_INET6; }

socklen_t addressLength(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) return sizeof(sockaddr_in);
  if (addr.ss_family == AF_INET6) return sizeof(sockaddr_in6);
  return 0;
}

uint16_t addressPort(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  if (addr.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  return 0;
}

void setAddressPort(sockaddr_storage& addr, uint16_t port) {
  if (addr.ss_family == AF_INET) reinterpret_cast<sockaddr_in&>(addr).sin_port = htons(port);
  if (addr.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6&>(addr).sin6_port = htons(port);
}

bool isWildcardAddress(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET)
    return reinterpret_cast<const sockaddr_in&>(addr).sin_addr.s_addr == htonl(INADDR_ANY);
  if (addr.ss_family == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr);
  return false;
}

bool sameAddress(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family || addressPort(a) != addressPort(b)) return false;
  if (a.ss_family == AF_INET)
    return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in&>(b).sin_addr.s_addr;
  if (a.ss_family == AF_INET6)
    return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr,
                       &reinterpret_cast<const sockaddr_in6&>(b).sin6_addr, sizeof(in6_addr)) == 0;
  return false;
}

std::string formatAddress(const sockaddr_storage& addr) {
  char ip[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, ip, sizeof(ip));
    return fmt::format("{}:{}", ip, addressPort(addr));
  }
  if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, ip, sizeof(ip));
    return fmt::format("[{}]:{}", ip, addressPort(addr));
  }
  return fmt::format("<family {}>", addr.ss_family);
}

sockaddr_storage parseAddress(const std::string& hostIn, uint16_t port) {
  std::string host = hostIn;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  STRATA_CHECK(!host.empty(), strataInvalidArgument, "empty host name");
  sockaddr_storage addr{};
  auto& v4 = reinterpret_cast<sockaddr_in&>(addr);
  auto& v6 = reinterpret_cast<sockaddr_in6&>(addr);
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    addr.ss_family = AF_INET;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    addr.ss_family = AF_INET6;
  } else if (host == "localhost") {
    // Resolved here: minimal systems and chroots may have no /etc/hosts to say so.
    inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
    addr.ss_family = AF_INET;
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (rc != 0)
      fail(strataInvalidArgument, "cannot resolve host '{}': {}", host, gai_strerror(rc));
    // IPv4 first: it is what the default interface choice uses too.
    const addrinfo* pick = nullptr;
    for (const addrinfo* a = found; a; a = a->ai_next)
      if (a->ai_family == AF_INET) { pick = a; break; }
    for (const addrinfo* a = found; a && !pick; a = a->ai_next)
      if (a->ai_family == AF_INET6) pick = a;
    if (pick) std::memcpy(&addr, pick->ai_addr, pick->ai_addrlen);
    freeaddrinfo(found);
    STRATA_CHECK(pick, strataInvalidArgument, "host '{}' has no IPv4 or IPv6 address", host);
  }
  setAddressPort(addr, port);
  return addr;
}

sockaddr_storage parseHostPort(const std::string& hostPort) {
  size_t colon = hostPort.rfind(':');
  STRATA_CHECK(colon != std::string::npos && colon + 1 < hostPort.size(), strataInvalidArgument,
               "address '{}' is not host:port", hostPort);
  std::string host = hostPort.substr(0, colon);
  // A bare IPv6 address without brackets has more colons; require brackets for it.
  STRATA_CHECK(host.find(':') == std::string::npos || host.front() == '[', strataInvalidArgument,
               "address '{}': write IPv6 as [addr]:port", hostPort);
  std::string portText = hostPort.substr(colon + 1);
  char* end = nullptr;
  errno = 0;
  unsigned long port = std::strtoul(portText.c_str(), &end, 10);
  STRATA_CHECK(errno == 0 && end && *end == '\0' && port <= 65535 &&
                   portText.find_first_not_of("0123456789") == std::string::npos,
               strataInvalidArgument, "address '{}': bad port '{}'", hostPort, portText);
  return parseAddress(host, static_cast<uint16_t>(port));
}

namespace {

struct IfAddrs {
  ifaddrs* list = nullptr;
  IfAddrs() {
    if (getifaddrs(&list) != 0) failErrno("getifaddrs");
  }
  ~IfAddrs() { freeifaddrs(list); }
};

sockaddr_storage copyInterfaceAddress(const ifaddrs* ifa) {
  sockaddr_storage addr{};
  std::memcpy(&addr, ifa->ifa_addr,
              ifa->ifa_addr->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
  setAddressPort(addr, 0);
  return addr;
}

}  // namespace

sockaddr_storage interfaceAddress(const std::string& ifname, int family) {
  IfAddrs ifs;
  for (int want : {AF_INET, AF_INET6}) {
    if (family != AF_UNSPEC && family != want) continue;
    for (const ifaddrs* ifa = ifs.list; ifa; ifa = ifa->ifa_next) {
      if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != want || ifname != ifa->ifa_name) continue;
      return copyInterfaceAddress(ifa);
    }
  }
  fail(strataInvalidArgument, "interface '{}' has no {} address", ifname,
       family == AF_INET ? "IPv4" : family == AF_INET6 ? "IPv6" : "IPv4 or IPv6");
}

sockaddr_storage defaultBindAddress() {
  const char* ifname = std::getenv("STRATA_SOCKET_IFNAME");
  if (ifname && *ifname) {
    try {
      return interfaceAddress(ifname);
    } catch (const Error& e) {
      fail(e.code(), "STRATA_SOCKET_IFNAME: {}", e.what());
    }
  }
  {
    IfAddrs ifs;
    for (const ifaddrs* ifa = ifs.list; ifa; ifa = ifa->ifa_next) {
      if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET) continue;
      if (!(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK)) continue;
      return copyInterfaceAddress(ifa);
    }
  }
  return parseAddress("127.0.0.1", 0);
}

sockaddr_storage localAddress(const Socket& socket) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    failErrno("getsockname({})", socket.name());
  return addr;
}

sockaddr_storage peerAddress(const Socket& socket) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(socket.fd(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    failErrno("getpeername({})", socket.name());
  return addr;
}

// ---- Waiting ----------------------------------------------------------------------------------

namespace {

bool aborted(const std::atomic<bool>* abortFlag) {
  return abortFlag && abortFlag->load(std::memory_order_relaxed);
}

// Throws when the abort flag is set or the deadline has passed; `what` is only built then.
template <typename What>
void checkDeadline(const Deadline& deadline, const std::atomic<bool>* abortFlag, What&& what) {
  if (aborted(abortFlag)) fail(strataAborted, "aborted while {}", what());
  if (deadline.expired())
    fail(strataTimeout, "timed out after {:.3g} s {}", deadline.seconds(), what());
}

// One poll() slice: never longer than kAbortPollMs or the time left.
int sliceMs(const Deadline& deadline) { return std::min(kAbortPollMs, deadline.msLeft()); }

// Waits until poll reports any of `events` (or an error/hang-up) on fd.
template <typename What>
void waitFd(int fd, short events, const Deadline& deadline, const std::atomic<bool>* abortFlag,
            What&& what) {
  for (;;) {
    checkDeadline(deadline, abortFlag, what);
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, sliceMs(deadline));
    if (rc > 0) return;
    if (rc < 0 && errno != EINTR) failErrno("poll while {}", what());
  }
}

void configureStream(int fd) {
  int one = 1;
  // Bootstrap messages are small and latency-bound; Nagle would delay every ring step.
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
    failErrno("setsockopt(TCP_NODELAY)");
}

bool isPeerGone(int err) { return err == EPIPE || err == ECONNRESET || err == ENOTCONN; }

// Moves bytes on one socket without waiting. Returns false when it would block; throws when the
// peer went away (strataRemoteError) or the call failed.
bool sendSome(Socket& socket, const char* data, size_t bytes, size_t& done) {
  ssize_t n = ::send(socket.fd(), data + done, bytes - done, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n > 0) {
    done += static_cast<size_t>(n);
    return true;
  }
  if (n < 0 && errno == EINTR) return true;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  if (n < 0 && isPeerGone(errno))
    fail(strataRemoteError, "connection to {} closed by the peer after {} of {} bytes sent ({})",
         socket.name(), done, bytes, std::strerror(errno));
  failErrno("send to {}", socket.name());
}

bool recvSome(Socket& socket, char* data, size_t bytes, size_t& done) {
  ssize_t n = ::recv(socket.fd(), data + done, bytes - done, MSG_DONTWAIT);
  if (n > 0) {
    done += static_cast<size_t>(n);
    return true;
  }
  if (n == 0)
    fail(strataRemoteError, "connection to {} closed by the peer after {} of {} bytes received",
         socket.name(), done, bytes);
  if (errno == EINTR) return true;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
  if (isPeerGone(errno))
    fail(strataRemoteError, "connection to {} reset by the peer after {} of {} bytes received",
         socket.name(), done, bytes);
  failErrno("recv from {}", socket.name());
}

}  // namespace

// ---- Connections ------------------------------------------------------------------------------

Socket listenSocket(const sockaddr_storage& addr, int backlog) {
  STRATA_CHECK(isInetFamily(addr.ss_family), strataInvalidArgument,
               "cannot listen on {}: not IPv4 or IPv6", formatAddress(addr));
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) failErrno("socket for listening on {}", formatAddress(addr));
  Socket socket(fd, "listener " + formatAddress(addr));
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
    failErrno("setsockopt(SO_REUSEADDR)");
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), addressLength(addr)) != 0)
    failErrno("bind to {}", formatAddress(addr));
  if (::listen(fd, backlog) != 0) failErrno("listen on {}", formatAddress(addr));
  socket.setName("listener " + formatAddress(localAddress(socket)));
  return socket;
}

Socket connectSocket(const sockaddr_storage& addr, const std::string& name,
                     const Deadline& deadline, const std::atomic<bool>* abortFlag) {
  STRATA_CHECK(isInetFamily(addr.ss_family), strataInvalidArgument,
               "cannot connect to {} ({}): not IPv4 or IPv6", name, formatAddress(addr));
  auto what = [&] { return fmt::format("connecting to {} ({})", name, formatAddress(addr)); };
  int napMs = 1;
  int lastError = 0;
  for (;;) {
    if (aborted(abortFlag)) fail(strataAborted, "aborted while {}", what());
    if (deadline.expired())
      fail(strataTimeout, "timed out after {:.3g} s {} (last error: {})", deadline.seconds(),
           what(), lastError ? std::strerror(lastError) : "none");
    int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) failErrno("socket for {}", what());
    Socket socket(fd, name);
    int err = 0;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), addressLength(addr)) != 0) {
      err = errno;
      if (err == EINPROGRESS || err == EINTR) {
        // Completes or fails asynchronously; the outcome is in SO_ERROR once writable.
        waitFd(fd, POLLOUT, deadline, abortFlag, what);
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) failErrno("getsockopt(SO_ERROR)");
      }
    }
    // Retrying a connect to an unused local port can make the kernel pick that very port as the
    // source and connect the socket to itself (TCP simultaneous open); treat that as refused.
    if (err == 0 && sameAddress(localAddress(socket), addr)) err = ECONNREFUSED;
    if (err == 0) {
      configureStream(fd);
      return socket;
    }
    bool retry = err == ECONNREFUSED || err == ETIMEDOUT || err == EHOSTUNREACH ||
                 err == ENETUNREACH || err == ECONNRESET || err == EAGAIN || err == ECONNABORTED;
    if (!retry) {
      errno = err;
      failErrno("{}", what());
    }
    lastError = err;
    socket.close();
    // Nobody listens yet (the root may start later): back off, never past the deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(napMs, deadline.msLeft())));
    napMs = std::min(napMs * 2, kAbortPollMs);
  }
}

Socket tryAccept(const Socket& listener) {
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    int fd = ::accept4(listener.fd(), reinterpret_cast<sockaddr*>(&peer), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Socket socket(fd, formatAddress(peer));
      configureStream(fd);
      return socket;
    }
    // A connection that was reset before we took it is simply gone; look at the next one.
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Socket();
    // Out of descriptors and similar: temporary; report "none now" rather than kill the caller.
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) return Socket();
    failErrno("accept on {}", listener.name());
  }
}

Socket acceptSocket(const Socket& listener, const Deadline& deadline,
                    const std::atomic<bool>* abortFlag) {
  auto what = [&] { return fmt::format("accepting a connection on {}", listener.name()); };
  for (;;) {
    Socket socket = tryAccept(listener);
    if (socket.valid()) return socket;
    waitFd(listener.fd(), POLLIN, deadline, abortFlag, what);
  }
}

void sendAll(Socket& socket, const void* data, size_t bytes, const Deadline& deadline,
             const std::atomic<bool>* abortFlag) {
  const char* p = static_cast<const char*>(data);
  size_t done = 0;
  auto what = [&] {
    return fmt::format("sending {} bytes to {} ({} sent)", bytes, socket.name(), done);
  };
  while (done < bytes)
    if (!sendSome(socket, p, bytes, done)) waitFd(socket.fd(), POLLOUT, deadline, abortFlag, what);
}

void recvAll(Socket& socket, void* data, size_t bytes, const Deadline& deadline,
             const std::atomic<bool>* abortFlag) {
  char* p = static_cast<char*>(data);
  size_t done = 0;
  auto what = [&] {
    return fmt::format("receiving {} bytes from {} ({} received)", bytes, socket.name(), done);
  };
  while (done < bytes)
    if (!recvSome(socket, p, bytes, done)) waitFd(socket.fd(), POLLIN, deadline, abortFlag, what);
}

void sendRecvAll(Socket& out, const void* sendData, size_t sendBytes, Socket& in, void* recvData,
                 size_t recvBytes, const Deadline& deadline, const std::atomic<bool>* abortFlag) {
  const char* sp = static_cast<const char*>(sendData);
  char* rp = static_cast<char*>(recvData);
  size_t sent = 0, received = 0;
  auto what = [&] {
    return fmt::format("sending {} bytes to {} ({} sent) and receiving {} bytes from {} ({} "
                       "received)",
                       sendBytes, out.name(), sent, recvBytes, in.name(), received);
  };
  while (sent < sendBytes || received < recvBytes) {
    bool progressed = false;
    if (sent < sendBytes) progressed |= sendSome(out, sp, sendBytes, sent);
    if (received < recvBytes) progressed |= recvSome(in, rp, recvBytes, received);
    if (progressed) continue;
    checkDeadline(deadline, abortFlag, what);
    pollfd fds[2];
    nfds_t n = 0;
    if (sent < sendBytes) fds[n++] = pollfd{out.fd(), POLLOUT, 0};
    if (received < recvBytes) fds[n++] = pollfd{in.fd(), POLLIN, 0};
    if (::poll(fds, n, sliceMs(deadline)) < 0 && errno != EINTR) failErrno("poll while {}", what());
  }
}

long recvAvailable(Socket& socket, void* data, size_t bytes) {
  for (;;) {
    ssize_t n = ::recv(socket.fd(), data, bytes, MSG_DONTWAIT);
    if (n > 0) return n;
    if (n == 0) return bytes == 0 ? 0 : -1;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;
  }
}

bool constantTimeEqual(const void* a, const void* b, size_t bytes) {
  const volatile unsigned char* x = static_cast<const unsigned char*>(a);
  const volatile unsigned char* y = static_cast<const unsigned char*>(b);
  unsigned char diff = 0;
  for (size_t i = 0; i < bytes; ++i) diff |= x[i] ^ y[i];
  return diff == 0;
}

}  // namespace strata
