// Launchers without launchers: which variables win (fake environments), Slurm host lists, and the
// PMI-1 client against a fake server on a socketpair.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "comm/launcher.h"
#include "comm/launcher_env.h"
#include "core/error.h"

namespace strata {
namespace {

using Vars = std::map<std::string, std::string>;

EnvLookup fake(const Vars& vars) {
  return [vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

// The error text of readLauncherEnv on vars (empty when it succeeds).
std::string errorOf(const Vars& vars) {
  try {
    readLauncherEnv(fake(vars));
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), strataInvalidArgument) << e.what();
    return e.what();
  }
  return "";
}

// What mpirun.openmpi -np 4 gives rank 2 (abridged).
const Vars kOpenMpiRank2 = {{"OMPI_COMM_WORLD_RANK", "2"},
                            {"OMPI_COMM_WORLD_SIZE", "4"},
                            {"OMPI_COMM_WORLD_LOCAL_RANK", "2"},
                            {"PMIX_RANK", "2"},
                            {"PMIX_NAMESPACE", "962002945"}};

Vars with(Vars base, const Vars& more) {
  for (const auto& [k, v] : more) base[k] = v;
  return base;
}

TEST(SlurmHostlist, ExpandsRangesListsAndPadding) {
  EXPECT_EQ(expandSlurmHostlist("node[01-04,07],gpu5"),
            (std::vector<std::string>{"node01", "node02", "node03", "node04", "node07", "gpu5"}));
  EXPECT_EQ(expandSlurmHostlist("n[8-10]"), (std::vector<std::string>{"n8", "n9", "n10"}));
  EXPECT_EQ(expandSlurmHostlist("n[098-101]x"), (std::vector<std::string>{"n098x", "n099x", "n100x", "n101x"}));
  EXPECT_EQ(expandSlurmHostlist("single"), (std::vector<std::string>{"single"}));
  EXPECT_EQ(expandSlurmHostlist("a-1.b,c"), (std::vector<std::string>{"a-1.b", "c"}));
  EXPECT_EQ(expandSlurmHostlist("r[1-2]n[3,5]"), (std::vector<std::string>{"r1n3", "r1n5", "r2n3", "r2n5"}));
  EXPECT_EQ(expandSlurmHostlist("x[5]"), (std::vector<std::string>{"x5"}));
}

TEST(SlurmHostlist, StopsAtMaxHosts) {
  EXPECT_EQ(expandSlurmHostlist("big[0000001-9999999],other", 1), (std::vector<std::string>{"big0000001"}));
  EXPECT_EQ(expandSlurmHostlist("a[1-3],b[1-3]", 4), (std::vector<std::string>{"a1", "a2", "a3", "b1"}));
  EXPECT_EQ(expandSlurmHostlist("gpu[001-128]").size(), 128u);
  EXPECT_EQ(expandSlurmHostlist("gpu[001-128]").back(), "gpu128");
}

TEST(SlurmHostlist, RejectsMalformedLists) {
  for (const char* bad : {"", "n[1-", "n1]", "n[3-1]", "n[a]", "n[]", "n[1,]", "a,,b", "n[[1]]", "n]1[", ",a", "n[1-2-3]"}) {
    EXPECT_THROW(expandSlurmHostlist(bad), Error) << "'" << bad << "'";
  }
}

TEST(SlurmRootPort, StaysInItsRangeAndSeparatesSteps) {
  EXPECT_EQ(slurmRootPort(12345, 0), 21000 + (12345 * 16) % 8192);
  EXPECT_EQ(slurmRootPort(12345, 0), 21912);
  EXPECT_EQ(slurmRootPort(12345, 1), 21913);
  EXPECT_NE(slurmRootPort(12346, 0), slurmRootPort(12345, 0));
  for (uint64_t job : {0ull, 1ull, 511ull, 512ull, 4294967295ull, 18446744073709551615ull})
    for (uint64_t step : {0ull, 15ull, 4294967294ull}) {
      EXPECT_GE(slurmRootPort(job, step), kSlurmPortBase);
      EXPECT_LT(slurmRootPort(job, step), kSlurmPortBase + kSlurmPortSpan);
    }
}

TEST(LauncherEnv, StrataVariablesComeFirst) {
  LauncherEnv env = readLauncherEnv(fake(with(kOpenMpiRank2, {{"STRATA_RANK", "1"},
                                                              {"STRATA_NRANKS", "3"},
                                                              {"STRATA_LOCAL_RANK", "0"},
                                                              {"RANK", "3"},
                                                              {"WORLD_SIZE", "5"},
                                                              {"LOCAL_RANK", "3"},
                                                              {"STRATA_ROOT_ADDR", "[::1]:4711"},
                                                              {"MASTER_ADDR", "10.0.0.1"},
                                                              {"MASTER_PORT", "29500"}})));
  EXPECT_EQ(env.rank, 1);
  EXPECT_EQ(env.nranks, 3);
  EXPECT_EQ(env.localRank, 0);
  EXPECT_EQ(env.localRankVar, "STRATA_LOCAL_RANK");
  EXPECT_EQ(env.rankVars, "STRATA_RANK/STRATA_NRANKS");
  EXPECT_EQ(env.root, RootSource::Address);
  EXPECT_EQ(env.rootHost, "::1");
  EXPECT_EQ(env.rootPort, 4711);
  EXPECT_EQ(env.rootVars, "STRATA_ROOT_ADDR");
  EXPECT_FALSE(env.haveSecret);
}

TEST(LauncherEnv, TorchrunVariablesBeatMpirunsAndPmix) {
  LauncherEnv env = readLauncherEnv(fake(with(kOpenMpiRank2, {{"RANK", "3"},
                                                              {"WORLD_SIZE", "5"},
                                                              {"LOCAL_RANK", "1"},
                                                              {"MASTER_ADDR", "10.0.0.1"},
                                                              {"MASTER_PORT", "29500"}})));
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.nranks, 5);
  EXPECT_EQ(env.localRank, 1);
  EXPECT_EQ(env.rankVars, "RANK/WORLD_SIZE");
  EXPECT_EQ(env.root, RootSource::Address);
  EXPECT_EQ(env.rootHost, "10.0.0.1");
  EXPECT_EQ(env.rootPort, 29500);
  EXPECT_EQ(env.rootVars, "MASTER_ADDR/MASTER_PORT");
}

TEST(LauncherEnv, OpenMpiUsesPmixForTheRoot) {
  LauncherEnv env = readLauncherEnv(fake(kOpenMpiRank2));
  EXPECT_EQ(env.rank, 2);
  EXPECT_EQ(env.nranks, 4);
  EXPECT_EQ(env.localRank, 2);
  EXPECT_EQ(env.localRankVar, "OMPI_COMM_WORLD_LOCAL_RANK");
  EXPECT_EQ(env.root, RootSource::Pmix);
  EXPECT_EQ(env.pmixRank, 2);
  EXPECT_TRUE(env.slurmHost.empty());
  // Torchrun-style root variables passed through mpirun -x win over PMIx.
  env = readLauncherEnv(fake(with(kOpenMpiRank2, {{"MASTER_ADDR", "h0"}, {"MASTER_PORT", "1234"}})));
  EXPECT_EQ(env.rank, 2);
  EXPECT_EQ(env.root, RootSource::Address);
  EXPECT_EQ(env.rootHost, "h0");
}

TEST(LauncherEnv, SrunWithPmixKeepsTheHostListAsFallback) {
  LauncherEnv env = readLauncherEnv(fake({{"PMIX_RANK", "5"},
                                          {"PMIX_NAMESPACE", "slurm.pmix.77.0"},
                                          {"SLURM_PROCID", "5"},
                                          {"SLURM_NTASKS", "8"},
                                          {"SLURM_LOCALID", "1"},
                                          {"SLURM_STEP_NODELIST", "gpu[07-08]"},
                                          {"SLURM_JOB_ID", "77"},
                                          {"SLURM_STEP_ID", "0"}}));
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.nranks, -1);  // PMIx's job size, once PMIx is up
  EXPECT_EQ(env.rankVars, "PMIX_RANK");
  EXPECT_EQ(env.localRank, 1);
  EXPECT_EQ(env.localRankVar, "SLURM_LOCALID");
  EXPECT_EQ(env.root, RootSource::Pmix);
  EXPECT_EQ(env.slurmHost, "gpu07");
  EXPECT_EQ(env.slurmPort, slurmRootPort(77, 0));
  EXPECT_EQ(env.slurmNranks, 8);
}

TEST(LauncherEnv, PmixRankAloneNeedsPmixForTheSize) {
  LauncherEnv env = readLauncherEnv(fake({{"PMIX_RANK", "1"}, {"PMIX_NAMESPACE", "prterun-1"}}));
  EXPECT_EQ(env.rank, 1);
  EXPECT_EQ(env.nranks, -1);
  EXPECT_EQ(env.root, RootSource::Pmix);
  EXPECT_TRUE(env.slurmHost.empty());
  std::string e = errorOf({{"PMIX_RANK", "1"}, {"PMIX_NAMESPACE", "p"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}});
  EXPECT_NE(e.find("STRATA_NRANKS"), std::string::npos) << e;
}

TEST(LauncherEnv, MpichHydraUsesPmi1) {
  LauncherEnv env = readLauncherEnv(fake({{"PMI_RANK", "1"},
                                          {"PMI_SIZE", "4"},
                                          {"PMI_FD", "8"},
                                          {"MPI_LOCALRANKID", "1"},
                                          {"MPI_LOCALNRANKS", "4"}}));
  EXPECT_EQ(env.rank, 1);
  EXPECT_EQ(env.nranks, 4);
  EXPECT_EQ(env.localRank, 1);
  EXPECT_EQ(env.localRankVar, "MPI_LOCALRANKID");
  EXPECT_EQ(env.root, RootSource::Pmi1);
  EXPECT_EQ(env.pmiFd, 8);
}

TEST(LauncherEnv, SlurmWithoutPmiUsesTheFirstHostOfTheStep) {
  const Vars slurm = {{"SLURM_PROCID", "3"},          {"SLURM_NTASKS", "8"},
                      {"SLURM_LOCALID", "1"},         {"SLURM_STEP_NODELIST", "gpu[07-08],cpu1"},
                      {"SLURM_JOB_NODELIST", "gpu[01-16]"}, {"SLURM_JOB_ID", "12345"},
                      {"SLURM_STEP_ID", "2"}};
  LauncherEnv env = readLauncherEnv(fake(slurm));
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.nranks, 8);
  EXPECT_EQ(env.localRank, 1);
  EXPECT_EQ(env.root, RootSource::Slurm);
  EXPECT_EQ(env.rootHost, "gpu07");
  EXPECT_EQ(env.rootPort, 21914);
  // The job's list when the step's is missing; MASTER_PORT overrides the derived port.
  Vars jobOnly = slurm;
  jobOnly.erase("SLURM_STEP_NODELIST");
  env = readLauncherEnv(fake(with(jobOnly, {{"MASTER_PORT", "29500"}})));
  EXPECT_EQ(env.rootHost, "gpu01");
  EXPECT_EQ(env.rootPort, 29500);
  // STRATA_ROOT_ADDR beats it all.
  env = readLauncherEnv(fake(with(slurm, {{"STRATA_ROOT_ADDR", "login1:5000"}})));
  EXPECT_EQ(env.root, RootSource::Address);
  EXPECT_EQ(env.rootHost, "login1");
  EXPECT_EQ(env.rootPort, 5000);
  EXPECT_EQ(env.rank, 3);
  // Without a job id there is no port to derive.
  Vars noJob = slurm;
  noJob.erase("SLURM_JOB_ID");
  EXPECT_NE(errorOf(noJob).find("MASTER_PORT"), std::string::npos) << errorOf(noJob);
}

TEST(LauncherEnv, LocalRankFallsBackToOtherLaunchers) {
  LauncherEnv env = readLauncherEnv(fake({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"},
                                          {"MASTER_PORT", "1"}, {"SLURM_LOCALID", "3"}}));
  EXPECT_EQ(env.localRank, 3);
  EXPECT_EQ(env.localRankVar, "SLURM_LOCALID");
  env = readLauncherEnv(fake({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}}));
  EXPECT_EQ(env.localRank, -1);
  EXPECT_EQ(env.localRankVar, "");
}

TEST(LauncherEnv, ErrorsNameWhatToSet) {
  std::string none = errorOf({});
  for (const char* name : {"STRATA_RANK", "STRATA_NRANKS", "RANK", "WORLD_SIZE", "mpirun", "mpiexec", "srun"})
    EXPECT_NE(none.find(name), std::string::npos) << name << " in: " << none;

  std::string noSize = errorOf({{"RANK", "0"}});
  EXPECT_NE(noSize.find("WORLD_SIZE"), std::string::npos) << noSize;

  std::string noRoot = errorOf({{"RANK", "1"}, {"WORLD_SIZE", "2"}});
  for (const char* name : {"STRATA_ROOT_ADDR", "MASTER_ADDR", "MASTER_PORT", "RANK/WORLD_SIZE"})
    EXPECT_NE(noRoot.find(name), std::string::npos) << name << " in: " << noRoot;

  EXPECT_NE(errorOf({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "5"}}).find("MASTER_ADDR is not"),
            std::string::npos);
  EXPECT_NE(errorOf({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}}).find("MASTER_PORT is not"),
            std::string::npos);
  EXPECT_NE(errorOf({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}})
                .find("RANK='2' is not an integer in [0, 1]"),
            std::string::npos);
  EXPECT_NE(errorOf({{"STRATA_RANK", "0"}, {"STRATA_NRANKS", "1"}, {"STRATA_ROOT_ADDR", "nohost"}})
                .find("is not host:port"),
            std::string::npos);
  EXPECT_NE(errorOf({{"STRATA_RANK", "0"}, {"STRATA_NRANKS", "1"}, {"STRATA_ROOT_ADDR", "h:1"},
                     {"STRATA_SECRET", "xyz"}})
                .find("STRATA_SECRET"),
            std::string::npos);
  EXPECT_NE(errorOf({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_NODELIST", "n[1-"}, {"SLURM_JOB_ID", "1"}})
                .find("host list"),
            std::string::npos);
}

TEST(LauncherId, HexRoundTrip) {
  strataUniqueId id;
  for (size_t i = 0; i < sizeof(id.internal); ++i) id.internal[i] = static_cast<char>(i * 37 + 11);
  std::string hex = idToHex(id);
  EXPECT_EQ(hex.size(), 2 * sizeof(id.internal));
  EXPECT_EQ(hex.substr(0, 6), "0b3055");  // 11, 48, 85
  strataUniqueId back = idFromHex(hex);
  EXPECT_EQ(0, std::memcmp(back.internal, id.internal, sizeof(id.internal)));
  EXPECT_THROW(idFromHex(hex.substr(2)), Error);
  hex[5] = 'g';
  EXPECT_THROW(idFromHex(hex), Error);
}

// ---- PMI-1 against a fake hydra ---------------------------------------------------------------

// Serves one client on its end of a socketpair like hydra's proxy would, keeping the lines it
// got; `answerBarrier` false leaves barrier_in unanswered, `closeAfter` closes after n lines.
class FakePmiServer {
 public:
  explicit FakePmiServer(bool answerBarrier = true, int closeAfter = -1)
      : answerBarrier_(answerBarrier), closeAfter_(closeAfter) {
    int fds[2];
    EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
    clientFd_ = fds[0];
    serverFd_ = fds[1];
    thread_ = std::thread([this] { serve(); });
  }
  ~FakePmiServer() {
    ::shutdown(clientFd_, SHUT_RDWR);
    thread_.join();
    ::close(clientFd_);
    if (serverFd_ >= 0) ::close(serverFd_);
  }
  int clientFd() const { return clientFd_; }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 private:
  void serve() {
    std::string buf;
    char c;
    while (::read(serverFd_, &c, 1) == 1) {
      if (c != '\n') {
        buf += c;
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        lines_.push_back(buf);
        if (closeAfter_ >= 0 && static_cast<int>(lines_.size()) >= closeAfter_) {
          ::close(serverFd_);
          serverFd_ = -1;
          return;
        }
      }
      std::string reply;
      if (buf.rfind("cmd=init ", 0) == 0) reply = "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0";
      else if (buf == "cmd=get_maxes") reply = "cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024";
      else if (buf == "cmd=get_my_kvsname") reply = "cmd=my_kvsname kvsname=kvs_1";
      else if (buf.rfind("cmd=put kvsname=kvs_1 key=", 0) == 0) {
        auto key = buf.substr(26, buf.find(' ', 26) - 26);
        store_[key] = buf.substr(buf.find("value=") + 6);
        reply = "cmd=put_result rc=0 msg=success";
      } else if (buf == "cmd=barrier_in") {
        if (!answerBarrier_) continue;
        reply = "cmd=barrier_out";
      } else if (buf.rfind("cmd=get kvsname=kvs_1 key=", 0) == 0) {
        auto key = buf.substr(26);
        reply = store_.count(key) ? "cmd=get_result rc=0 msg=success value=" + store_[key]
                                  : "cmd=get_result rc=-1 msg=key_" + key + "_not_found value=unknown";
      } else if (buf == "cmd=finalize") {
        reply = "cmd=finalize_ack";
      } else {
        reply = "cmd=unknown rc=-1";
      }
      buf.clear();
      reply += "\n";
      if (::write(serverFd_, reply.data(), reply.size()) != static_cast<ssize_t>(reply.size())) return;
    }
  }

  bool answerBarrier_;
  int closeAfter_;
  int clientFd_ = -1, serverFd_ = -1;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> lines_;
  std::map<std::string, std::string> store_;
};

const Vars kPmiRank0 = {{"PMI_RANK", "0"}, {"PMI_SIZE", "1"}, {"MPI_LOCALRANKID", "0"}};

TEST(Pmi1Client, PutFenceGetFinalizeOnTheWire) {
  FakePmiServer server;
  {
    auto kvs = openPmi1(server.clientFd(), 10, fake(kPmiRank0));
    EXPECT_STREQ(kvs->name(), "PMI-1");
    EXPECT_EQ(kvs->rank(), 0);
    EXPECT_EQ(kvs->size(), 1);
    EXPECT_EQ(kvs->localRank(), 0);
    kvs->put("strata.root.id", "00ff");
    kvs->fence();
    EXPECT_EQ(kvs->get(0, "strata.root.id"), "00ff");
    try {
      kvs->get(0, "missing");
      ADD_FAILURE() << "a missing key must fail";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), strataSystemError);
      EXPECT_NE(std::string(e.what()).find("key_missing_not_found"), std::string::npos) << e.what();
    }
    kvs->finalize();
    kvs->finalize();  // idempotent: one finalize on the wire
  }
  EXPECT_EQ(server.lines(), (std::vector<std::string>{
                                "cmd=init pmi_version=1 pmi_subversion=1",
                                "cmd=get_maxes",
                                "cmd=get_my_kvsname",
                                "cmd=put kvsname=kvs_1 key=strata.root.id value=00ff",
                                "cmd=barrier_in",
                                "cmd=get kvsname=kvs_1 key=strata.root.id",
                                "cmd=get kvsname=kvs_1 key=missing",
                                "cmd=finalize",
                            }));
}

TEST(Pmi1Client, BarrierThatNeverEndsTimesOut) {
  FakePmiServer server(/*answerBarrier=*/false);
  auto kvs = openPmi1(server.clientFd(), 0.3, fake(kPmiRank0));
  auto start = std::chrono::steady_clock::now();
  try {
    kvs->fence();
    ADD_FAILURE() << "the fence must time out";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), strataTimeout) << e.what();
    EXPECT_NE(std::string(e.what()).find("barrier_in"), std::string::npos) << e.what();
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(s, 0.25);
  EXPECT_LT(s, 2.0);
}

TEST(Pmi1Client, LauncherGoneFailsWithoutSignal) {
  FakePmiServer server(true, /*closeAfter=*/1);  // closes after reading init
  try {
    openPmi1(server.clientFd(), 5, fake(kPmiRank0));
    ADD_FAILURE() << "init must fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), strataRemoteError) << e.what();
  }
}

}  // namespace
}  // namespace strata
