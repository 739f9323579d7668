// A client of the simple PMI-1 wire protocol that MPICH's hydra (mpiexec) serves on the socket
// it passes as PMI_FD. Every message is one line of space-separated key=value words:
//   cmd=init pmi_version=1 pmi_subversion=1   -> cmd=response_to_init ... rc=0
//   cmd=get_maxes                             -> cmd=maxes kvsname_max=.. keylen_max=.. vallen_max=..
//   cmd=get_my_kvsname                        -> cmd=my_kvsname kvsname=..
//   cmd=put kvsname=.. key=.. value=..        -> cmd=put_result rc=0
//   cmd=barrier_in                            -> cmd=barrier_out (once every process is in)
//   cmd=get kvsname=.. key=..                 -> cmd=get_result rc=0 value=..
//   cmd=finalize                              -> cmd=finalize_ack
// Written from the protocol's description; values must not contain spaces (ours are hex).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>

#include "comm/launcher.h"
#include "core/deadline.h"
#include "core/error.h"

namespace strata {
namespace {

class Pmi1Kvs final : public LauncherKvs {
 public:
  Pmi1Kvs(int fd, double timeoutSec, const EnvLookup& env) : fd_(fd), timeoutSec_(timeoutSec) {
    auto init = request("cmd=init pmi_version=1 pmi_subversion=1", "response_to_init");
    STRATA_CHECK(field(init, "pmi_version") == "1", strataSystemError,
                 "PMI-1: the launcher answered init with version {}", field(init, "pmi_version"));
    initialised_ = true;
    auto maxes = request("cmd=get_maxes", "maxes");
    keyMax_ = std::atoi(field(maxes, "keylen_max").c_str());
    valueMax_ = std::atoi(field(maxes, "vallen_max").c_str());
    kvsName_ = field(request("cmd=get_my_kvsname", "my_kvsname"), "kvsname");
    STRATA_CHECK(!kvsName_.empty(), strataSystemError, "PMI-1: the launcher gave no kvsname");
    // Rank and size are also what hydra put in the environment; PMI-1 has no query for them
    // that every server answers alike.
    auto number = [&](const char* name) {
      const char* v = env(name);
      return v && *v ? std::atoi(v) : -1;
    };
    rank_ = number("PMI_RANK");
    size_ = number("PMI_SIZE");
    localRank_ = number("MPI_LOCALRANKID");
  }
  ~Pmi1Kvs() override {
    try {
      finalize();
    } catch (const Error&) {
      // Already failing (or the launcher is gone); the error that brought us here says why.
    }
  }

  const char* name() const override { return "PMI-1"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int localRank() const override { return localRank_; }

  void put(const std::string& key, const std::string& value) override {
    checkLengths(key, value);
    request(fmt::format("cmd=put kvsname={} key={} value={}", kvsName_, key, value), "put_result");
  }

  void fence() override { request("cmd=barrier_in", "barrier_out"); }

  std::string get(int /*rank: PMI-1 keys are job-wide*/, const std::string& key) override {
    checkLengths(key, "");
    return field(request(fmt::format("cmd=get kvsname={} key={}", kvsName_, key), "get_result"), "value");
  }

  void finalize() override {
    if (!initialised_) return;
    initialised_ = false;
    request("cmd=finalize", "finalize_ack");
  }

 private:
  using Fields = std::map<std::string, std::string>;

  static std::string field(const Fields& f, const std::string& key) {
    auto it = f.find(key);
    return it == f.end() ? std::string() : it->second;
  }

  void checkLengths(const std::string& key, const std::string& value) const {
    STRATA_CHECK(keyMax_ <= 0 || static_cast<int>(key.size()) <= keyMax_, strataInternalError,
                 "PMI-1: key '{}' is longer than the launcher's {}", key, keyMax_);
    STRATA_CHECK(valueMax_ <= 0 || static_cast<int>(value.size()) <= valueMax_, strataInternalError,
                 "PMI-1: a value of {} characters is longer than the launcher's {}", value.size(), valueMax_);
  }

  // Sends one command line and reads one reply line, under the timeout; the reply must be
  // cmd=`expect` with rc 0 (when it carries rc).
  Fields request(const std::string& line, const char* expect) {
    Deadline deadline(timeoutSec_);
    const std::string out = line + "\n";
    size_t sent = 0;
    while (sent < out.size()) {
      wait(POLLOUT, deadline, line);
      // send(): a launcher that went away must fail this call, not raise SIGPIPE.
      ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == ENOTSOCK) n = ::write(fd_, out.data() + sent, out.size() - sent);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) failErrno("PMI-1: writing '{}' to PMI_FD {}", line, fd_);
      sent += static_cast<size_t>(n);
    }
    size_t eol;
    while ((eol = buffer_.find('\n')) == std::string::npos) {
      STRATA_CHECK(buffer_.size() < 65536, strataSystemError, "PMI-1: reply to '{}' has no end of line", line);
      wait(POLLIN, deadline, line);
      char chunk[1024];
      ssize_t n = ::read(fd_, chunk, sizeof(chunk));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) failErrno("PMI-1: reading the reply to '{}' from PMI_FD {}", line, fd_);
      STRATA_CHECK(n > 0, strataRemoteError, "PMI-1: the launcher closed PMI_FD {} before replying to '{}'",
                   fd_, line);
      buffer_.append(chunk, static_cast<size_t>(n));
    }
    const std::string reply = buffer_.substr(0, eol);
    buffer_.erase(0, eol + 1);
    Fields f;
    size_t pos = 0;
    while (pos < reply.size()) {
      size_t end = reply.find(' ', pos);
      if (end == std::string::npos) end = reply.size();
      const std::string word = reply.substr(pos, end - pos);
      const size_t eq = word.find('=');
      if (eq != std::string::npos) f[word.substr(0, eq)] = word.substr(eq + 1);
      pos = end + 1;
    }
    STRATA_CHECK(field(f, "cmd") == expect, strataSystemError, "PMI-1: '{}' got the reply '{}', not cmd={}",
                 line, reply, expect);
    STRATA_CHECK(!f.count("rc") || f["rc"] == "0", strataSystemError, "PMI-1: '{}' failed: {}", line, reply);
    return f;
  }

  void wait(short events, const Deadline& deadline, const std::string& line) {
    for (;;) {
      pollfd p{fd_, events, 0};
      int r = ::poll(&p, 1, deadline.msLeft());
      if (r > 0) return;
      if (r < 0 && errno != EINTR) failErrno("PMI-1: poll on PMI_FD {}", fd_);
      if (r == 0 || deadline.expired())
        fail(strataTimeout, "PMI-1: no reply to '{}' from the launcher within {:.3g} s (are all {} "
             "processes calling strataCommInitFromEnv?)", line, deadline.seconds(), size_);
    }
  }

  int fd_;
  double timeoutSec_;
  bool initialised_ = false;
  int keyMax_ = 0, valueMax_ = 0;
  std::string kvsName_;
  std::string buffer_;  // bytes read past the last reply's end of line
  int rank_ = -1, size_ = -1, localRank_ = -1;
};

}  // namespace

std::unique_ptr<LauncherKvs> openPmi1(int fd, double timeoutSec, const EnvLookup& env) {
  return std::make_unique<Pmi1Kvs>(fd, timeoutSec, env);
}

}  // namespace strata
