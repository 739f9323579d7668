// Shared-memory transport between processes of one host.
//
// Every rank owns one POSIX shared-memory segment holding a FIFO per local sender: a ring of
// `depth` slots of `slotBytes`, each led by a cache line with the message's sequence number and
// size (and the message itself when it is small), and a tail counter on a line of its own that
// the receiver writes. Segments are created, then every rank maps its peers' segments, then they
// are unlinked, so nothing is left in /dev/shm even if a process dies later.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "transports/transport.h"

namespace strata {

struct ShmOptions {
  std::string segmentPrefix;  // unique per communicator, e.g. "/strata-<hash>"
  int rank = 0;               // communicator rank of this process
  int nranks = 1;
  std::vector<int> localRanks;  // communicator ranks on this host, sorted, including rank
  size_t slotBytes = 0;
  int depth = 0;
};

class ShmTransport final : public Transport {
 public:
  // Creates this rank's segment, calls barrier(), maps the peers' segments, calls barrier()
  // again and unlinks its segment. Every local rank must construct it with the same options.
  ShmTransport(const ShmOptions& options, const std::function<void()>& barrier);
  ~ShmTransport() override;

  const char* name() const override { return "shm"; }
  TransportCaps caps() const override { return {}; }
  SendChannel& sendChannel(int peer) override;
  RecvChannel& recvChannel(int peer) override;

  static size_t segmentBytes(size_t nlocal, size_t slotBytes, int depth);

  // Failure notices between the ranks of a host (docs/reliability.md). A rank whose collective
  // failed (a dead peer, a timeout, an abort) says so once, in its own segment; the others' waits
  // read it and end at once instead of waiting for their deadline on a rank that left.
  void markFailed(uint64_t sequence, const std::string& text);
  // A local peer that marked itself failed (its rank; *sequence and *text: its notice), or -1.
  int failedPeer(uint64_t* sequence, std::string* text) const;

 private:
  struct Mapping;
  class ShmSend;
  class ShmRecv;
  ShmOptions options_;
  std::unique_ptr<Mapping> own_;
  std::vector<std::unique_ptr<Mapping>> peers_;      // by local index
  std::vector<std::unique_ptr<ShmSend>> sends_;      // by communicator rank (null if not local)
  std::vector<std::unique_ptr<ShmRecv>> recvs_;
  struct PeerStatus {
    int rank;
    void* status;  // RankStatus in the peer's segment
  };
  std::vector<PeerStatus> peerStatus_;
  void* ownStatus_ = nullptr;  // RankStatus in our segment
  bool markedFailed_ = false;
};

}  // namespace strata
