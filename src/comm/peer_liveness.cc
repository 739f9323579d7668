#include "comm/peer_liveness.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "core/log.h"

namespace strata {
namespace {

// Start time of `pid` in clock ticks since boot, or 0 if it cannot be read.
uint64_t readStartTicks(int32_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p) return 0;
  // After ")" come " 3 4 ...": the space before field k is the (k-2)th; the start time is 22.
  for (int field = 3; field <= 22; ++field) {
    p = std::strchr(p + 1, ' ');
    if (!p) return 0;
  }
  return std::strtoull(p + 1, nullptr, 10);
}

int openPidfd(int32_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
#else
  (void)pid;
  return -1;
#endif
}

}  // namespace

ProcessIdentity ProcessIdentity::self(uint64_t hostHash) {
  ProcessIdentity id;
  id.hostHash = hostHash;
  id.pid = static_cast<int32_t>(getpid());
  id.startTicks = readStartTicks(id.pid);
  return id;
}

void PeerLiveness::watch(const std::vector<ProcessIdentity>& identities, int rank) {
  const ProcessIdentity& me = identities[size_t(rank)];
  for (int r = 0; r < static_cast<int>(identities.size()); ++r) {
    const ProcessIdentity& p = identities[size_t(r)];
    if (r == rank || p.hostHash != me.hostHash || p.startTicks == 0) continue;
    if (p.pid == me.pid && p.startTicks == me.startTicks) continue;  // a thread of this process
    int fd = openPidfd(p.pid);
    if (fd < 0) {
      log(LogLevel::Info, "rank {}: cannot watch rank {} (pid {}): pidfd_open: {}", rank, r, p.pid,
          std::strerror(errno));
      continue;
    }
    // Checked after opening: the pidfd now pins this pid, so a match means the very process.
    if (readStartTicks(p.pid) != p.startTicks) {
      log(LogLevel::Info, "rank {}: pid {} of rank {} is another process here (another pid "
          "namespace?); not watched", rank, p.pid, r);
      ::close(fd);
      continue;
    }
    peers_.push_back(Peer{r, p.pid, fd});
  }
}

PeerLiveness::~PeerLiveness() {
  for (const Peer& p : peers_) ::close(p.pidfd);
}

std::string PeerLiveness::deadAmong(const std::vector<int>& ranks) const {
  if (peers_.empty()) return {};
  // Few ranks per wait (a walker per lane): a stack array avoids allocating per check.
  constexpr size_t kMaxFds = 64;
  pollfd fds[kMaxFds];
  const Peer* which[kMaxFds];
  size_t n = 0;
  for (int r : ranks) {
    // peers_ is in rank order.
    auto it = std::lower_bound(peers_.begin(), peers_.end(), r,
                               [](const Peer& p, int rank) { return p.rank < rank; });
    if (it == peers_.end() || it->rank != r) continue;
    if (n == kMaxFds) break;
    which[n] = &*it;
    fds[n++] = pollfd{it->pidfd, POLLIN, 0};
  }
  if (n == 0 || ::poll(fds, n, 0) <= 0) return {};
  for (size_t i = 0; i < n; ++i)
    if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
      return fmt::format("rank {} (pid {} on this host) has exited", which[i]->rank, which[i]->pid);
  return {};
}

}  // namespace strata
