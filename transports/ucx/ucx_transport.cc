#include "transports/ucx/ucx_transport.h"

#include <poll.h>

#include <ucp/api/ucp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "core/deadline.h"
#include "core/log.h"
#include "topology/local_host.h"

namespace strata {
namespace {

constexpr int kMaxDepth = 1024;
constexpr int kRankBits = 24;
constexpr int kSeqBits = 39;
// Tag: source rank (24 bits) | control (1 bit) | sequence (39 bits). The sequence wraps after
// 2^39 messages, harmless since at most `depth` are ever outstanding.
constexpr uint64_t kControlBit = uint64_t(1) << kSeqBits;
constexpr uint64_t kSeqMask = kControlBit - 1;
constexpr uint64_t kSenderMask = ~uint64_t(0) << (kSeqBits + 1);
constexpr uint64_t kFullMask = ~uint64_t(0);
constexpr uint64_t kOpen = UINT64_MAX;  // a Control's closedAfter while the sender stays
constexpr size_t kSlotAlign = 4096;     // slot rings are registered: whole pages
constexpr int kProgressRounds = 16;     // ucp_worker_progress calls per tick while events flow
constexpr int kWaitSpins = 20;          // setup and flush waits yield almost at once
constexpr uint32_t kInfoMagic = 0x55435853;  // "UCXS"

ucp_tag_t dataTag(int source, uint64_t seq) { return (uint64_t(source) << (kSeqBits + 1)) | (seq & kSeqMask); }
ucp_tag_t controlTag(int source) { return (uint64_t(source) << (kSeqBits + 1)) | kControlBit; }

size_t roundUp(size_t v, size_t to) { return (v + to - 1) / to * to; }

// What every rank tells the others first. Ranks of one communicator run the same build.
struct Info {
  uint32_t magic;
  int32_t state;  // kReady, kFailed, or kIdle (no peers: UCX not started)
  int32_t depth;
  uint32_t reserved;
  uint64_t slotBytes;
  uint64_t addressBytes;
  char host[64];
  char error[192];
};
constexpr int32_t kReady = 0, kFailed = 1, kIdle = 2;

// The third exchange: whether every endpoint could be created.
struct EndpointStatus {
  int32_t failed;
  char error[188];
};

// Credits and goodbyes: the receiver's released count, and once it closes, how many messages it
// sent (kOpen before). The hello at setup is the first one.
struct Control {
  uint64_t released;
  uint64_t closedAfter;
};

template <size_t N>
void copyText(char (&to)[N], const std::string& from) {
  std::memset(to, 0, N);
  std::memcpy(to, from.data(), std::min(from.size(), N - 1));
}
template <size_t N>
std::string text(const char (&from)[N]) {
  return std::string(from, strnlen(from, N));
}

// UCX's global setup (module loading, memory hooks) is not documented as thread-safe; ranks run
// as threads in tests. Only context and worker creation and destruction take this lock.
std::mutex& ucxGlobalMutex() {
  static std::mutex m;
  return m;
}

std::string hostName() {
  char name[64] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

}  // namespace

// One outstanding UCX request and where its completion goes.
struct UcxTransport::Op {
  enum Kind { DataSend, DataRecv, ControlSend, ControlRecv };
  UcxTransport* t = nullptr;
  Peer* peer = nullptr;
  Kind kind = DataSend;
  void* request = nullptr;  // receives, while posted (to cancel them at the end)
  bool busy = false;        // posted and not completed
  bool done = false;        // a receive that completed and was not consumed yet
  ucs_status_t status = UCS_OK;
  size_t bytes = 0;
  uint64_t seq = 0;
  const char* from = nullptr;  // a data send from the caller's memory (postFrom), while busy
};

namespace {

// One direction's ring of slots, registered with UCX once (ucp_mem_map), so that rendezvous
// transfers use the memory handle instead of registering per message.
struct Slots {
  ucp_context_h context;
  char* base = nullptr;
  size_t stride;
  ucp_mem_h memh = nullptr;
  Slots(ucp_context_h ctx, size_t slotBytes, int depth)
      : context(ctx), stride(roundUp(slotBytes, 64)) {
    const size_t bytes = roundUp(stride * size_t(depth), kSlotAlign);
    base = static_cast<char*>(std::aligned_alloc(kSlotAlign, bytes));
    if (!base) fail(strataSystemError, "cannot allocate {} ucx slots of {} bytes", depth, slotBytes);
    ucp_mem_map_params_t p{};
    p.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH;
    p.address = base;
    p.length = bytes;
    ucs_status_t st = ucp_mem_map(context, &p, &memh);
    if (st != UCS_OK) {
      std::free(base);
      fail(strataSystemError, "ucp_mem_map of {} bytes of slots: {}", bytes, ucs_status_string(st));
    }
  }
  ~Slots() {
    ucp_mem_unmap(context, memh);
    std::free(base);
  }
  Slots(const Slots&) = delete;
  Slots& operator=(const Slots&) = delete;
  char* slot(uint64_t index) const { return base + index * stride; }
};

}  // namespace

struct UcxTransport::Peer {
  int rank = -1;
  std::string name;  // "rank 3 (host-b)"
  ucp_ep_h ep = nullptr;
  Slots sendSlots, recvSlots;
  std::vector<Op> sends, recvs;  // by slot
  Op controlSend, controlRecv;
  Control controlOut{0, kOpen};
  Control controlIn{0, kOpen};
  uint64_t posted = 0;     // messages posted; message k uses slot k % depth
  uint64_t granted;        // messages we may have posted: its released count + depth
  uint64_t released = 0;   // messages received and released
  uint64_t reported = 0;   // our released count it was last told
  uint64_t closedAfter = kOpen;  // from its goodbye: how many messages it sent
  bool hello = false;      // its first control message arrived
  bool creditPending = false;  // a credit waits for the control send in flight
  std::optional<Error> broken;  // its endpoint failed
  std::unique_ptr<UcxSend> send;
  std::unique_ptr<UcxRecv> recv;

  Peer(UcxTransport* t, ucp_context_h ctx, size_t slotBytes, int depth)
      : sendSlots(ctx, slotBytes, depth), recvSlots(ctx, slotBytes, depth), sends(size_t(depth)),
        recvs(size_t(depth)), granted(uint64_t(depth)) {
    for (Op& op : sends) op = Op{t, this, Op::DataSend};
    for (Op& op : recvs) op = Op{t, this, Op::DataRecv};
    controlSend = Op{t, this, Op::ControlSend};
    controlRecv = Op{t, this, Op::ControlRecv};
  }
};

// Called by UCX from inside ucp_worker_progress (C code): they record, never throw.
struct UcxTransport::Callbacks {
  static void sent(void* request, ucs_status_t status, void* user) {
    Op& op = *static_cast<Op*>(user);
    UcxTransport& t = *op.t;
    t.sendDone(op);
    ucp_request_free(request);
    if (status != UCS_OK && status != UCS_ERR_CANCELED) {
      // A lost message fails the transport; a lost credit or goodbye only says that the peer
      // is gone, which a peer that finished may well be.
      if (op.kind == Op::DataSend)
        t.lost(*op.peer, fmt::format("message {} to {} failed: {}", op.seq, op.peer->name,
                                     ucs_status_string(status)));
      else
        t.peerFailed(*op.peer, ucs_status_string(status));
    }
    if (op.kind == Op::ControlSend && op.peer->creditPending) t.creditBlocked_.push_back(op.peer);
  }
  static void received(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                       void* user) {
    Op& op = *static_cast<Op*>(user);
    op.request = nullptr;
    ucp_request_free(request);
    complete(op, status, status == UCS_OK ? info->length : 0);
  }
  static void complete(Op& op, ucs_status_t status, size_t bytes) {
    op.busy = false;
    op.done = true;
    op.status = status;
    op.bytes = bytes;
    if (status == UCS_ERR_CANCELED) return;
    if (status != UCS_OK)
      op.t->lost(*op.peer, fmt::format("receiving {} {} from {} failed: {}",
                                       op.kind == Op::DataRecv ? "message" : "a control message",
                                       op.seq, op.peer->name, ucs_status_string(status)));
    if (op.kind == Op::ControlRecv) op.t->controlArrived_.push_back(op.peer);
  }
  static void discarded(void* request, ucs_status_t, const ucp_tag_recv_info_t*, void*) {
    ucp_request_free(request);
  }
  static void endpointFailed(void* arg, ucp_ep_h, ucs_status_t status) {
    Peer& peer = *static_cast<Peer*>(arg);
    peer.controlSend.t->peerFailed(peer, ucs_status_string(status));
  }
};

class UcxTransport::UcxSend final : public SendChannel {
 public:
  UcxSend(UcxTransport& t, Peer& p) : t_(t), p_(p) {}

  // Runs the worker only when the slot is not free yet: every ucp_worker_progress over TCP is
  // an epoll_wait, and ticking on every call made 116 system calls per 1 MiB all-reduce where
  // MPICH makes 16 (docs/transports.md).
  void* trySlot(size_t bytes) override {
    STRATA_CHECK(bytes <= t_.options_.slotBytes, strataInternalError,
                 "ucx message of {} bytes to {} exceeds the slot size {}", bytes, p_.name,
                 t_.options_.slotBytes);
    if (void* slot = freeSlot()) return slot;
    t_.tick();
    return freeSlot();
  }

  void post(size_t bytes) override { send(nullptr, bytes); }

  bool canPostFrom() const override { return true; }
  void postFrom(const void* data, size_t bytes) override {
    send(static_cast<const char*>(data), bytes);
  }

  size_t maxMessageBytes() const override { return t_.options_.slotBytes; }

 private:
  // Sends the next message from its slot, or from the caller's memory at `from`.
  void send(const char* from, size_t bytes) {
    t_.checkPeer(p_);
    STRATA_CHECK(bytes <= t_.options_.slotBytes, strataInternalError,
                 "ucx message of {} bytes to {} exceeds the slot size {}", bytes, p_.name,
                 t_.options_.slotBytes);
    const uint64_t slot = p_.posted % uint64_t(t_.options_.depth);
    Op& op = p_.sends[slot];
    STRATA_CHECK(!op.busy && p_.posted < p_.granted, strataInternalError,
                 "ucx post to {} without a slot from trySlot", p_.name);
    op.seq = p_.posted;
    op.bytes = bytes;
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    param.cb.send = &Callbacks::sent;
    param.user_data = &op;
    if (from) {
      // Stated, so that UCX does not look the pointer up in its memory-type cache per message.
      param.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMORY_TYPE;
      param.memory_type = UCS_MEMORY_TYPE_HOST;
      op.from = from;
      t_.sendsFromCaller_.push_back(&op);
    } else {
      param.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
      param.memh = p_.sendSlots.memh;
    }
    const void* buffer = from ? static_cast<const void*>(from) : p_.sendSlots.slot(slot);
    t_.startSend(op, [&] {
      return ucp_tag_send_nbx(p_.ep, buffer, bytes, dataTag(t_.options_.rank, p_.posted), &param);
    });
    ++p_.posted;  // ucp_tag_send_nbx sent what the socket took; progress moves the rest
  }

  void* freeSlot() {
    if (t_.failure_) throw *t_.failure_;
    t_.checkPeer(p_);
    if (p_.posted >= p_.granted) return nullptr;  // no credit: the receiver holds `depth`
    const uint64_t slot = p_.posted % uint64_t(t_.options_.depth);
    if (p_.sends[slot].busy) return nullptr;  // its previous message is still being sent
    return p_.sendSlots.slot(slot);
  }

  UcxTransport& t_;
  Peer& p_;
};

class UcxTransport::UcxRecv final : public RecvChannel {
 public:
  UcxRecv(UcxTransport& t, Peer& p) : t_(t), p_(p) {}

  // As trySlot: the worker runs only when the message has not arrived yet.
  const void* tryPeek(size_t* bytes) override {
    if (const void* msg = arrived(bytes)) return msg;
    t_.tick();
    if (const void* msg = arrived(bytes)) return msg;
    // The message it would carry can never come.
    if (p_.released >= p_.closedAfter)
      fail(strataRemoteError, "ucx transport of {} closed after sending {} messages; message {} "
           "can never come", p_.name, p_.closedAfter, p_.released);
    if (p_.broken) throw *p_.broken;
    return nullptr;
  }

  const void* arrived(size_t* bytes) {
    if (t_.failure_) throw *t_.failure_;
    const uint64_t slot = p_.released % uint64_t(t_.options_.depth);
    const Op& op = p_.recvs[slot];
    if (!op.done) return nullptr;
    if (op.status != UCS_OK)
      fail(strataRemoteError, "ucx message {} from {} failed: {}", op.seq, p_.name,
           ucs_status_string(op.status));
    *bytes = op.bytes;
    return p_.recvSlots.slot(slot);
  }

  void release() override {
    const uint64_t depth = uint64_t(t_.options_.depth);
    Op& op = p_.recvs[p_.released % depth];
    STRATA_CHECK(op.done, strataInternalError, "ucx release from {} without a message", p_.name);
    op.done = false;
    ++p_.released;
    // The slot is free again: its next message may come, and the sender may learn it.
    t_.postRecv(p_, p_.released - 1 + depth);
    t_.maybeSendCredit(p_);
  }

 private:
  UcxTransport& t_;
  Peer& p_;
};

UcxTransport::UcxTransport(const UcxOptions& options,
                           const std::function<void(void* data, size_t bytesPerRank)>& allGather)
    : options_(options) {
  const UcxOptions& o = options_;
  STRATA_CHECK(o.nranks >= 1 && o.nranks < (1 << kRankBits) && o.rank >= 0 && o.rank < o.nranks,
               strataInvalidArgument, "ucx transport: rank {} out of range for nranks {}", o.rank,
               o.nranks);
  STRATA_CHECK(o.depth >= 1 && o.depth <= kMaxDepth, strataInvalidArgument,
               "ucx slot depth {} out of range [1, {}]", o.depth, kMaxDepth);
  STRATA_CHECK(o.slotBytes > 0, strataInvalidArgument, "ucx slot size must be positive");
  std::vector<bool> listed(size_t(o.nranks), false);
  for (int p : o.peers) {
    STRATA_CHECK(p >= 0 && p < o.nranks && p != o.rank, strataInvalidArgument,
                 "ucx transport of rank {}: peer {} is itself or out of range for nranks {}",
                 o.rank, p, o.nranks);
    STRATA_CHECK(!listed[size_t(p)], strataInvalidArgument, "ucx transport: peer {} listed twice", p);
    listed[size_t(p)] = true;
  }
  try {
    setup(allGather);
  } catch (...) {
    teardown();
    throw;
  }
}

void UcxTransport::setup(const std::function<void(void* data, size_t bytesPerRank)>& allGather) {
  const UcxOptions& o = options_;
  const size_t n = size_t(o.nranks);

  // 1. This rank's context, worker and address; a failure is told to the others, not thrown yet.
  Info mine{};
  mine.magic = kInfoMagic;
  mine.state = o.peers.empty() ? kIdle : kReady;
  mine.depth = o.depth;
  mine.slotBytes = o.slotBytes;
  copyText(mine.host, hostName());
  std::vector<char> myAddress;
  if (mine.state == kReady) {
    std::string error;
    {
      std::lock_guard<std::mutex> lock(ucxGlobalMutex());
      ucp_config_t* config = nullptr;
      // NULL prefix and file: UCX_* from the environment (UCX_TLS...), never overridden here.
      ucs_status_t st = ucp_config_read(nullptr, nullptr, &config);
      if (st != UCS_OK) {
        error = fmt::format("ucp_config_read: {}", ucs_status_string(st));
      } else {
        // Without RDMA a rendezvous is a handshake round trip per message and buys no zero-copy
        // (UCX's sockets copy either way), while our credits always find the receive posted: whole
        // slots go eager. Where RDMA exists, or UCX_RNDV_THRESH is set, UCX decides.
        if (!std::getenv("UCX_RNDV_THRESH") && localHostInfo().rdmaDevices == 0) {
          const std::string thresh = std::to_string(o.slotBytes + 1);
          if (ucp_config_modify(config, "RNDV_THRESH", thresh.c_str()) != UCS_OK)
            log(LogLevel::Trace, "ucx transport: RNDV_THRESH={} not accepted", thresh);
        }
        // Over sockets, one slot per segment: UCX's TCP moves a message as one send and one
        // receive instead of a train of 8 KiB / 64 KiB pieces (a third of the system calls here,
        // docs/transports.md). Only TCP has these keys; UCX_TCP_* in the environment still wins.
        if (o.socketSegmentBytes > 0) {
          const std::string seg = std::to_string(o.socketSegmentBytes);
          for (const char* key : {"TX_SEG_SIZE", "RX_SEG_SIZE"})
            if (!std::getenv(fmt::format("UCX_TCP_{}", key).c_str()) &&
                ucp_config_modify(config, key, seg.c_str()) != UCS_OK)
              log(LogLevel::Trace, "ucx transport: {}={} not accepted", key, seg);
        }
        ucp_params_t params{};
        params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_TAG_SENDER_MASK |
                            UCP_PARAM_FIELD_MT_WORKERS_SHARED | UCP_PARAM_FIELD_ESTIMATED_NUM_EPS |
                            UCP_PARAM_FIELD_NAME;
        // WAKEUP: a waiting rank sleeps on the worker's descriptor instead of spinning on it.
        params.features = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP;
        params.tag_sender_mask = kSenderMask;
        params.mt_workers_shared = 0;
        params.estimated_num_eps = o.peers.size();
        params.name = "strata";
        st = ucp_init(&params, config, &context_);
        ucp_config_release(config);
        if (st != UCS_OK) error = fmt::format("ucp_init: {}", ucs_status_string(st));
      }
      if (error.empty()) {
        ucp_worker_params_t wp{};
        wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
        wp.thread_mode = UCS_THREAD_MODE_SINGLE;  // one thread uses a transport
        st = ucp_worker_create(context_, &wp, &worker_);
        if (st != UCS_OK) error = fmt::format("ucp_worker_create: {}", ucs_status_string(st));
        else if (ucp_worker_get_efd(worker_, &eventFd_) != UCS_OK) eventFd_ = -1;
      }
      if (error.empty()) {
        ucp_address_t* address = nullptr;
        size_t bytes = 0;
        st = ucp_worker_get_address(worker_, &address, &bytes);
        if (st != UCS_OK) {
          error = fmt::format("ucp_worker_get_address: {}", ucs_status_string(st));
        } else {
          myAddress.assign(reinterpret_cast<const char*>(address), reinterpret_cast<const char*>(address) + bytes);
          ucp_worker_release_address(worker_, address);
        }
      }
    }
    if (!error.empty()) {
      mine.state = kFailed;
      copyText(mine.error, error);
      myAddress.clear();
    }
  }
  mine.addressBytes = myAddress.size();

  std::vector<Info> infos(n);
  infos[size_t(o.rank)] = mine;
  allGather(infos.data(), sizeof(Info));
  size_t widest = 1;
  for (size_t r = 0; r < n; ++r) {
    const Info& in = infos[r];
    STRATA_CHECK(in.magic == kInfoMagic, strataRemoteError,
                 "ucx transport: rank {} published no valid settings", r);
    if (in.state == kFailed)
      throw UcxUnavailable(strataSystemError,
                           fmt::format("ucx transport: UCX cannot start on rank {} ({}): {}", r,
                                       text(in.host), text(in.error)));
    STRATA_CHECK(in.state == kIdle || (in.depth == o.depth && in.slotBytes == o.slotBytes),
                 strataInvalidUsage,
                 "ucx transport: rank {} uses depth {} and slots of {} bytes but rank {} uses {} "
                 "and {}; every rank must use the same",
                 r, in.depth, in.slotBytes, o.rank, o.depth, o.slotBytes);
    widest = std::max<size_t>(widest, in.addressBytes);
  }

  // 2. Worker addresses.
  std::vector<char> addresses(n * widest);
  std::copy(myAddress.begin(), myAddress.end(), addresses.begin() + ptrdiff_t(size_t(o.rank) * widest));
  allGather(addresses.data(), widest);

  // 3. Slots and endpoints, then agree that every rank has them all.
  std::string error;
  for (int p : o.peers) {
    if (infos[size_t(p)].state != kReady || infos[size_t(p)].addressBytes == 0) {
      error = fmt::format("rank {} published no ucx address", p);
      break;
    }
    try {
      auto peer = std::make_unique<Peer>(this, context_, o.slotBytes, o.depth);
      peer->rank = p;
      peer->name = fmt::format("rank {} ({})", p, text(infos[size_t(p)].host));
      ucp_ep_params_t ep{};
      ep.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                      UCP_EP_PARAM_FIELD_ERR_HANDLER;
      ep.address = reinterpret_cast<const ucp_address_t*>(addresses.data() + size_t(p) * widest);
      ep.err_mode = UCP_ERR_HANDLING_MODE_PEER;
      ep.err_handler.cb = &Callbacks::endpointFailed;
      ep.err_handler.arg = peer.get();
      ucs_status_t st = ucp_ep_create(worker_, &ep, &peer->ep);
      if (st != UCS_OK) {
        error = fmt::format("no ucx endpoint to {}: {}", peer->name, ucs_status_string(st));
        break;
      }
      peer->send = std::make_unique<UcxSend>(*this, *peer);
      peer->recv = std::make_unique<UcxRecv>(*this, *peer);
      served_.push_back(peer.get());
      if (peers_.empty()) peers_.resize(n);
      peers_[size_t(p)] = std::move(peer);
    } catch (const Error& e) {
      error = e.what();
      break;
    }
  }
  std::vector<EndpointStatus> statuses(n);
  statuses[size_t(o.rank)].failed = !error.empty();
  copyText(statuses[size_t(o.rank)].error, error);
  allGather(statuses.data(), sizeof(EndpointStatus));
  for (size_t r = 0; r < n; ++r)
    if (statuses[r].failed)
      throw UcxUnavailable(strataSystemError,
                           fmt::format("ucx transport: rank {} ({}) cannot reach its peers: {}", r,
                                       text(infos[r].host), text(statuses[r].error)));
  if (served_.empty()) return;

  // 4. Every receive slot waits for its first message, then the hellos: the one from a peer
  // proves that its endpoint to us works, and that its receives are posted before we send.
  for (Peer* peer : served_) {
    for (int k = 0; k < o.depth; ++k) postRecv(*peer, uint64_t(k));
    postControlRecv(*peer);
  }
  for (Peer* peer : served_) sendControl(*peer, kOpen);
  Deadline deadline(o.timeoutSec);
  Backoff backoff(kWaitSpins);
  for (;;) {
    tick();
    bool all = sendsInFlight_ == 0;
    for (Peer* peer : served_) {
      if (peer->broken) throw *peer->broken;
      all = all && peer->hello;
    }
    if (all) break;
    if (o.abortFlag && o.abortFlag->load(std::memory_order_relaxed))
      fail(strataAborted, "ucx transport of rank {}: aborted while waiting for peers", o.rank);
    if (deadline.expired()) {
      std::string who;
      int listed = 0;
      for (Peer* peer : served_)
        if (!peer->hello && listed++ < 16) who += fmt::format("{}{}", listed > 1 ? ", " : "", peer->name);
      if (who.empty()) who = "its hellos to leave";
      fail(strataTimeout, "ucx transport of rank {}: timed out after {:.3g} s waiting for {}",
           o.rank, deadline.seconds(), who);
    }
    backoff.pause();
  }
}

// Moves whatever UCX can move, then acts on the control messages that arrived. Throws the
// transport's failure, if any.
void UcxTransport::tick() {
  if (worker_) {
    for (int i = 0; i < kProgressRounds && ucp_worker_progress(worker_) != 0; ++i) {
    }
    while (!controlArrived_.empty()) {
      Peer* peer = controlArrived_.back();
      controlArrived_.pop_back();
      handleControl(*peer);
    }
    while (!creditBlocked_.empty()) {
      Peer* peer = creditBlocked_.back();
      creditBlocked_.pop_back();
      if (peer->creditPending && !peer->controlSend.busy) maybeSendCredit(*peer);
    }
  }
  if (failure_) throw *failure_;
}

void UcxTransport::postRecv(Peer& peer, uint64_t seq) {
  Op& op = peer.recvs[seq % uint64_t(options_.depth)];
  op.seq = seq;
  postTagRecv(op, peer.recvSlots.slot(seq % uint64_t(options_.depth)), options_.slotBytes,
              dataTag(peer.rank, seq), peer.recvSlots.memh);
}

void UcxTransport::postControlRecv(Peer& peer) {
  postTagRecv(peer.controlRecv, &peer.controlIn, sizeof(Control), controlTag(peer.rank), nullptr);
}

// Every receive completes through its callback (UCX 1.13 does not report the length of one that
// completes in place), which may run before ucp_tag_recv_nbx returns: then the request is
// already freed and must not be kept.
void UcxTransport::postTagRecv(Op& op, void* buffer, size_t bytes, uint64_t tag, void* memh) {
  op.done = false;
  op.busy = true;
  op.request = nullptr;
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                       UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  param.cb.recv = &Callbacks::received;
  param.user_data = &op;
  if (memh) {
    param.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
    param.memh = static_cast<ucp_mem_h>(memh);
  }
  ucs_status_ptr_t r = ucp_tag_recv_nbx(worker_, buffer, bytes, tag, kFullMask, &param);
  if (UCS_PTR_IS_ERR(r)) {
    op.busy = false;
    fail(strataSystemError, "ucx receive from {}: {}", op.peer->name,
         ucs_status_string(UCS_PTR_STATUS(r)));
  }
  if (UCS_PTR_IS_PTR(r) && op.busy) op.request = r;
}

// A credit (closedAfter = kOpen) or a goodbye (closedAfter = messages sent) to `peer`. The
// caller makes sure that no control send to it is in flight (controlOut is its buffer).
void UcxTransport::sendControl(Peer& peer, uint64_t closedAfter) {
  Op& op = peer.controlSend;
  peer.controlOut = Control{peer.released, closedAfter};
  peer.reported = peer.released;
  peer.creditPending = false;
  op.seq = peer.released;
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.send = &Callbacks::sent;
  param.user_data = &op;
  startSend(op, [&] {
    return ucp_tag_send_nbx(peer.ep, &peer.controlOut, sizeof(Control), controlTag(options_.rank),
                            &param);
  });
}

// Counts the send as in flight before UCX sees it, so that whenever its callback runs it finds
// the count it decrements; a send that completes in place (or fails) is uncounted again.
template <typename Send>
void UcxTransport::startSend(Op& op, Send&& send) {
  op.busy = true;
  ++sendsInFlight_;
  ucs_status_ptr_t r = send();
  if (UCS_PTR_IS_PTR(r)) return;
  sendDone(op);
  if (UCS_PTR_IS_ERR(r))
    fail(strataRemoteError, "ucx {} {} to {}: {}",
         op.kind == Op::DataSend ? "send of message" : "control message", op.seq, op.peer->name,
         ucs_status_string(UCS_PTR_STATUS(r)));
}

// Returns credits once half the window is released: the sender, which may have `depth`
// messages unreleased, then never waits for a credit while messages are owed to it.
void UcxTransport::maybeSendCredit(Peer& peer) {
  if (peer.broken || peer.closedAfter != kOpen) return;
  const uint64_t threshold = std::max<uint64_t>(1, uint64_t(options_.depth) / 2);
  if (peer.released - peer.reported < threshold) return;
  if (peer.controlSend.busy) {
    peer.creditPending = true;  // sent when the one in flight completes
    return;
  }
  sendControl(peer, kOpen);
}

void UcxTransport::handleControl(Peer& peer) {
  Op& op = peer.controlRecv;
  if (!op.done || op.status != UCS_OK) return;
  const Control c = peer.controlIn;
  STRATA_CHECK(op.bytes == sizeof(Control), strataRemoteError,
               "ucx transport: {} sent a control message of {} bytes", peer.name, op.bytes);
  peer.hello = true;
  peer.granted = std::max(peer.granted, c.released + uint64_t(options_.depth));
  if (c.closedAfter != kOpen) {
    peer.closedAfter = c.closedAfter;
    op.done = false;
    return;  // nothing more comes from it
  }
  postControlRecv(peer);
}

// The endpoint to `peer` failed. Only the calls that need it fail (a peer that said goodbye may
// be gone already); a message to it that this loses fails the whole transport (lost()).
void UcxTransport::peerFailed(Peer& peer, const std::string& why) {
  if (peer.broken) return;
  peer.broken = Error(strataRemoteError, fmt::format("ucx endpoint to {} failed: {}", peer.name, why));
  if (peer.closedAfter == kOpen)
    log(LogLevel::Info, "ucx transport of rank {}: {}", options_.rank, peer.broken->what());
}

void UcxTransport::lost(Peer& peer, const std::string& why) {
  if (!failure_) failure_ = Error(strataRemoteError, fmt::format("ucx transport of rank {}: {}", options_.rank, why));
}

void UcxTransport::checkPeer(const Peer& peer) const {
  if (peer.broken) throw *peer.broken;
  if (peer.closedAfter != kOpen)
    fail(strataRemoteError, "ucx transport of {} is closed: nothing more can be sent to it",
         peer.name);
}

SendChannel& UcxTransport::sendChannel(int peer) {
  STRATA_CHECK(peer >= 0 && peer < options_.nranks && !peers_.empty() && peers_[size_t(peer)],
               strataInternalError, "no ucx channel from rank {} to rank {} (not among its peers)",
               options_.rank, peer);
  return *peers_[size_t(peer)]->send;
}

RecvChannel& UcxTransport::recvChannel(int peer) {
  STRATA_CHECK(peer >= 0 && peer < options_.nranks && !peers_.empty() && peers_[size_t(peer)],
               strataInternalError, "no ucx channel to rank {} from rank {} (not among its peers)",
               options_.rank, peer);
  return *peers_[size_t(peer)]->recv;
}

bool UcxTransport::waitForEvents(int micros) {
  if (eventFd_ < 0 || failure_) return false;
  // Busy: something is pending already, and the caller's next poll will find it.
  if (ucp_worker_arm(worker_) != UCS_OK) return true;
  pollfd p{eventFd_, POLLIN, 0};
  timespec timeout{micros / 1000000, (micros % 1000000) * 1000L};
  if (::ppoll(&p, 1, &timeout, nullptr) < 0 && errno != EINTR) failErrno("poll of the ucx worker");
  return true;
}

void UcxTransport::sendDone(Op& op) {
  op.busy = false;
  --sendsInFlight_;
  if (op.from) {
    op.from = nullptr;
    auto it = std::find(sendsFromCaller_.begin(), sendsFromCaller_.end(), &op);
    *it = sendsFromCaller_.back();
    sendsFromCaller_.pop_back();
  }
}

// UCX holds the pointer of a send from the caller's memory until the send completes (an eager
// send once the socket or the NIC has the bytes), so there is nothing to move: wait for the
// overlapping ones. They need only this rank's progress, and the peer's, which every rank
// waiting in a collective makes.
void UcxTransport::releaseCallerMemory(const void* from, size_t bytes) {
  if (sendsFromCaller_.empty() || !worker_) return;
  const auto lo = reinterpret_cast<uintptr_t>(from);
  const uintptr_t hi = from ? lo + bytes : UINTPTR_MAX;
  auto overlapping = [&] {
    for (const Op* op : sendsFromCaller_) {
      const auto at = reinterpret_cast<uintptr_t>(op->from);
      if (at < hi && at + op->bytes > lo) return true;
    }
    return false;
  };
  if (!overlapping()) return;
  Deadline deadline(options_.timeoutSec);
  Backoff backoff(kWaitSpins);
  for (;;) {
    // Not tick(): a failed transport still completes its requests (with an error), and this
    // also runs on the way out of a collective that failed.
    for (int i = 0; i < kProgressRounds && ucp_worker_progress(worker_) != 0; ++i) {
    }
    if (!overlapping()) return;
    // Given up, the sends still hold the memory until they complete or the transport closes.
    // Closing their endpoints by force here was tried: UCX 1.13's TCP then crashed in a later
    // progress when the peer closed too (2026-11-27, docs/transports.md).
    if (options_.abortFlag && options_.abortFlag->load(std::memory_order_relaxed))
      fail(strataAborted, "ucx transport of rank {}: aborted while messages sent from the "
           "caller's buffers were leaving", options_.rank);
    if (deadline.expired())
      fail(strataTimeout, "ucx transport of rank {}: timed out after {:.3g} s waiting for "
           "messages sent from the caller's buffers to leave", options_.rank, deadline.seconds());
    if (!waitForEvents(1000)) backoff.pause();
  }
}

bool UcxTransport::progress() {
  tick();
  return sendsInFlight_ > 0;
}

UcxTransport::~UcxTransport() {
  try {
    flush();
  } catch (const Error& e) {
    log(LogLevel::Warn, "ucx transport of rank {}: messages left unsent at close: {}",
        options_.rank, e.what());
  }
  teardown();
}

// Lets the posted messages leave, says goodbye, and flushes every endpoint, so that nothing this
// rank sent is lost when the endpoints close.
void UcxTransport::flush() {
  if (!worker_ || served_.empty() || failure_) return;
  Deadline deadline(options_.timeoutSec);
  Backoff backoff(kWaitSpins);
  auto waitFor = [&](auto&& ready, const char* what) {
    for (;;) {
      tick();
      if (ready()) return;
      if (options_.abortFlag && options_.abortFlag->load(std::memory_order_relaxed))
        fail(strataAborted, "aborted while waiting for {}", what);
      if (deadline.expired()) fail(strataTimeout, "timed out after {:.3g} s waiting for {}",
                                   deadline.seconds(), what);
      backoff.pause();
    }
  };
  waitFor([&] { return sendsInFlight_ == 0; }, "the posted messages to leave");
  for (Peer* peer : served_)
    if (!peer->broken) sendControl(*peer, peer->posted);
  waitFor([&] { return sendsInFlight_ == 0; }, "the goodbyes to leave");
  std::vector<void*> flushes;
  for (Peer* peer : served_) {
    if (peer->broken) continue;
    ucp_request_param_t param{};
    ucs_status_ptr_t r = ucp_ep_flush_nbx(peer->ep, &param);
    if (UCS_PTR_IS_PTR(r)) flushes.push_back(r);
  }
  auto flushed = [&] {
    for (void*& r : flushes) {
      if (r && ucp_request_check_status(r) != UCS_INPROGRESS) {
        ucp_request_free(r);
        r = nullptr;
      }
    }
    return std::all_of(flushes.begin(), flushes.end(), [](void* r) { return r == nullptr; });
  };
  try {
    waitFor(flushed, "the endpoints to flush");
  } catch (...) {
    for (void* r : flushes)
      if (r) ucp_request_free(r);  // released when it completes (or the worker goes)
    throw;
  }
}

// Releases everything UCX holds, whatever state the setup or the traffic left it in. Never waits
// on a peer: flush() already did what waiting is worth.
void UcxTransport::teardown() {
  std::vector<Control> sink;  // outlives the worker: a discarded receive may complete as it goes
  if (worker_) {
    for (Peer* peer : served_) {
      for (Op& op : peer->recvs)
        if (op.request) ucp_request_cancel(worker_, op.request);
      if (peer->controlRecv.request) ucp_request_cancel(worker_, peer->controlRecv.request);
    }
    std::vector<void*> closing;
    for (Peer* peer : served_) {
      if (!peer->ep) continue;
      ucp_request_param_t param{};
      param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
      param.flags = UCP_EP_CLOSE_FLAG_FORCE;
      ucs_status_ptr_t r = ucp_ep_close_nbx(peer->ep, &param);
      if (UCS_PTR_IS_PTR(r)) closing.push_back(r);
      peer->ep = nullptr;
    }
    // A forced close completes locally; bounded anyway.
    Deadline deadline(std::min(options_.timeoutSec, 5.0));
    Backoff backoff(kWaitSpins);
    for (;;) {
      ucp_worker_progress(worker_);
      bool pending = false;
      for (void*& r : closing) {
        if (r && ucp_request_check_status(r) != UCS_INPROGRESS) {
          ucp_request_free(r);
          r = nullptr;
        }
        pending = pending || r;
      }
      if (!pending || deadline.expired()) break;
      backoff.pause();
    }
    for (void* r : closing)
      if (r) ucp_request_free(r);
    // Control messages that came after the last control receive (a credit from a peer still at
    // work, its goodbye after ours) are taken, so that UCX has no unexpected ones to warn about.
    sink.resize(4 * served_.size() + 16);
    for (Control& into : sink) {
      ucp_tag_recv_info_t info;
      ucp_tag_message_h message = ucp_tag_probe_nb(worker_, kControlBit, kControlBit, 1, &info);
      if (!message) break;
      ucp_request_param_t param{};
      param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK;
      param.cb.recv = &Callbacks::discarded;
      ucp_tag_msg_recv_nbx(worker_, &into, sizeof(Control), message, &param);
    }
  }
  std::lock_guard<std::mutex> lock(ucxGlobalMutex());
  if (worker_) ucp_worker_destroy(worker_);
  worker_ = nullptr;
  served_.clear();
  peers_.clear();  // unmaps the slots: before the context goes
  if (context_) ucp_cleanup(context_);
  context_ = nullptr;
}

}  // namespace strata
