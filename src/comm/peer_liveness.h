// Notices when a peer process on this host dies. Shared memory has no connection that could
// break, so a rank waiting on a shared-memory FIFO would otherwise wait for its deadline. Each
// rank opens a pidfd (Linux >= 5.3) for every other process of the communicator on its host; a
// pidfd becomes readable the moment its process exits, whether or not anybody reaps it, and one
// poll() over all of them answers "is everyone alive?" without blocking.
//
// A pid is only trusted together with the process's start time (from /proc/<pid>/stat), so a
// reused pid, or a peer in another pid namespace that shares the host identity, is never watched
// (and never reported dead). Ranks that are threads of this very process are not watched.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace strata {

// Who a rank's process is, as every rank tells the others at init.
struct ProcessIdentity {
  uint64_t hostHash = 0;   // LocalHostInfo::hostHash: equal for ranks that share memory
  int32_t pid = 0;         // getpid() in the rank's own pid namespace
  uint32_t reserved = 0;
  uint64_t startTicks = 0;  // field 22 of /proc/<pid>/stat: with the pid, names one process

  // This process, now (not cached: a fork child is another process than its parent).
  static ProcessIdentity self(uint64_t hostHash);
};

class PeerLiveness {
 public:
  PeerLiveness() = default;  // watches nobody
  ~PeerLiveness();
  // Starts watching the other processes of this host. identities: one per rank of the
  // communicator; rank: this rank. Call once.
  void watch(const std::vector<ProcessIdentity>& identities, int rank);
  PeerLiveness(const PeerLiveness&) = delete;
  PeerLiveness& operator=(const PeerLiveness&) = delete;

  // Empty while the watched ones among `ranks` live; else says which rank (and pid) exited. One
  // poll(). Only the peers a wait needs are asked: a peer that finished its part of a collective
  // may exit while others still finish theirs, and that is no failure.
  std::string deadAmong(const std::vector<int>& ranks) const;
  // Ranks watched (for logs and tests).
  size_t watched() const { return peers_.size(); }

 private:
  struct Peer {
    int rank;
    int32_t pid;
    int pidfd;
  };
  std::vector<Peer> peers_;
};

}  // namespace strata
