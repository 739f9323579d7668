#include "comm/communicator.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "plan/registry.h"
#include "transports/routed_transport.h"
#include "transports/shm/shm_transport.h"
#include "transports/tcp/tcp_transport.h"
#ifdef STRATA_HAVE_UCX
#include "transports/ucx/ucx_transport.h"
#ifdef STRATA_HAVE_CUDA
#include "transports/cuda_ipc/cuda_ipc_transport.h"
#endif
#endif

namespace strata {
namespace {

// Schedules are cheap to build but cheaper to reuse; bound the cache for programs that use
// many sizes.
constexpr size_t kMaxCachedSchedules = 256;

// Polls before a waiting rank yields its CPU (STRATA_SPIN_COUNT=-1).
constexpr int kDedicatedSpins = 2000;
constexpr int kOversubscribedSpins = 20;

uint64_t hashBytes(const void* data, size_t bytes) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < bytes; ++i) h = (h ^ static_cast<const unsigned char*>(data)[i]) * 1099511628211ull;
  return h;
}

}  // namespace

Comm::Comm(const strataUniqueId& id, int nranks, int rank, const Config& config,
           const std::atomic<bool>* abortFlag, double joinTimeoutSec)
    : rank_(rank), nranks_(nranks), config_(config), abortFlag_(abortFlag) {
  bootstrap_ = std::make_unique<Bootstrap>(id, rank, nranks,
                                           joinTimeoutSec > 0 ? joinTimeoutSec : config.timeoutSec,
                                           abortFlag);

  peers_.resize(nranks);
  peers_[rank] = localHostInfo();
  bootstrap_->allGather(peers_.data(), sizeof(LocalHostInfo));
  // Every rank has its table now (the ring formed): the root, if this process runs it, is done.
  bootstrap_->finishLocalRoot();

  // Which process each rank is, so that a wait on a peer of this host ends when it dies.
  std::vector<ProcessIdentity> identities(static_cast<size_t>(nranks));
  identities[size_t(rank)] = ProcessIdentity::self(peers_[rank].hostHash);
  bootstrap_->allGather(identities.data(), sizeof(ProcessIdentity));
  liveness_.watch(identities, rank);
  // Shared-memory segment names, unique per communicator: the id alone is not, since launcher ids
  // are derived from the root's address and the job (two jobs in separate network namespaces,
  // or containers, that share /dev/shm can have the same one), so rank 0's process (pid and
  // start time on its host) goes in too; every rank knows it now.
  const ProcessIdentity& root = identities[0];
  const uint64_t naming[] = {hashBytes(&id, sizeof(id)), root.hostHash, uint64_t(uint32_t(root.pid)),
                             root.startTicks};
  shmSegmentPrefix_ = fmt::format("/strata-{:016x}", hashBytes(naming, sizeof(naming)));
  log(LogLevel::Info, "rank {}/{}: watching {} peer process(es) of this host", rank, nranks,
      liveness_.watched());

  // Each rank's place (host, GPU, NIC, rail) from its own topology, known to all.
  int localIndex = 0;
  for (int r = 0; r < rank; ++r) localIndex += peers_[r].hostHash == peers_[rank].hostHash;
  std::vector<PlaceInfo> places(nranks);
  places[rank] = localPlace(peers_[rank].hostHash, localIndex);
  bootstrap_->allGather(places.data(), sizeof(PlaceInfo));
  topology_ = CommTopology(std::move(places));
  const std::vector<int>& localRanks = topology_.ranksOnHost(topology_.hostOf(rank));
  STRATA_CHECK(config_.transport != "shm" || topology_.hostCount() == 1, strataInvalidUsage,
               "STRATA_TRANSPORT=shm, but the communicator spans {} hosts: shared memory reaches "
               "the ranks of one host only (use auto, tcp, ucx, shm+tcp or shm+ucx)",
               topology_.hostCount());
  if (topology_.hostCount() > 1) {
    // The real hosts shape the hierarchical schedules.
    std::vector<int> hostOfRank(static_cast<size_t>(nranks));
    for (int r = 0; r < nranks; ++r) hostOfRank[size_t(r)] = topology_.hostOf(r);
    layout_ = std::make_shared<RankLayout>(RankLayout::fromHostOfRank(hostOfRank));
  }

  if (config_.ranksPerHost > 0) {
    STRATA_CHECK(nranks % config_.ranksPerHost == 0, strataInvalidArgument,
                 "ranks per host {} does not divide the {} ranks of the communicator",
                 config_.ranksPerHost, nranks);
    layout_ = std::make_shared<RankLayout>(RankLayout::contiguousHosts(nranks, config_.ranksPerHost));
  }

  if (config_.spinCount < 0) {
    // With more ranks than CPUs, the peer a rank waits for may need this very CPU: spinning
    // only delays it, so yield almost at once.
    cpu_set_t cpus;
    int online = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
    config_.spinCount = static_cast<int>(localRanks.size()) > online ? kOversubscribedSpins : kDedicatedSpins;
  }

  // The same on every rank: the hosts, the setting and every rank's devices are known to all.
  const bool network = nranks > 1 && (config_.transport == "tcp" || config_.transport == "ucx" ||
                                      topology_.hostCount() > 1);
  networkBetweenRanks_ = network;
  socketsBetweenHosts_ = network && (!wantsUcx() || !everyRankHasRdma());
  if (config_.chunkBytes == 0)
    config_.chunkBytes = static_cast<int64_t>(automaticChunkBytes(socketsBetweenHosts_));
  transport_ = connectTransports(id, localRanks);
  executor_ = std::make_unique<Executor>(
      *transport_, config_, abortFlag_,
      [this](const std::vector<int>& waited) { return peerHealth(waited); });
  slotStores_ = config_.slotStores == "streaming" ? SlotStores::Streaming : SlotStores::Cached;
  tuneSlotStores_ = config_.slotStores == "auto";
  log(LogLevel::Info, "rank {}/{} ready on {}, {} local ranks, transport {}", rank, nranks,
      describe(peers_[rank]), localRanks.size(), transport_->name());
  if (rank == 0) log(LogLevel::Info, "{}", topology_.describe());
}

// Shared memory to the ranks of this host and a network transport to the others, or the network
// transport to all (STRATA_TRANSPORT=tcp or ucx). "auto" and "shm" take UCX between hosts where
// the build has it, else TCP; in "auto" a UCX that no rank can start falls back to TCP (every
// rank learns it alike, so all fall back together). The constructors are collective over the
// communicator, so every rank builds each transport that any rank needs, with its own (possibly
// empty) set of peers.
bool Comm::wantsUcx() const {
  const std::string& mode = config_.transport;
#ifdef STRATA_HAVE_UCX
  const bool haveUcx = true;
#else
  const bool haveUcx = false;
#endif
  // In auto, UCX only where every rank has an RDMA device: over plain sockets our own TCP
  // transport is the faster (UCX's TCP path moves about half as much here, docs/transports.md),
  // and UCX earns its place with InfiniBand and RoCE. Every rank sees every rank's count
  // (peers_), so all choose alike.
  return mode == "ucx" || mode == "shm+ucx" ||
         ((mode == "auto" || mode == "shm") && haveUcx && everyRankHasRdma());
}

bool Comm::everyRankHasRdma() const {
  if (const char* force = std::getenv("STRATA_TEST_ASSUME_RDMA"); force && *force == '1') return true;
  for (const LocalHostInfo& p : peers_)
    if (p.rdmaDevices == 0) return false;
  return true;
}

std::unique_ptr<Transport> Comm::connectTransports(const strataUniqueId& id, const std::vector<int>& localRanks) {
  const std::string& mode = config_.transport;
  const bool allNetwork = mode == "tcp" || mode == "ucx";
  bool ucx = wantsUcx();
  std::vector<std::unique_ptr<Transport>> transports;
  std::vector<int> route(size_t(nranks_), -1);

  ShmOptions shm;
  shm.segmentPrefix = shmSegmentPrefix_;
  shm.rank = rank_;
  shm.nranks = nranks_;
  shm.localRanks = allNetwork ? std::vector<int>{rank_} : localRanks;
  shm.slotBytes = static_cast<size_t>(config_.chunkBytes);
  shm.depth = config_.fifoDepth;
  auto shmTransport = std::make_unique<ShmTransport>(shm, [this] { bootstrap_->barrier(); });
  shm_ = shmTransport.get();
  transports.push_back(std::move(shmTransport));
  for (int r : shm.localRanks)
    if (r != rank_) route[size_t(r)] = 0;

  if (nranks_ > 1 && (allNetwork || topology_.hostCount() > 1)) {
    std::vector<int> peers;
    for (int r = 0; r < nranks_; ++r)
      if (r != rank_ && route[size_t(r)] < 0) peers.push_back(r);
    auto allGather = [this](void* d, size_t bytesPerRank) { bootstrap_->allGather(d, bytesPerRank); };
#ifdef STRATA_HAVE_UCX
    if (ucx) {
      UcxOptions o;
      o.rank = rank_;
      o.nranks = nranks_;
      o.peers = peers;
      o.slotBytes = static_cast<size_t>(config_.chunkBytes);
      o.depth = config_.fifoDepth;
      o.timeoutSec = config_.timeoutSec;
      o.abortFlag = abortFlag_;
      // A segment is a buffer per endpoint and direction: a slot's worth, up to 1 MiB (a larger
      // STRATA_CHUNK_BYTES then travels in pieces rather than in buffers of its size per peer).
      if (!everyRankHasRdma()) o.socketSegmentBytes = std::min<size_t>(o.slotBytes, 1 << 20);
      try {
        transports.push_back(std::make_unique<UcxTransport>(o, allGather));
      } catch (const UcxUnavailable& e) {
        if (mode != "auto") throw;
        log(LogLevel::Warn, "rank {}: UCX is unavailable, so TCP connects the hosts: {}", rank_, e.what());
        ucx = false;
        socketsBetweenHosts_ = true;  // on every rank alike (the chunk stays as chosen)
      }
    }
#endif
    if (!ucx) {
      TcpOptions tcp;
      tcp.rank = rank_;
      tcp.nranks = nranks_;
      tcp.peers = peers;
      tcp.slotBytes = static_cast<size_t>(config_.chunkBytes);
      tcp.depth = config_.fifoDepth;
      tcp.streams = config_.tcpStreams;
      tcp.timeoutSec = config_.timeoutSec;
      tcp.abortFlag = abortFlag_;
      const UniqueIdData data = decodeUniqueId(id);
      std::copy(std::begin(data.secret), std::end(data.secret), tcp.secret.begin());
      transports.push_back(std::make_unique<TcpTransport>(tcp, allGather));
    }
    for (int r : peers) route[size_t(r)] = 1;
  }
  return std::make_unique<RoutedTransport>(std::move(transports), std::move(route));
}

#ifdef STRATA_HAVE_CUDA
// The communicator's ranks as the CUDA IPC all-reduce's local group (they share this host):
// exchanges and meetings go through the bootstrap's connections.
class BootstrapLocalGroup : public LocalGroup {
 public:
  explicit BootstrapLocalGroup(Bootstrap& bootstrap) : bootstrap_(bootstrap) {}
  int rank() const override { return bootstrap_.rank(); }
  int size() const override { return bootstrap_.nranks(); }
  void allGather(const void* mine, size_t bytes, void* all) override {
    std::memcpy(static_cast<char*>(all) + static_cast<size_t>(rank()) * bytes, mine, bytes);
    bootstrap_.allGather(all, bytes);
  }
  void barrier() override { bootstrap_.barrier(); }

 private:
  Bootstrap& bootstrap_;
};

struct Comm::CudaIpcState {
  BootstrapLocalGroup group;
  CudaIpcAllReduce allReduce;
  explicit CudaIpcState(Bootstrap& bootstrap) : group(bootstrap), allReduce(group) {}
};
#else
struct Comm::CudaIpcState {};
#endif

Comm::~Comm() = default;

std::string Comm::peerHealth(const std::vector<int>& waited) const {
  std::string dead = liveness_.deadAmong(waited);
  if (!dead.empty()) return dead;
  uint64_t sequence = 0;
  std::string why;
  const int failed = shm_->failedPeer(&sequence, &why);
  if (failed < 0) return {};
  return fmt::format("rank {} gave up on collective #{} ({})", failed, sequence, why);
}

strataUniqueId Comm::agreeShrinkId(const std::vector<int>& excluded, int* newRank,
                                   int* newNranks) {
  std::vector<bool> out(size_t(nranks_), false);
  for (int r : excluded) {
    STRATA_CHECK(r >= 0 && r < nranks_, strataInvalidArgument,
                 "excluded rank {} is out of range [0, {})", r, nranks_);
    out[size_t(r)] = true;
  }
  STRATA_CHECK(!out[size_t(rank_)], strataInvalidUsage,
               "rank {} is in the excluded list of its own shrink", rank_);
  std::vector<int> survivors;
  for (int r = 0; r < nranks_; ++r)
    if (!out[size_t(r)]) survivors.push_back(r);
  *newNranks = static_cast<int>(survivors.size());
  *newRank = static_cast<int>(std::find(survivors.begin(), survivors.end(), rank_) - survivors.begin());

  struct ShrinkOffer {
    strataUniqueId id;
    int32_t survivors;
    uint32_t reserved;
    uint64_t survivorHash;
  } offer{};
  const uint64_t hash = hashBytes(survivors.data(), survivors.size() * sizeof(int));
  const int leader = survivors.front();
  const double joinSec = kShrinkJoinTimeouts * config_.timeoutSec;
  if (rank_ == leader) {
    // The new root listens where this rank's bootstrap listens: every survivor reached that.
    offer.id = startBootstrapRoot(bootstrap_->listenAddress(), joinSec);
    offer.survivors = *newNranks;
    offer.survivorHash = hash;
    for (int r : survivors)
      if (r != rank_) bootstrap_->send(r, &offer, sizeof(offer), joinSec);
  } else {
    bootstrap_->recv(leader, &offer, sizeof(offer), joinSec);
    STRATA_CHECK(offer.survivors == *newNranks && offer.survivorHash == hash, strataInvalidUsage,
                 "shrink: rank {} excludes other ranks than rank {} (the lowest survivor, which "
                 "keeps {} ranks where rank {} keeps {}): every survivor must pass the same list",
                 rank_, leader, offer.survivors, rank_, *newNranks);
  }
  log(LogLevel::Info, "rank {}/{}: shrink to {} ranks, new rank {}, new root at rank {}", rank_,
      nranks_, *newNranks, *newRank, leader);
  return offer.id;
}

bool Comm::cudaIpcAllReduceApplies() const {
#ifdef STRATA_HAVE_CUDA
  return config_.cudaIpc == 1 && nranks_ <= 8 &&
         static_cast<int>(topology_.ranksOnHost(topology_.hostOf(rank_)).size()) == nranks_;
#else
  return false;
#endif
}

void Comm::cudaIpcAllReduce(const void* send, void* recv, size_t count, strataDataType_t type, strataRedOp_t op,
                            void* stream) {
#ifdef STRATA_HAVE_CUDA
  ++sequence_;
  lastAlgorithm_ = "cuda-ipc-reduce-scatter-gather/cuda_ipc";
  try {
    if (!cudaIpc_) cudaIpc_ = std::make_unique<CudaIpcState>(*bootstrap_);
    cudaIpc_->allReduce.allReduce(send, recv, count, type, op, stream);
  } catch (const Error&) {
    throw;
  } catch (const std::runtime_error& e) {
    fail(strataUnhandledCudaError, "all-reduce #{} through CUDA IPC: {}", sequence_, e.what());
  }
#else
  fail(strataInternalError, "CUDA IPC all-reduce in a build without CUDA");
#endif
}

const Schedule& Comm::schedule(Collective collective, size_t count, strataDataType_t type,
                               strataRedOp_t op, int root) {
  ScheduleKey key{int(collective), count, type, op, root};
  if (lastSchedule_ && key == lastKey_) return *lastSchedule_;
  auto it = schedules_.find(key);
  if (it == schedules_.end()) {
    if (schedules_.size() >= kMaxCachedSchedules) {
      schedules_.clear();
      lastSchedule_ = nullptr;
    }
    PlanRequest req;
    req.collective = collective;
    req.rank = rank_;
    req.nranks = nranks_;
    req.root = root;
    req.count = count;
    req.type = type;
    req.op = op;
    req.elemBytes = strataTypeSize(type);
    req.messageBytes = static_cast<size_t>(config_.chunkBytes);
    req.oneShotMaxBytes = static_cast<size_t>(config_.oneShotMaxBytes);
    req.networkSendsFromBuffers = networkBetweenRanks_;  // TCP and UCX both can
    req.layout = layout_;
    // A buffer that spills the caches moves at memory speed: the model says which regime.
    const CostModel& host = CostModel::defaultHost();
    if (host.cacheBytes != 0 && req.bytes() > host.cacheBytes)
      req.cost = std::make_shared<CostModel>(host.forWorkingSet(req.bytes()));
    const AlgorithmInfo& algo = selectAlgorithm(req, config_.algorithm);
    it = schedules_.emplace(key, algo.build(req)).first;
    log(LogLevel::Trace, "planned {}", it->second.describe());
  }
  lastKey_ = key;
  lastSchedule_ = &it->second;
  return it->second;
}

void Comm::allReduce(const void* sendbuff, void* recvbuff, size_t count,
                             strataDataType_t type, strataRedOp_t op) {
  run(Collective::AllReduce, sendbuff, recvbuff, count, type, op, 0);
}

void Comm::run(Collective collective, const void* sendbuff, void* recvbuff, size_t count,
               strataDataType_t type, strataRedOp_t op, int root) {
  const Schedule& s = schedule(collective, count, type, op, root);
  ++sequence_;
  // One line per collective at STRATA_DEBUG=INFO: comparing the ranks' lines for one sequence
  // number finds a rank that called another collective, count, type, op or root.
  log(LogLevel::Info, "rank {}/{}: {} #{} count {} {} op {} root {} algorithm {}", rank_, nranks_,
      s.collective, sequence_, count, strataTypeName(type), strataOpName(op), root, s.algorithm);
  const size_t bytes = count * s.elemBytes;
  // The slot-store tuner learns all-reduce's sizes; the other collectives use the fixed choice
  // (or cached stores when it is "auto") rather than mix their timings into its table.
  try {
    if (collective != Collective::AllReduce || !tuneSlotStores_ ||
        bytes < StoreModeTuner::kMinTunedBytes) {
      executor_->run(s, sendbuff, recvbuff, sequence_, slotStores_ == SlotStores::Streaming);
    } else {
      const SlotStores stores = tuner_.choose(bytes);
      const auto start = std::chrono::steady_clock::now();
      executor_->run(s, sendbuff, recvbuff, sequence_, stores == SlotStores::Streaming);
      tuner_.record(bytes, stores, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  } catch (const Error& e) {
    // The ranks of this host waiting on this one learn it at their next health check, rather
    // than at their deadline (the communicator is broken for all of them either way).
    shm_->markFailed(sequence_, fmt::format("rank {}: {}", rank_, e.what()));
    throw;
  }
  if (lastAlgorithmName_ != s.algorithm) {
    lastAlgorithmName_ = s.algorithm;
    lastAlgorithm_ = s.algorithm + "/" + transport_->name();
  }
}

}  // namespace strata
