// TCP transport between ranks on any hosts.
//
// Every pair of ranks shares `streams` TCP connections, opened by the lower rank and used in both
// directions. Message k from one rank to another travels on stream k % streams, so each stream
// carries its share in order and the receiver restores the order by construction; a pipeline of
// large messages keeps several streams busy at once. Each message is a 16-byte header (sequence
// number, size) and the payload.
//
// Memory is bounded: per peer, `depth` send slots and `depth` receive slots of `slotBytes`. A
// send slot stays in flight until all its bytes are written to the kernel; a message is read
// from the socket only into a free receive slot, so a receiver that stops releasing stops the
// sender through TCP's own flow control. There is no thread: every trySlot/post/tryPeek (and
// progress()) moves whatever can move on all of this transport's connections without waiting,
// so a rank waiting on one peer still drains its queued bytes to the others. One thread at a time
// uses a transport, as with the other transports.
//
// A connection that breaks while data is owed on it (bytes queued, a message cut short, a reset)
// fails the whole transport with strataRemoteError naming the peer's rank and address; a clean
// close at a message boundary fails only the calls that need that peer, since a peer that is
// done with us may finish first. Other failed calls are strataSystemError.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "core/error.h"
#include "transports/transport.h"

namespace strata {

class Deadline;
class Socket;

struct TcpOptions {
  int rank = 0;        // communicator rank of this process
  int nranks = 1;
  std::vector<int> peers;  // remote ranks this transport serves; must be symmetric across ranks
  size_t slotBytes = 0;    // largest message
  int depth = 0;           // send slots and receive slots per peer
  int streams = 2;         // TCP connections per peer
  std::string ifname;      // interface to listen on; empty: STRATA_SOCKET_IFNAME or the default
  double timeoutSec = 300;  // bound on connection setup (and on the flush at destruction)
  const std::atomic<bool>* abortFlag = nullptr;
  std::array<uint8_t, kSecretBytes> secret{};  // every connection's hello must carry it
};

// What travels on the connections, and the check of what a peer sends, apart from the sockets
// (for tests that forge frames, and the fuzzer). Ranks of one build: host layout.
namespace tcpwire {

// The first bytes on every connection, from the connecting (lower) rank.
struct Hello {
  uint32_t magic;
  uint32_t version;
  uint8_t secret[kSecretBytes];
  int32_t rank;
  int32_t stream;
  int32_t streams;
  int32_t depth;
  uint64_t slotBytes;
};
Hello makeHello(const TcpOptions& options, int stream);

// Before every message.
struct WireHeader {
  uint64_t sequence;  // index of the message from this sender to this receiver
  uint64_t bytes;
};
// Empty when `header` is the message expected next on its stream and fits a slot; else what is
// wrong with it.
std::string headerProblem(const WireHeader& header, uint64_t expectedSequence, size_t slotBytes);

}  // namespace tcpwire

class TcpTransport final : public Transport {
 public:
  // Listens, calls allGather(data, bytesPerRank) once to exchange listening addresses (every
  // rank fills its slot at rank * bytesPerRank; on return all slots are filled), connects to the
  // higher peers and accepts the lower ones. Every rank of the communicator must construct it
  // (allGather is collective), with the same slotBytes, depth and streams. Throws strataTimeout
  // or strataAborted when the setup does not complete in time.
  TcpTransport(const TcpOptions& options,
               const std::function<void(void* data, size_t bytesPerRank)>& allGather);
  // Tries to hand the bytes still queued to the kernel (bounded by timeoutSec and the abort
  // flag), then closes every connection.
  ~TcpTransport() override;

  const char* name() const override { return "tcp"; }
  TransportCaps caps() const override { return {}; }
  SendChannel& sendChannel(int peer) override;
  RecvChannel& recvChannel(int peer) override;
  // While some posted message is not yet fully written to the kernel, moves what can move on
  // every connection without waiting; true while some remains. Throws the transport's failure,
  // if any.
  bool progress() override;
  void releaseCallerMemory(const void* from, size_t bytes) override;
  // poll() on the connections that progress() would serve: data or room on any of them.
  bool waitForEvents(int micros) override;
  bool eventDriven(int) const override { return true; }

 private:
  struct Stream;
  struct Peer;
  class TcpSend;
  class TcpRecv;

  void acceptAll(const Socket& listener, const Deadline& deadline);
  void broken(Peer& peer, Stream& stream, strataResult_t code, const std::string& text, bool owed);
  void sendOn(Peer& peer, Stream& stream);
  void recvOn(Peer& peer, Stream& stream);
  void flush();
  // Fills pollFds_ with what each connection waits for; false if none waits for anything.
  bool armPoll();

  TcpOptions options_;
  std::vector<std::unique_ptr<Peer>> peers_;  // by communicator rank (null if not served)
  std::vector<pollfd> pollFds_;         // one per stream, in peer-then-stream order
  std::vector<std::pair<Peer*, int>> pollOwners_;
  uint64_t unsent_ = 0;  // posted messages not yet wholly handed to the kernel
  uint64_t unsentFromCaller_ = 0;  // of those, the ones whose bytes are the caller's (postFrom)
  std::optional<Error> failure_;  // sticky: once a connection broke while data was owed
};

}  // namespace strata
