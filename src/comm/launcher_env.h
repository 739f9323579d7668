// Rank, size, local rank and the way to the root, from the environment a launcher sets up.
//
// Rank and size come from the first of these families whose rank variable is set (its size
// variable must be set too):
//   STRATA_RANK / STRATA_NRANKS / STRATA_LOCAL_RANK        Strata's own
//   RANK / WORLD_SIZE / LOCAL_RANK                          torchrun-style
//   OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK              Open MPI's mpirun
//   PMIX_RANK / (PMIx's job size) / (PMIx's local rank)     any PMIx launcher (srun --mpi=pmix)
//   PMI_RANK / PMI_SIZE / MPI_LOCALRANKID                   MPICH's hydra (PMI-1)
//   SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID             srun without PMI
// The local rank comes from the same family, else from the first other local-rank variable set.
//
// The root's address comes from the first of:
//   STRATA_ROOT_ADDR=host:port                              rank 0 listens there
//   MASTER_ADDR and MASTER_PORT                             likewise (torchrun-style)
//   PMIx (PMIX_NAMESPACE and PMIX_RANK)                     rank 0 listens on any port and
//   PMI-1 (PMI_FD and PMI_RANK)                               publishes the id through the launcher
//   Slurm (SLURM_STEP_NODELIST or SLURM_JOB_NODELIST)       first host of the step, port from the
//                                                             job and step ids (or MASTER_PORT)
// readLauncherEnv only reads and checks variables; launcher.h does the exchange.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace strata {

// Looks a variable up; nullptr when unset. Tests pass a fake environment.
using EnvLookup = std::function<const char*(const char*)>;
const char* processEnv(const char* name);  // std::getenv

enum class RootSource {
  Address,  // STRATA_ROOT_ADDR or MASTER_ADDR/MASTER_PORT: rank 0 listens at rootHost:rootPort
  Pmix,     // rank 0 publishes the unique id through PMIx
  Pmi1,     // rank 0 publishes the unique id through PMI-1 (pmiFd)
  Slurm,    // rank 0 listens on every interface at rootPort; the others dial rootHost
};
const char* rootSourceName(RootSource source);

struct LauncherEnv {
  int rank = -1;
  int nranks = -1;     // -1 only with the PMIx family before PMIx gave the job size
  int localRank = -1;  // rank among this host's ranks; -1 when no launcher says
  std::string rankVars;       // e.g. "OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE", for messages
  std::string localRankVar;   // the variable localRank came from, or ""

  RootSource root = RootSource::Address;
  std::string rootVars;  // the variables that named the root, for messages
  std::string rootHost;  // Address, Slurm
  uint16_t rootPort = 0;
  int pmiFd = -1;        // Pmi1
  int pmixRank = -1;     // Pmix: PMIX_RANK (rank 0 of the exchange must be rank 0 here)
  // With root == Pmix, where to go when libpmix cannot be loaded: Slurm's host list, if any.
  std::string slurmHost;
  uint16_t slurmPort = 0;
  int slurmNranks = -1;  // SLURM_NTASKS then, when the size was to come from PMIx

  bool haveSecret = false;  // STRATA_SECRET was given
  std::array<uint8_t, 32> secret{};
};

// Throws strataInvalidArgument naming the missing or malformed variables and what to set.
LauncherEnv readLauncherEnv(const EnvLookup& env = processEnv);

// Slurm host lists: "node[01-04,07],gpu5" -> node01 node02 node03 node04 node07 gpu5. Several
// bracket groups in one name multiply ("r[1-2]n[1-2]" -> r1n1 r1n2 r2n1 r2n2); a range keeps the
// zero padding of its lower bound. Stops after maxHosts names. Throws strataInvalidArgument.
std::vector<std::string> expandSlurmHostlist(const std::string& list, size_t maxHosts = SIZE_MAX);

// The root's port under Slurm without PMI: kSlurmPortBase + (jobId * 16 + stepId) mod
// kSlurmPortSpan, so that the steps of one job and consecutive jobs get different ports.
constexpr uint16_t kSlurmPortBase = 21000;
constexpr uint32_t kSlurmPortSpan = 8192;  // ports 21000..29191
uint16_t slurmRootPort(uint64_t jobId, uint64_t stepId);

}  // namespace strata
