// The shared-memory FIFO between two ranks: order, sizes, back-pressure when full, wrap-around,
// and no segment left behind in /dev/shm.
#include <gtest/gtest.h>

#include <dirent.h>
#include <unistd.h>

#include <barrier>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "transports/shm/shm_transport.h"

namespace strata {
namespace {

bool segmentsExist(const std::string& prefix) {
  DIR* d = opendir("/dev/shm");
  if (!d) return false;
  bool found = false;
  while (dirent* e = readdir(d))
    if (("/" + std::string(e->d_name)).rfind(prefix, 0) == 0) found = true;
  closedir(d);
  return found;
}

TEST(ShmTransport, OrderedMessagesWithBackPressureAndWrapAround) {
  const std::string prefix = "/strata-test-" + std::to_string(getpid());
  const int depth = 3;
  const size_t slot = 256;
  std::barrier sync(2);
  auto barrier = [&] { sync.arrive_and_wait(); };
  const int kMessages = 1000;
  std::thread receiver([&] {
    ShmOptions o{prefix, 1, 2, {0, 1}, slot, depth};
    ShmTransport t(o, barrier);
    sync.arrive_and_wait();  // both constructed
    RecvChannel& in = t.recvChannel(0);
    sync.arrive_and_wait();  // sender filled the FIFO
    for (int m = 0; m < kMessages; ++m) {
      size_t bytes = 0;
      const void* p;
      while (!(p = in.tryPeek(&bytes))) std::this_thread::yield();
      ASSERT_EQ(bytes, size_t(m % 200 + 1));
      const unsigned char* c = static_cast<const unsigned char*>(p);
      for (size_t i = 0; i < bytes; ++i) ASSERT_EQ(c[i], (m + i) & 0xff) << m;
      // Peeking again returns the same message until release.
      size_t again = 0;
      ASSERT_EQ(in.tryPeek(&again), p);
      in.release();
    }
  });
  {
    ShmOptions o{prefix, 0, 2, {0, 1}, slot, depth};
    ShmTransport t(o, barrier);
    sync.arrive_and_wait();  // both constructed
    EXPECT_FALSE(segmentsExist(prefix)) << "segments must be unlinked once mapped";
    SendChannel& out = t.sendChannel(1);
    EXPECT_EQ(out.maxMessageBytes(), slot);
    for (int m = 0; m < kMessages; ++m) {
      void* p;
      size_t bytes = m % 200 + 1;
      while (!(p = out.trySlot(bytes))) std::this_thread::yield();
      for (size_t i = 0; i < bytes; ++i) static_cast<unsigned char*>(p)[i] = (m + i) & 0xff;
      out.post(bytes);
      if (m == depth - 1) {
        EXPECT_EQ(out.trySlot(1), nullptr) << "a full FIFO must refuse another slot";
        sync.arrive_and_wait();
      }
    }
    receiver.join();
  }
}

TEST(ShmTransport, NoChannelToSelfOrOtherHosts) {
  const std::string prefix = "/strata-test-self-" + std::to_string(getpid());
  ShmOptions o{prefix, 0, 3, {0}, 4096, 2};
  ShmTransport t(o, [] {});
  EXPECT_THROW(t.sendChannel(0), Error);
  EXPECT_THROW(t.recvChannel(2), Error);
  EXPECT_THROW(t.sendChannel(7), Error);
}

}  // namespace
}  // namespace strata
