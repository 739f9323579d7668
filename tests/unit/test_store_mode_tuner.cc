// The slot-store tuner keeps the faster mode per size class, explores rarely, and follows a
// host that changes its mind.
#include <gtest/gtest.h>

#include "exec/store_mode_tuner.h"

namespace strata {
namespace {

// Runs `calls` collectives of `bytes` where cached stores take cachedSec and streaming
// streamingSec; returns how many used streaming.
int drive(StoreModeTuner& t, size_t bytes, int calls, double cachedSec, double streamingSec) {
  int streaming = 0;
  for (int i = 0; i < calls; ++i) {
    SlotStores m = t.choose(bytes);
    streaming += m == SlotStores::Streaming;
    t.record(bytes, m, m == SlotStores::Streaming ? streamingSec : cachedSec);
  }
  return streaming;
}

TEST(StoreModeTuner, SmallCollectivesAlwaysUseCachedStores) {
  StoreModeTuner t;
  EXPECT_EQ(drive(t, 4096, 1000, 1.0, 0.001), 0);
}

TEST(StoreModeTuner, KeepsTheFasterModeAndExploresRarely) {
  StoreModeTuner t;
  const int calls = 4096;
  int s = drive(t, 1 << 20, calls, 5e-4, 1e-4);  // streaming 5x faster
  EXPECT_GT(s, calls - calls / 100);
  StoreModeTuner u;
  int c = drive(u, 1 << 20, calls, 1e-4, 5e-4);  // cached 5x faster
  EXPECT_LT(c, calls / 100);
  EXPECT_GT(c, 0) << "it must still try the other mode now and then";
}

TEST(StoreModeTuner, FollowsAChangeOfTheHost) {
  StoreModeTuner t;
  drive(t, 8 << 20, 2000, 1e-3, 5e-3);                   // cached wins
  int s = drive(t, 8 << 20, 4000, 5e-3, 1e-3);           // now streaming wins
  EXPECT_GT(s, 3000);
}

TEST(StoreModeTuner, SizeClassesAreIndependent) {
  StoreModeTuner t;
  drive(t, 1 << 20, 1000, 5e-4, 1e-4);
  EXPECT_LT(drive(t, 64 << 20, 1000, 1e-4, 5e-4), 20);
}

}  // namespace
}  // namespace strata
