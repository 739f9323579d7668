#include "comm/launcher.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "bootstrap/bootstrap.h"
#include "bootstrap/socket.h"
#include "core/error.h"
#include "core/log.h"

namespace strata {
namespace {

uint64_t fnv1a(const std::string& s, uint64_t h) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Without STRATA_SECRET every rank derives the same value from what the launcher gave them all:
// it keeps strangers' stray connections out, but it is no security boundary.
void deriveSecret(LauncherEnv& env) {
  std::string job;
  for (const char* v : {"SLURM_JOB_ID", "TORCHELASTIC_RUN_ID", "PMIX_NAMESPACE", "OMPI_MCA_orte_ess_jobid"})
    if (const char* s = std::getenv(v)) job += s;
  std::string seed = fmt::format("strata|{}|{}|{}|{}", env.rootHost, env.rootPort, env.nranks, job);
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < 4; ++i) {
    h = fnv1a(seed + std::to_string(i), h);
    std::memcpy(env.secret.data() + 8 * i, &h, 8);
  }
}

strataUniqueId addressRendezvous(LauncherEnv& env, double timeoutSec) {
  if (!env.haveSecret) deriveSecret(env);
  if (env.rank != 0)
    return makeUniqueId(parseAddress(env.rootHost, env.rootPort), env.secret.data());
  if (env.root == RootSource::Slurm) {
    // The others dial the host's name, which may resolve to any of its interfaces: listen on all
    // of them unless STRATA_SOCKET_IFNAME picks one.
    const char* ifname = std::getenv("STRATA_SOCKET_IFNAME");
    return startBootstrapRoot(ifname && *ifname ? nullptr : "0.0.0.0", env.rootPort, timeoutSec,
                              env.secret.data());
  }
  return startBootstrapRoot(env.rootHost.c_str(), env.rootPort, timeoutSec, env.secret.data());
}

// The launcher's key-value store stays open for the life of the process: hydra closes PMI_FD
// after a finalize (and kills a process that exits without one), and PMIx need not allow a
// second PMIx_Init after PMIx_Finalize. So every strataCommInitFromEnv of a process uses the one
// session, each with its own key (ranks create their communicators in the same order), and an
// atexit handler finalizes it.
struct KvsSession {
  std::mutex mutex;
  std::unique_ptr<LauncherKvs> kvs;
  int exchanges = 0;
};
KvsSession& kvsSession() {
  static auto* session = new KvsSession();  // never destroyed: the atexit handler may need it
  return *session;
}
void finalizeKvsSession() {
  KvsSession& session = kvsSession();
  std::lock_guard<std::mutex> lock(session.mutex);
  if (!session.kvs) return;
  try {
    session.kvs->finalize();
  } catch (const Error& e) {
    log(LogLevel::Warn, "at exit: {}", e.what());
  }
  session.kvs.reset();
}

strataUniqueId kvsRendezvous(LauncherEnv& env, KvsSession& session, double timeoutSec) {
  LauncherKvs& kvs = *session.kvs;
  if (env.nranks < 0) env.nranks = kvs.size();  // PMIX_RANK alone: the size is PMIx's
  if (env.localRank < 0 && kvs.localRank() >= 0) {
    env.localRank = kvs.localRank();
    env.localRankVar = kvs.name();
  }
  // Rank 0 of the communicator publishes, and the others read what the launcher's rank 0 put.
  STRATA_CHECK(env.rank == kvs.rank(), strataInvalidArgument,
               "rank {} from {} is {}'s rank {}: the id exchange through {} needs them equal; set "
               "STRATA_ROOT_ADDR (or MASTER_ADDR and MASTER_PORT) instead",
               env.rank, env.rankVars, kvs.name(), kvs.rank(), kvs.name());
  STRATA_CHECK(env.nranks == kvs.size(), strataInvalidArgument,
               "{} ranks from {}, but {} started {} processes: the id exchange needs every one of "
               "them; set STRATA_ROOT_ADDR (or MASTER_ADDR and MASTER_PORT) instead",
               env.nranks, env.rankVars, kvs.name(), kvs.size());
  const std::string key =
      session.exchanges == 0 ? kLauncherIdKey : fmt::format("{}.{}", kLauncherIdKey, session.exchanges);
  ++session.exchanges;
  strataUniqueId id;
  if (env.rank == 0) {
    id = startBootstrapRoot(nullptr, 0, timeoutSec, env.haveSecret ? env.secret.data() : nullptr);
    kvs.put(key, idToHex(id));
  }
  kvs.fence();
  if (env.rank != 0) {
    id = idFromHex(kvs.get(0, key));
    decodeUniqueId(id);  // a garbled value fails here, naming the id, not later in a connect
  }
  return id;
}

// Opens the session on first use (PMIx or PMI-1, as env.root says) and runs one exchange. After
// a failure the session is closed: a fence that timed out leaves the launcher's state unknown.
strataUniqueId sessionRendezvous(LauncherEnv& env, double timeoutSec) {
  KvsSession& session = kvsSession();
  std::lock_guard<std::mutex> lock(session.mutex);
  if (!session.kvs) {
    session.kvs = env.root == RootSource::Pmix ? openPmix(timeoutSec) : openPmi1(env.pmiFd, timeoutSec);
    static std::once_flag registered;
    std::call_once(registered, [] { std::atexit(finalizeKvsSession); });
  }
  try {
    return kvsRendezvous(env, session, timeoutSec);
  } catch (...) {
    session.kvs.reset();
    throw;
  }
}

}  // namespace

std::string idToHex(const strataUniqueId& id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * sizeof(id.internal));
  for (char c : id.internal) {
    const auto b = static_cast<unsigned char>(c);
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  return hex;
}

strataUniqueId idFromHex(const std::string& hex) {
  strataUniqueId id;
  STRATA_CHECK(hex.size() == 2 * sizeof(id.internal), strataInvalidArgument,
               "the launcher's '{}' holds {} characters, not the {} of a unique id", kLauncherIdKey,
               hex.size(), 2 * sizeof(id.internal));
  auto nibble = [&](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    fail(strataInvalidArgument, "the launcher's '{}' is not lower-case hexadecimal", kLauncherIdKey);
  };
  for (size_t i = 0; i < sizeof(id.internal); ++i)
    id.internal[i] = static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return id;
}

strataUniqueId launcherUniqueId(LauncherEnv& env, double timeoutSec) {
  if (env.root == RootSource::Pmix) {
    std::string why;
    if (pmixLoads(&why) || env.slurmHost.empty()) return sessionRendezvous(env, timeoutSec);
    // srun --mpi=pmix where libpmix is missing: Slurm's host list still names the root.
    log(LogLevel::Warn, "PMIx: {}; using Slurm's host list instead ({}:{})", why, env.slurmHost, env.slurmPort);
    STRATA_CHECK(env.nranks > 0 || env.slurmNranks > 0, strataInvalidArgument,
                 "PMIx: {}, and the job size is unknown without it: set SLURM_NTASKS or STRATA_RANK and "
                 "STRATA_NRANKS", why);
    if (env.nranks < 0) env.nranks = env.slurmNranks;
    env.root = RootSource::Slurm;
    env.rootHost = env.slurmHost;
    env.rootPort = env.slurmPort;
    env.rootVars = "Slurm's host list (PMIx unavailable)";
    return addressRendezvous(env, timeoutSec);
  }
  if (env.root == RootSource::Pmi1) return sessionRendezvous(env, timeoutSec);
  return addressRendezvous(env, timeoutSec);
}

}  // namespace strata
