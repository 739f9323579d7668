// Bootstrap: how the ranks of a communicator find each other before any transport exists.
//
// strataGetUniqueId() starts a root on the calling process: a listening TCP socket and a thread
// that waits for nranks ranks, checks that each presents the id's random secret, and sends every
// rank the listening addresses of all ranks. The ranks then connect in a ring (rank r to r+1)
// and all later bootstrap collectives run over that ring. Any process may create the id; it
// need not be a rank. Every wait is bounded by the deadline given at construction and checks the
// abort flag; a connection that does not present the secret, or sends a malformed or oversized
// message, is dropped without harming the others.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "strata/strata.h"

namespace strata {

constexpr int kSecretBytes = 32;

// What the opaque strataUniqueId holds. Fits in STRATA_UNIQUE_ID_BYTES.
struct UniqueIdData {
  uint32_t magic;
  uint32_t version;
  sockaddr_in6 rootAddr;  // holds an IPv4 or IPv6 address (see loadAddress)
  uint8_t secret[kSecretBytes];
  uint32_t flags;  // kUniqueIdSingleUse
};

// The id's root serves one communicator and exits (strataGetUniqueId's ids): a process that
// joined or served it already refuses a second init with it (strataInvalidUsage) instead of
// waiting for a root that is gone. Launcher ids (a fixed address and a derived secret, a fresh
// root for every init) do not carry it.
constexpr uint32_t kUniqueIdSingleUse = 1u << 0;
static_assert(sizeof(UniqueIdData) <= STRATA_UNIQUE_ID_BYTES);

// Decodes and validates an id (magic, version, address family); throws strataInvalidArgument.
UniqueIdData decodeUniqueId(const strataUniqueId& id);
strataUniqueId encodeUniqueId(const UniqueIdData& data);

// The id of a root that another process starts at a known address (launcher-style init):
// same magic and version as startBootstrapRoot's ids.
strataUniqueId makeUniqueId(const sockaddr_storage& rootAddr, const uint8_t secret[kSecretBytes],
                            uint32_t flags = 0);

// Starts a root listening on `bindAddr` (nullptr: the interface from STRATA_SOCKET_IFNAME, else
// the first up non-loopback IPv4 interface, else 127.0.0.1) at `port` (0: any). The root thread
// serves exactly one communicator of any size and then exits; it gives up after timeoutSec. It
// is joined, never detached: by the Bootstrap with the same secret in this process, or at exit.
// `secret` may be null (random secret) or kSecretBytes bytes.
strataUniqueId startBootstrapRoot(const char* bindAddr, uint16_t port, double timeoutSec,
                                  const uint8_t* secret = nullptr);

// The same, bound to a concrete address (port 0: any), e.g. where a rank's bootstrap listens.
strataUniqueId startBootstrapRoot(const sockaddr_storage& bindAddr, double timeoutSec);

class Bootstrap {
 public:
  // Connects to the root named by id, registers as `rank` of `nranks`, and joins the ring.
  // All ranks must give the same nranks (a mismatch fails with strataInvalidUsage on all).
  Bootstrap(const strataUniqueId& id, int rank, int nranks, double timeoutSec,
            const std::atomic<bool>* abortFlag);
  ~Bootstrap();
  Bootstrap(const Bootstrap&) = delete;
  Bootstrap& operator=(const Bootstrap&) = delete;

  int rank() const;
  int nranks() const;

  // Joins the root thread that serves this communicator if this process runs it. Call once
  // every rank has its table (after any allGather): the root is then done or closing sockets.
  // Otherwise it ends by itself (its deadline) and is joined by the next root start or at exit.
  void finishLocalRoot();
  // Where this rank's bootstrap listens (an address every rank of the communicator reached).
  sockaddr_storage listenAddress() const;

  // data holds nranks slots of bytesPerRank; this rank's slot (rank * bytesPerRank) is filled.
  // On return every slot is filled. Every rank must pass the same bytesPerRank.
  void allGather(void* data, size_t bytesPerRank);
  void barrier();

  // Point-to-point over bootstrap connections (opened on demand, authenticated with the secret).
  // Messages between a pair arrive in order; sizes must match. Each waits at most timeoutSec
  // (0: the bootstrap's own).
  void send(int peer, const void* data, size_t bytes, double timeoutSec = 0);
  void recv(int peer, void* data, size_t bytes, double timeoutSec = 0);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
