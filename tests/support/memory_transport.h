// An in-process transport for tests: ranks are threads, each channel a bounded FIFO of slots
// guarded by a mutex. It lets the executor and every algorithm run with many ranks in one
// process without shared-memory segments or sockets.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "transports/transport.h"

namespace strata::testing {

class MemoryFifo final : public SendChannel, public RecvChannel {
 public:
  MemoryFifo(size_t slotBytes, int depth) : slotBytes_(slotBytes), slots_(depth), sizes_(depth) {
    for (auto& s : slots_) s.resize(slotBytes);
  }
  void* trySlot(size_t) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return head_ - tail_ < slots_.size() ? slots_[head_ % slots_.size()].data() : nullptr;
  }
  void post(size_t bytes) override {
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_[head_ % slots_.size()] = bytes;
    ++head_;
  }
  size_t maxMessageBytes() const override { return slotBytes_; }
  const void* tryPeek(size_t* bytes) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (head_ == tail_) return nullptr;
    *bytes = sizes_[tail_ % slots_.size()];
    return slots_[tail_ % slots_.size()].data();
  }
  void release() override {
    std::lock_guard<std::mutex> lock(mutex_);
    ++tail_;
  }

 private:
  std::mutex mutex_;
  size_t slotBytes_;
  std::vector<std::vector<char>> slots_;
  std::vector<size_t> sizes_;
  size_t head_ = 0, tail_ = 0;
};

// All channels of a world of n ranks; view(rank) is that rank's Transport.
class MemoryWorld {
 public:
  MemoryWorld(int nranks, size_t slotBytes, int depth) : n_(nranks) {
    for (int i = 0; i < n_ * n_; ++i) fifos_.push_back(std::make_unique<MemoryFifo>(slotBytes, depth));
    for (int r = 0; r < n_; ++r) views_.push_back(std::make_unique<View>(this, r));
  }
  Transport& view(int rank) { return *views_[rank]; }

 private:
  class View final : public Transport {
   public:
    View(MemoryWorld* w, int rank) : w_(w), rank_(rank) {}
    const char* name() const override { return "memory"; }
    TransportCaps caps() const override { return {}; }
    SendChannel& sendChannel(int peer) override { return *w_->fifos_[rank_ * w_->n_ + peer]; }
    RecvChannel& recvChannel(int peer) override { return *w_->fifos_[peer * w_->n_ + rank_]; }

   private:
    MemoryWorld* w_;
    int rank_;
  };
  int n_;
  std::vector<std::unique_ptr<MemoryFifo>> fifos_;  // [from * n + to]
  std::vector<std::unique_ptr<View>> views_;
};

}  // namespace strata::testing
