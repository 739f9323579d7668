// How the root's unique id reaches every rank started by a launcher (strataCommInitFromEnv).
//
// With an address every rank knows (STRATA_ROOT_ADDR, MASTER_ADDR/MASTER_PORT, Slurm's first
// host), rank 0 listens there and the others build the same id; the secret is STRATA_SECRET or
// derived from what all ranks were given. With a launcher's key-value store (PMIx under Open
// MPI's mpirun or srun --mpi=pmix, PMI-1 under MPICH's mpiexec), rank 0 starts the root on any
// free port of an interface other hosts reach (STRATA_SOCKET_IFNAME, else the first non-loopback
// one) with a random secret, puts the id under kLauncherIdKey, every rank fences, and the others
// read it. The launcher's session stays open until the process exits (an atexit handler
// finalizes it), so that a second strataCommInitFromEnv works too; it uses a key of its own.
// Every wait is bounded by the communicator's timeout.
#pragma once

#include <memory>
#include <string>

#include "comm/launcher_env.h"
#include "strata/strata.h"

namespace strata {

// The key rank 0's unique id (hexadecimal) is published under; ".1", ".2"... appended for the
// process's later exchanges.
constexpr const char* kLauncherIdKey = "strata.root.id";

// A launcher's key-value store, as the id exchange uses it.
class LauncherKvs {
 public:
  virtual ~LauncherKvs() = default;
  virtual const char* name() const = 0;  // "PMIx", "PMI-1"
  virtual int rank() const = 0;           // this process's rank in the launcher's job
  virtual int size() const = 0;           // processes in the job
  virtual int localRank() const = 0;      // -1 when the launcher does not say
  virtual void put(const std::string& key, const std::string& value) = 0;
  // Every process of the job calls it; afterwards every put before it is visible to all.
  virtual void fence() = 0;
  // The value `rank` put under key (after a fence).
  virtual std::string get(int rank, const std::string& key) = 0;
  // Tells the launcher this process is done with it; idempotent, also run by the destructor.
  virtual void finalize() = 0;
};

// Whether libpmix can be loaded (and has what openPmix calls); if not, *why says what failed.
bool pmixLoads(std::string* why);
// libpmix.so.2, loaded at run time; throws strataSystemError when it cannot be loaded or
// PMIx_Init fails (not started by a PMIx launcher).
std::unique_ptr<LauncherKvs> openPmix(double timeoutSec);
// MPICH's simple PMI-1 wire protocol on the launcher's socket `fd` (PMI_FD); rank, size and
// local rank are PMI_RANK, PMI_SIZE and MPI_LOCALRANKID from `env`.
std::unique_ptr<LauncherKvs> openPmi1(int fd, double timeoutSec, const EnvLookup& env = processEnv);

// Runs the exchange that env.root names (filling env.nranks and env.localRank from PMIx when the
// environment did not) and returns the id to pass to strataCommInitRank.
strataUniqueId launcherUniqueId(LauncherEnv& env, double timeoutSec);

// Hexadecimal text of an id and back (throws strataInvalidArgument on malformed text).
std::string idToHex(const strataUniqueId& id);
strataUniqueId idFromHex(const std::string& hex);

}  // namespace strata
