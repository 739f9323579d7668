// One transport made of several: each peer is served by the one the communicator chose for it
// (shared memory inside a host, a network transport between hosts), so the executor sees a
// single transport whatever the mix.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "transports/transport.h"

namespace strata {

class RoutedTransport final : public Transport {
 public:
  // routeOfPeer[r]: index into `transports` of the one serving rank r (-1: none, e.g. itself).
  RoutedTransport(std::vector<std::unique_ptr<Transport>> transports, std::vector<int> routeOfPeer)
      : transports_(std::move(transports)), route_(std::move(routeOfPeer)) {
    for (int r : route_)
      if (r >= 0 && std::find(used_.begin(), used_.end(), r) == used_.end()) used_.push_back(r);
    // In the order of `transports`, so that every rank names the same mix the same way
    // ("shm+tcp"), whichever kind of peer comes first in its rank order.
    std::sort(used_.begin(), used_.end());
    for (int t : used_) name_ += (name_.empty() ? "" : "+") + std::string(transports_[size_t(t)]->name());
    if (name_.empty()) name_ = "none";
  }

  const char* name() const override { return name_.c_str(); }
  TransportCaps caps() const override {
    TransportCaps c{true, true, true};
    for (int t : used_) {
      const TransportCaps o = transports_[size_t(t)]->caps();
      c.zeroCopy = c.zeroCopy && o.zeroCopy;
      c.oneSided = c.oneSided && o.oneSided;
      c.deviceMemory = c.deviceMemory && o.deviceMemory;
    }
    return used_.empty() ? TransportCaps{} : c;
  }
  SendChannel& sendChannel(int peer) override { return serving(peer).sendChannel(peer); }
  RecvChannel& recvChannel(int peer) override { return serving(peer).recvChannel(peer); }
  bool progress() override {
    bool pending = false;
    for (int t : used_) pending = transports_[size_t(t)]->progress() || pending;
    return pending;
  }
  void releaseCallerMemory(const void* from, size_t bytes) override {
    for (int t : used_) transports_[size_t(t)]->releaseCallerMemory(from, bytes);
  }
  // Waits on the first transport that can (one network transport at a time serves a rank).
  bool waitForEvents(int micros) override {
    for (int t : used_)
      if (transports_[size_t(t)]->waitForEvents(micros)) return true;
    return false;
  }
  bool eventDriven(int peer) const override {
    return peer >= 0 && size_t(peer) < route_.size() && route_[size_t(peer)] >= 0 &&
           transports_[size_t(route_[size_t(peer)])]->eventDriven(peer);
  }
  // The name of the transport that serves `peer` ("shm", "tcp"), for messages and strata-bench.
  const char* nameFor(int peer) const {
    return peer >= 0 && size_t(peer) < route_.size() && route_[size_t(peer)] >= 0
               ? transports_[size_t(route_[size_t(peer)])]->name()
               : "none";
  }

 private:
  Transport& serving(int peer) {
    STRATA_CHECK(peer >= 0 && size_t(peer) < route_.size() && route_[size_t(peer)] >= 0, strataInternalError,
                 "no transport serves rank {}", peer);
    return *transports_[size_t(route_[size_t(peer)])];
  }
  std::vector<std::unique_ptr<Transport>> transports_;
  std::vector<int> route_;
  std::vector<int> used_;  // indices of transports that serve some peer
  std::string name_;
};

}  // namespace strata
