// A communicator inside the library (the C handle strataComm_t wraps one): the ranks that found each other through the bootstrap, the transports that
// connect them, and the schedules it has planned.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "comm/comm_topology.h"
#include "comm/peer_liveness.h"
#include "core/config.h"
#include "exec/executor.h"
#include "exec/store_mode_tuner.h"
#include "plan/registry.h"
#include "plan/schedule.h"
#include "topology/local_host.h"
#include "transports/shm/shm_transport.h"
#include "transports/transport.h"

namespace strata {

class Comm {
 public:
  // Blocks until every rank has joined and the transports are connected, or throws.
  // abortFlag outlives the communicator's waits (it is owned by the C handle). joinTimeoutSec
  // bounds the wait for every rank to join (0: config.timeoutSec); see kShrinkJoinTimeouts.
  Comm(const strataUniqueId& id, int nranks, int rank, const Config& config,
       const std::atomic<bool>* abortFlag, double joinTimeoutSec = 0);
  ~Comm();

  int rank() const { return rank_; }
  int nranks() const { return nranks_; }
  const Config& config() const { return config_; }
  const std::vector<LocalHostInfo>& peers() const { return peers_; }
  const CommTopology& topology() const { return topology_; }

  void allReduce(const void* sendbuff, void* recvbuff, size_t count, strataDataType_t type,
                 strataRedOp_t op);
  // Any collective. `count` is the collective's full buffer (PlanRequest::count): recvcount *
  // nranks for reduce-scatter, sendcount * nranks for all-gather. The buffers are the user's, as
  // the C API describes them (a window of the full buffer where the collective says so).
  void run(Collective collective, const void* sendbuff, void* recvbuff, size_t count,
           strataDataType_t type, strataRedOp_t op, int root);
  // Whether a device-buffer all-reduce goes GPU to GPU through CUDA IPC (STRATA_CUDA_IPC=1, a
  // CUDA build, every rank on this host, at most 8 ranks). The same answer on every rank.
  bool cudaIpcAllReduceApplies() const;
  // That all-reduce, on device buffers of the current device; kernels on `stream`
  // (cudaStream_t), returning when they are done. Every rank calls it together.
  void cudaIpcAllReduce(const void* send, void* recv, size_t count, strataDataType_t type, strataRedOp_t op,
                        void* stream);
  // "algorithm/transport" of the last collective.
  const std::string& lastAlgorithm() const { return lastAlgorithm_; }

  // The first half of strataCommShrink, collective over the ranks not in `excluded` (which must
  // not call it): agrees on the unique id of their new communicator without the excluded ranks
  // and without the old bootstrap root. The lowest surviving rank starts a new root (fresh
  // secret) and sends its id to every other survivor over this communicator's authenticated
  // bootstrap connections, which need no third rank. The message carries the survivor count and a
  // hash of the survivor list, so ranks that pass different lists fail with strataInvalidUsage
  // instead of joining different communicators. Returns the id; *newRank gets this rank's place
  // among the survivors and *newNranks their number.
  strataUniqueId agreeShrinkId(const std::vector<int>& excluded, int* newRank, int* newNranks);
  // How many collective timeouts the survivors of a shrink wait for each other to join: the
  // first learns of a death at once (a broken connection), the last only when its own
  // collective times out, one timeout later; plus the timeout any setup has.
  static constexpr double kShrinkJoinTimeouts = 2;

 private:
  std::unique_ptr<Transport> connectTransports(const strataUniqueId& id, const std::vector<int>& localRanks);
  // Whether the hosts are joined by UCX (else TCP), as every rank decides it alike.
  bool wantsUcx() const;
  bool everyRankHasRdma() const;
  // Why the collective being waited for cannot complete (empty if it still can): a peer it waits
  // on exited, or a rank of this host gave up on the communicator.
  std::string peerHealth(const std::vector<int>& waited) const;
  const Schedule& schedule(Collective collective, size_t count, strataDataType_t type,
                           strataRedOp_t op, int root);

  int rank_;
  int nranks_;
  Config config_;
  const std::atomic<bool>* abortFlag_;
  std::unique_ptr<Bootstrap> bootstrap_;
  std::vector<LocalHostInfo> peers_;
  std::string shmSegmentPrefix_;  // the shared-memory transport's segment names (constructor)
  bool networkBetweenRanks_ = false;  // TCP or UCX carries some of this communicator's traffic
  bool socketsBetweenHosts_ = false;  // and over sockets (TCP, or UCX without RDMA everywhere)
  PeerLiveness liveness_;  // the processes of this host's other ranks
  CommTopology topology_;
  std::unique_ptr<Transport> transport_;
  ShmTransport* shm_ = nullptr;  // inside transport_: the failure notices of this host's ranks
  std::unique_ptr<Executor> executor_;
  // The CUDA IPC all-reduce and the local group it meets through (the bootstrap), made by the
  // first device all-reduce. Opaque here: the transport's header stays out of this one.
  struct CudaIpcState;
  std::unique_ptr<CudaIpcState> cudaIpc_;
  uint64_t sequence_ = 0;
  SlotStores slotStores_ = SlotStores::Cached;  // when not tuned ("cached" or "streaming")
  bool tuneSlotStores_ = true;
  StoreModeTuner tuner_;
  std::string lastAlgorithmName_;
  std::string lastAlgorithm_;
  // The hosts the planner sees: null on one host, or STRATA_RANKS_PER_HOST's pretend hosts.
  std::shared_ptr<const RankLayout> layout_;

  struct ScheduleKey {
    int collective;
    size_t count;
    int type;
    int op;
    int root;
    bool operator==(const ScheduleKey&) const = default;
  };
  struct ScheduleKeyHash {
    size_t operator()(const ScheduleKey& k) const {
      return std::hash<size_t>()(((k.count * 131 + k.type * 7 + k.op) * 31 + k.collective) * 131071 +
                                 k.root);
    }
  };
  std::unordered_map<ScheduleKey, Schedule, ScheduleKeyHash> schedules_;
  const Schedule* lastSchedule_ = nullptr;
  ScheduleKey lastKey_{-1, ~size_t(0), -1, -1, -1};
};

}  // namespace strata
