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

// Each slot starts with a cache line that carries the message's signal: its sequence number
// (written last, with release) and size. A message of up to kInlineBytes is written into that
// same line, so a small message reaches the receiver as one cache-line transfer; a larger one
// goes into the slot's body, which starts on the next line.
struct SlotLine {
  static constexpr size_t kInlineBytes = 48;
  unsigned char inlineData[kInlineBytes];
  uint64_t bytes;
  std::atomic<uint64_t> sequence;  // 1 + the message's index on this channel; 0: never written
};
static_assert(sizeof(SlotLine) == kCacheLine, "the signal must fill exactly one line");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared counters must be lock-free");

// The receiver's progress, on a page of its own: the sender reads it only when the FIFO looks full.
struct FifoHeader {
  alignas(kCacheLine) std::atomic<uint64_t> tail;  // messages released
};

// A rank's failure notice, in the header page of the one FIFO of its own segment that carries no
// messages (the FIFO "from itself"), which every local peer has mapped. Written once: the text,
// then failedSequence with release.
struct RankStatus {
  static constexpr size_t kTextBytes = 2048;
  alignas(kCacheLine) std::atomic<uint64_t> failedSequence;  // 0: healthy; else the collective
  uint32_t textBytes;
  char text[kTextBytes];
};
static_assert(kCacheLine + sizeof(RankStatus) <= kPage, "the status must fit the header page");

RankStatus* statusIn(char* fifo) { return reinterpret_cast<RankStatus*>(fifo + kCacheLine); }

size_t slotStride(size_t slotBytes) { return kCacheLine + slotBytes; }

size_t fifoBytes(size_t slotBytes, int depth) {
  return roundUp(sizeof(FifoHeader), kPage) + roundUp(slotStride(slotBytes) * depth, kPage);
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

// What both ends of one FIFO see of it.
class FifoView {
 public:
  FifoView(char* fifo, size_t slotBytes, int depth)
      : header_(reinterpret_cast<FifoHeader*>(fifo)),
        slots_(fifo + roundUp(sizeof(FifoHeader), kPage)),
        stride_(slotStride(slotBytes)),
        depth_(depth) {}
  SlotLine* line(uint64_t index) const {
    return reinterpret_cast<SlotLine*>(slots_ + (index % depth_) * stride_);
  }
  static char* payload(SlotLine* line, size_t bytes) {
    return bytes <= SlotLine::kInlineBytes ? reinterpret_cast<char*>(line->inlineData)
                                           : reinterpret_cast<char*>(line) + kCacheLine;
  }

 protected:
  FifoHeader* header_;
  char* slots_;
  size_t stride_;
  uint64_t depth_;
};

class ShmTransport::ShmSend final : public SendChannel, FifoView {
 public:
  ShmSend(char* fifo, size_t slotBytes, int depth) : FifoView(fifo, slotBytes, depth), slotBytes_(slotBytes) {}

  void* trySlot(size_t bytes) override {
    if (head_ - tailSeen_ >= depth_) {
      // Read the receiver's line only when our cached view says the FIFO is full.
      tailSeen_ = header_->tail.load(std::memory_order_acquire);
      if (head_ - tailSeen_ >= depth_) return nullptr;
    }
    return payload(line(head_), bytes);
  }
  void post(size_t bytes) override {
    SlotLine* l = line(head_);
    l->bytes = bytes;
    ++head_;
    l->sequence.store(head_, std::memory_order_release);
  }
  size_t maxMessageBytes() const override { return slotBytes_; }

 private:
  size_t slotBytes_;
  uint64_t head_ = 0;  // messages posted
  uint64_t tailSeen_ = 0;
};

class ShmTransport::ShmRecv final : public RecvChannel, FifoView {
 public:
  ShmRecv(char* fifo, size_t slotBytes, int depth) : FifoView(fifo, slotBytes, depth) {}

  const void* tryPeek(size_t* bytes) override {
    SlotLine* l = line(tail_);
    if (l->sequence.load(std::memory_order_acquire) != tail_ + 1) return nullptr;
    *bytes = l->bytes;
    return payload(l, *bytes);
  }
  void release() override {
    ++tail_;
    header_->tail.store(tail_, std::memory_order_release);
  }

 private:
  uint64_t tail_ = 0;  // messages released
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
    peerStatus_.push_back(PeerStatus{peer, statusIn(m->fifo(j, options.slotBytes, options.depth))});
    peers_[j] = std::move(m);
  }
  ownStatus_ = statusIn(own_->fifo(size_t(myIndex), options.slotBytes, options.depth));

  barrier();  // every peer has mapped our segment: the name is no longer needed
  shm_unlink(own_->name.c_str());
  own_->linked = false;
}

ShmTransport::~ShmTransport() = default;

void ShmTransport::markFailed(uint64_t sequence, const std::string& text) {
  if (markedFailed_ || !ownStatus_) return;
  markedFailed_ = true;
  auto* status = static_cast<RankStatus*>(ownStatus_);
  const size_t n = std::min(text.size(), RankStatus::kTextBytes);
  std::memcpy(status->text, text.data(), n);
  status->textBytes = static_cast<uint32_t>(n);
  status->failedSequence.store(sequence, std::memory_order_release);
}

int ShmTransport::failedPeer(uint64_t* sequence, std::string* text) const {
  for (const PeerStatus& p : peerStatus_) {
    auto* status = static_cast<const RankStatus*>(p.status);
    const uint64_t seq = status->failedSequence.load(std::memory_order_acquire);
    if (seq == 0) continue;
    *sequence = seq;
    text->assign(status->text, std::min<size_t>(status->textBytes, RankStatus::kTextBytes));
    return p.rank;
  }
  return -1;
}

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
