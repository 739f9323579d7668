// Chooses, per message-size class, how a rank writes transport slots: ordinary (cached) stores
// or non-temporal (streaming) stores. Which is faster depends on the host and can change while a
// job runs: on this project's VMs a line written by one core and read by the other moves
// cache-to-cache fast on some boots and several times slower than a trip through memory on
// others. So each rank measures its own collectives and keeps the faster mode per size class,
// trying the other one every kExploreEvery calls to notice a change. The choice is local: it
// changes no message, so ranks need not agree.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace strata {

enum class SlotStores : uint8_t { Cached = 0, Streaming = 1 };

class StoreModeTuner {
 public:
  // Collectives smaller than this always use cached stores: they fit in cache and the per-message
  // streaming threshold would skip them anyway.
  static constexpr size_t kMinTunedBytes = 64 << 10;
  static constexpr uint32_t kExploreEvery = 256;  // a wrong try costs <= 2 % at a 5x gap

  SlotStores choose(size_t bytes) {
    if (bytes < kMinTunedBytes) return SlotStores::Cached;
    Bucket& b = buckets_[bucketOf(bytes)];
    ++b.calls;
    for (int m = 0; m < 2; ++m)
      if (b.samples[m] < kWarmSamples) return SlotStores(m);  // measure both first
    SlotStores best = b.secondsPerByte[1] < b.secondsPerByte[0] ? SlotStores::Streaming : SlotStores::Cached;
    if (b.calls % kExploreEvery == 0) return best == SlotStores::Cached ? SlotStores::Streaming : SlotStores::Cached;
    return best;
  }

  void record(size_t bytes, SlotStores mode, double seconds) {
    if (bytes < kMinTunedBytes) return;
    Bucket& b = buckets_[bucketOf(bytes)];
    const int m = static_cast<int>(mode);
    const double perByte = seconds / static_cast<double>(bytes);
    // A moving average that follows a change of the host within a few samples.
    b.secondsPerByte[m] = b.samples[m] == 0 ? perByte : 0.7 * b.secondsPerByte[m] + 0.3 * perByte;
    ++b.samples[m];
  }

 private:
  static constexpr uint32_t kWarmSamples = 1;
  struct Bucket {
    double secondsPerByte[2] = {0, 0};
    uint32_t samples[2] = {0, 0};
    uint32_t calls = 0;
  };
  static size_t bucketOf(size_t bytes) { return 63 - __builtin_clzll(bytes | 1); }
  std::array<Bucket, 64> buckets_{};
};

}  // namespace strata
