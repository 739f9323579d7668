// PeerLiveness: how a rank notices that a process of its host died (docs/reliability.md).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "comm/peer_liveness.h"

namespace strata {
namespace {

constexpr uint64_t kHost = 0x1234;

// A child that reports its identity through a pipe and then sleeps until killed.
struct Child {
  pid_t pid = -1;
  ProcessIdentity identity;
  Child() {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
      ProcessIdentity me = ProcessIdentity::self(kHost);
      if (write(fds[1], &me, sizeof(me)) != sizeof(me)) _exit(1);
      for (;;) pause();
    }
    close(fds[1]);
    EXPECT_EQ(read(fds[0], &identity, sizeof(identity)), ssize_t(sizeof(identity)));
    close(fds[0]);
  }
  ~Child() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

TEST(PeerLiveness, SeesAKilledPeerBeforeAnybodyReapsIt) {
  Child child;
  ASSERT_GT(child.pid, 0);
  EXPECT_NE(child.identity.startTicks, 0u);
  PeerLiveness liveness;
  liveness.watch({ProcessIdentity::self(kHost), child.identity}, 0);
  ASSERT_EQ(liveness.watched(), 1u);
  EXPECT_EQ(liveness.deadAmong({1}), "");
  kill(child.pid, SIGKILL);  // not reaped: a zombie until waitpid below
  std::string dead;
  const auto t0 = std::chrono::steady_clock::now();
  while (dead.empty() && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)) {
    dead = liveness.deadAmong({1});
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_NE(dead.find("rank 1"), std::string::npos) << dead;
  EXPECT_NE(dead.find(std::to_string(child.pid)), std::string::npos) << dead;
  // Only the ranks asked about count: a dead peer that a wait does not need is no failure.
  EXPECT_EQ(liveness.deadAmong({0}), "");
  EXPECT_EQ(liveness.deadAmong({}), "");
}

TEST(PeerLiveness, WatchesOnlyProcessesItCanTrust) {
  Child child;
  ASSERT_GT(child.pid, 0);
  const ProcessIdentity me = ProcessIdentity::self(kHost);
  ProcessIdentity reused = child.identity;
  reused.startTicks += 1;  // same pid, another process (a reused pid, another pid namespace)
  ProcessIdentity elsewhere = child.identity;
  elsewhere.hostHash = kHost + 1;  // another host: its pid means nothing here
  ProcessIdentity sameProcess = me;  // ranks that are threads of one process
  PeerLiveness liveness;
  liveness.watch({me, reused, elsewhere, sameProcess}, 0);
  EXPECT_EQ(liveness.watched(), 0u);
  kill(child.pid, SIGKILL);
  EXPECT_EQ(liveness.deadAmong({1, 2, 3}), "");
}

}  // namespace
}  // namespace strata
