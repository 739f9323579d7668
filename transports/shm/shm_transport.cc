#include "transports/shm/shm_transport.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "core/error.h"

namespace strata {
namespace {

constexpr size_t kCacheLine = 64;
constexpr size_t kPage = 4096;
constexpr int kMaxDepth = 64;

size_t roundUp(size_t v, size_t to) { return (v + to - 1) / to * to; }

// Head and tail each get a cache line of their own so that the sender's and the receiver's
// writes never share a line; sizes sit beside head because the sender writes them together.
struct FifoHeader {
  alignas(kCacheLine) std::atomic<uint64_t> head;  // messages posted (sender writes)
  uint64_t sizes[kMaxDepth];                       // bytes of each slot's message (sender writes)
  alignas(kCacheLine) std::atomic<uint64_t> tail;  // messages released (receiver writes)
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared counters must be lock-free");

size_t fifoBytes(size_t slotBytes, int depth) {
  return roundUp(sizeof(FifoHeader), kPage) + slotBytes * depth;
}

}  // namespace

size_t ShmTransport::segmentBytes(size_t nlocal, size_t slotBytes, int depth) {
  return nlocal * fifoBytes(slotBytes, depth);
}

struct ShmTransport::Mapping {
  std::string name;
  void* base = MAP_FAILED;
  size_t bytes = 0;
  bool linked = false;
  ~Mapping() {
    if (base != MAP_FAILED) munmap(base, bytes);
    if (linked) shm_unlink(name.c_str());
  }
  char* fifo(size_t index, size_t slotBytes, int depth) const {
    return static_cast<char*>(base) + index * fifoBytes(slotBytes, depth);
  }
};

class ShmTransport::ShmSend final : public SendChannel {
 public:
  ShmSend(char* fifo, size_t slotBytes, int depth)
      : header_(reinterpret_cast<FifoHeader*>(fifo)),
        slots_(fifo + roundUp(sizeof(FifoHeader), kPage)),
        slotBytes_(slotBytes),
        depth_(depth),
        head_(header_->head.load(std::memory_order_relaxed)) {}

  void* trySlot() override {
    if (head_ - tailSeen_ >= static_cast<uint64_t>(depth_)) {
      // Re-read the receiver's line only when our cached view says the FIFO is full.
      tailSeen_ = header_->tail.load(std::memory_order_acquire);
      if (head_ - tailSeen_ >= static_cast<uint64_t>(depth_)) return nullptr;
    }
    return slots_ + (head_ % depth_) * slotBytes_;
  }
  void post(size_t bytes) override {
    header_->sizes[head_ % depth_] = bytes;
    ++head_;
    header_->head.store(head_, std::memory_order_release);
  }
  size_t maxMessageBytes() const override { return slotBytes_; }

 private:
  FifoHeader* header_;
  char* slots_;
  size_t slotBytes_;
  int depth_;
  uint64_t head_;
  uint64_t tailSeen_ = 0;
};

class ShmTransport::ShmRecv final : public RecvChannel {
 public:
  ShmRecv(char* fifo, size_t slotBytes, int depth)
      : header_(reinterpret_cast<FifoHeader*>(fifo)),
        slots_(fifo + roundUp(sizeof(FifoHeader), kPage)),
        slotBytes_(slotBytes),
        depth_(depth),
        tail_(header_->tail.load(std::memory_order_relaxed)) {}

  const void* tryPeek(size_t* bytes) override {
    if (headSeen_ == tail_) {
      headSeen_ = header_->head.load(std::memory_order_acquire);
      if (headSeen_ == tail_) return nullptr;
    }
    *bytes = header_->sizes[tail_ % depth_];
    return slots_ + (tail_ % depth_) * slotBytes_;
  }
  void release() override {
    ++tail_;
    header_->tail.store(tail_, std::memory_order_release);
  }

 private:
  FifoHeader* header_;
  const char* slots_;
  size_t slotBytes_;
  int depth_;
  uint64_t tail_;
  uint64_t headSeen_ = 0;
};

ShmTransport::ShmTransport(const ShmOptions& options, const std::function<void()>& barrier)
    : options_(options) {
  STRATA_CHECK(options.depth >= 1 && options.depth <= kMaxDepth, strataInvalidArgument,
               "shm FIFO depth {} out of range [1, {}]", options.depth, kMaxDepth);
  STRATA_CHECK(options.slotBytes % kCacheLine == 0 && options.slotBytes > 0, strataInvalidArgument,
               "shm slot size {} must be a positive multiple of {}", options.slotBytes, kCacheLine);
  const auto& local = options.localRanks;
  const size_t nlocal = local.size();
  auto myIndex = std::find(local.begin(), local.end(), options.rank) - local.begin();
  STRATA_CHECK(static_cast<size_t>(myIndex) < nlocal, strataInternalError,
               "rank {} missing from its own host's rank list", options.rank);
  auto segmentName = [&](int rank) { return fmt::format("{}-{}", options.segmentPrefix, rank); };
  const size_t bytes = segmentBytes(nlocal, options.slotBytes, options.depth);

  // Pages are allocated on first touch, so a FIFO that no schedule uses costs no memory.
  own_ = std::make_unique<Mapping>();
  own_->name = segmentName(options.rank);
  own_->bytes = bytes;
  int fd = shm_open(own_->name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) failErrno("shm_open({}) for the shared-memory transport", own_->name);
  own_->linked = true;
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    close(fd);
    failErrno("ftruncate of {} to {} bytes (is /dev/shm large enough?)", own_->name, bytes);
  }
  own_->base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (own_->base == MAP_FAILED) failErrno("mmap of {} ({} bytes)", own_->name, bytes);

  barrier();  // every local segment exists

  sends_.resize(options.nranks);
  recvs_.resize(options.nranks);
  peers_.resize(nlocal);
  for (size_t j = 0; j < nlocal; ++j) {
    int peer = local[j];
    if (peer == options.rank) continue;
    auto m = std::make_unique<Mapping>();
    m->name = segmentName(peer);
    m->bytes = bytes;
    int pfd = shm_open(m->name.c_str(), O_RDWR, 0600);
    if (pfd < 0) failErrno("shm_open({}) of rank {}'s segment", m->name, peer);
    m->base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
    close(pfd);
    if (m->base == MAP_FAILED) failErrno("mmap of rank {}'s segment {}", peer, m->name);
    // Our FIFO into peer's segment sits at our local index; peer's FIFO into ours at its index.
    sends_[peer] = std::make_unique<ShmSend>(m->fifo(myIndex, options.slotBytes, options.depth),
                                             options.slotBytes, options.depth);
    recvs_[peer] = std::make_unique<ShmRecv>(own_->fifo(j, options.slotBytes, options.depth),
                                             options.slotBytes, options.depth);
    peers_[j] = std::move(m);
  }

  barrier();  // every peer has mapped our segment: the name is no longer needed
  shm_unlink(own_->name.c_str());
  own_->linked = false;
}

ShmTransport::~ShmTransport() = default;

SendChannel& ShmTransport::sendChannel(int peer) {
  STRATA_CHECK(peer >= 0 && peer < options_.nranks && sends_[peer], strataInternalError,
               "no shared-memory channel from rank {} to rank {} (not on this host?)",
               options_.rank, peer);
  return *sends_[peer];
}

RecvChannel& ShmTransport::recvChannel(int peer) {
  STRATA_CHECK(peer >= 0 && peer < options_.nranks && recvs_[peer], strataInternalError,
               "no shared-memory channel to rank {} from rank {} (not on this host?)",
               options_.rank, peer);
  return *recvs_[peer];
}

}  // namespace strata
