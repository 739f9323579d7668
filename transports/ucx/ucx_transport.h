// UCX transport between ranks on any hosts: InfiniBand, RoCE or TCP, whatever UCX finds
// (UCX_TLS and the other UCX_* variables are read, never overridden). Endpoints use
// UCP_ERR_HANDLING_MODE_PEER, with which UCX 1.13 leaves out its shared-memory transports (they
// cannot report a peer's failure): inside a host, Strata's own shared memory is the transport.
//
// Data path: tagged messages. Each receive slot has a receive pre-posted into it
// (ucp_tag_recv_nbx with tag = (source rank, sequence) and a full mask), and post() hands the
// send slot itself to ucp_tag_send_nbx; postFrom() hands it the caller's memory, which UCX holds
// until the send completes (releaseCallerMemory waits for that). Over sockets the communicator
// asks for TCP segments of one slot (socketSegmentBytes), so that a message is one socket call
// rather than a train of 8 KiB pieces. Why tags, and not the alternatives:
//  - the receiver's slot ring is the destination of every message, so UCX picks eager for small
//    messages and rendezvous (zero-copy get/put from the slot, on IB straight from the
//    registered slot memory) for large ones by itself; active messages would land small
//    messages in UCX's buffers and need a copy into the slot or a second request per message;
//  - RMA put with packed rkeys would need a put, a fence and a flag write per message plus the
//    receiver polling memory that UCX's TCP and shared-memory paths only emulate; tags cost one
//    operation per message on every transport;
//  - exact tags put every message in its place whatever order UCX delivers them in (several
//    lanes, eager and rendezvous mixed), so the order per (sender, receiver) holds by
//    construction.
//
// Flow control: credits. A sender may have at most `depth` messages its receiver has not yet
// released: the receiver returns its released count in a 16-byte control message (tagged apart)
// once half its window is released. So every data message finds its receive pre-posted, UCX's
// unexpected queue never holds data, and a receiver that stops releasing stops its sender after
// `depth` messages. (Synchronous sends would give the bound without credits, but UCX refuses
// them with UCP_ERR_HANDLING_MODE_PEER, which peer-failure reporting needs.)
//
// Progress: one UCP context and one worker (UCS_THREAD_MODE_SINGLE) per transport; progress(),
// and a trySlot or tryPeek whose slot or message is not ready, run ucp_worker_progress, so a
// rank that waits on one peer moves its traffic with all the others (a call that finds what it
// asks for does not: over TCP each progress is a system call). progress() is true while a send
// has not completed (a rendezvous needs the sender's progress until the receiver has the data).
//
// Setup and errors: the ranks exchange their status, settings and worker addresses through
// allGather, create endpoints with UCP_ERR_HANDLING_MODE_PEER, agree on whether every endpoint
// could be created, then send each peer a hello and wait for every peer's (bounded by timeoutSec:
// strataTimeout naming the missing ranks; the abort flag: strataAborted). A failure to set UCX up
// that all ranks see alike is UcxUnavailable, so that a communicator can fall back to TCP
// consistently. A peer whose endpoint fails (the process died, the link broke) is
// strataRemoteError naming its rank, from then on for every call that needs it, and for every
// call once a message to it was lost. A peer that closes sends a goodbye carrying how many
// messages it sent, so the calls that need more from it fail the same way, without waiting for
// UCX to notice. The destructor waits for its sends and goodbyes (bounded by timeoutSec and the
// abort flag), then closes every endpoint.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "transports/transport.h"

// UCX's handle types, declared as ucp_def.h does; ucp.h itself stays inside ucx_transport.cc.
typedef struct ucp_context* ucp_context_h;
typedef struct ucp_worker* ucp_worker_h;

namespace strata {

struct UcxOptions {
  int rank = 0;  // communicator rank of this process
  int nranks = 1;
  std::vector<int> peers;  // remote ranks this transport serves; must be symmetric across ranks
  size_t slotBytes = 0;    // largest message
  int depth = 0;           // send slots and receive slots per peer
  double timeoutSec = 300;  // bound on the setup (and on the flush at destruction)
  // Where UCX runs over sockets: the size of its TCP send and receive segments (UCX_TCP_TX_SEG_SIZE
  // and RX_SEG_SIZE, unless set), the same on every rank; a buffer per endpoint and direction.
  // 0: UCX's defaults.
  size_t socketSegmentBytes = 0;
  const std::atomic<bool>* abortFlag = nullptr;
};

// UCX cannot be used by some rank (no context, no worker, no transport that reaches a peer),
// and every rank of the setup knows it. Thrown by the constructor on every rank alike.
class UcxUnavailable : public Error {
 public:
  using Error::Error;
};

class UcxTransport final : public Transport {
 public:
  // Creates the context and worker, calls allGather(data, bytesPerRank) three times (status and
  // settings, worker addresses, endpoint status; every rank fills its slot at rank *
  // bytesPerRank, and on return all slots are filled), then exchanges hellos with every peer.
  // Every rank of the communicator must construct it (allGather is collective) with the same
  // slotBytes and depth; a rank without peers takes part in the exchange only. Throws
  // UcxUnavailable, strataInvalidUsage (settings differ), strataTimeout, strataAborted or
  // strataRemoteError.
  UcxTransport(const UcxOptions& options,
               const std::function<void(void* data, size_t bytesPerRank)>& allGather);
  // Waits for the posted messages to leave and says goodbye to the peers (bounded by timeoutSec
  // and the abort flag), then closes the endpoints and the worker.
  ~UcxTransport() override;

  const char* name() const override { return "ucx"; }
  TransportCaps caps() const override { return {}; }
  SendChannel& sendChannel(int peer) override;
  RecvChannel& recvChannel(int peer) override;
  // Runs the worker; true while some send has not completed. Throws the transport's failure.
  bool progress() override;
  // Arms the worker and polls its event descriptor: data, credits and completions wake it.
  bool waitForEvents(int micros) override;
  bool eventDriven(int) const override { return eventFd_ >= 0; }
  // Waits (bounded by timeoutSec and the abort flag) for the sends from the caller's memory that
  // overlap the range to complete: UCX, not Strata, holds their bytes. If they cannot (timeout,
  // abort), it throws, and those sends keep the memory until they complete or the transport is
  // destroyed.
  void releaseCallerMemory(const void* from, size_t bytes) override;

  struct Peer;
  struct Op;
  struct Callbacks;  // UCX's completion and error callbacks (they only record; UCX calls C code)

 private:
  class UcxSend;
  class UcxRecv;

  void setup(const std::function<void(void* data, size_t bytesPerRank)>& allGather);
  void tick();  // ucp_worker_progress, then the control messages it completed
  void postRecv(Peer& peer, uint64_t seq);
  void postControlRecv(Peer& peer);
  void postTagRecv(Op& op, void* buffer, size_t bytes, uint64_t tag, void* memh);
  void sendControl(Peer& peer, uint64_t closedAfter);
  template <typename Send>
  void startSend(Op& op, Send&& send);
  void sendDone(Op& op);
  void maybeSendCredit(Peer& peer);
  void handleControl(Peer& peer);
  void peerFailed(Peer& peer, const std::string& why);
  void lost(Peer& peer, const std::string& why);
  void checkPeer(const Peer& peer) const;
  void flush();
  void teardown();

  UcxOptions options_;
  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  int eventFd_ = -1;  // the worker's wake-up descriptor (UCP_FEATURE_WAKEUP), -1 if it has none
  std::vector<std::unique_ptr<Peer>> peers_;  // by communicator rank (null if not served)
  std::vector<Peer*> served_;                 // the non-null ones
  std::vector<Peer*> controlArrived_;         // control receives completed since the last tick
  std::vector<Peer*> creditBlocked_;          // credits to send once their control send is done
  uint64_t sendsInFlight_ = 0;                // data and control sends not yet completed
  std::vector<Op*> sendsFromCaller_;          // of them, data sends from the caller's memory
  std::optional<Error> failure_;              // sticky: a message was lost
};

}  // namespace strata
