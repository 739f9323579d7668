#include "comm/launcher_env.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace strata {
namespace {

// One launcher's variables for rank, size and local rank (size may be null: PMIx gives it).
struct RankFamily {
  const char* rank;
  const char* size;
  const char* altSize;  // an older name of the size variable, or null
  const char* localRank;
};
constexpr RankFamily kFamilies[] = {
    {"STRATA_RANK", "STRATA_NRANKS", nullptr, "STRATA_LOCAL_RANK"},
    {"RANK", "WORLD_SIZE", nullptr, "LOCAL_RANK"},
    {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", nullptr, "OMPI_COMM_WORLD_LOCAL_RANK"},
    {"PMIX_RANK", nullptr, nullptr, "PMIX_LOCAL_RANK"},
    {"PMI_RANK", "PMI_SIZE", nullptr, "MPI_LOCALRANKID"},
    {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_NPROCS", "SLURM_LOCALID"},
};

const char* get(const EnvLookup& env, const char* name) {
  if (!name) return nullptr;
  const char* v = env(name);
  return v && *v ? v : nullptr;
}

long parseInt(const char* name, const char* text, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  STRATA_CHECK(errno == 0 && end && *end == '\0' && end != text && v >= lo && v <= hi,
               strataInvalidArgument, "{}='{}' is not an integer in [{}, {}]", name, text, lo, hi);
  return v;
}

uint64_t parseId(const char* name, const char* text) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  STRATA_CHECK(errno == 0 && end && *end == '\0' && end != text && text[0] != '-',
               strataInvalidArgument, "{}='{}' is not a non-negative integer", name, text);
  return v;
}

void readRankAndSize(const EnvLookup& env, LauncherEnv& out) {
  const RankFamily* family = nullptr;
  for (const RankFamily& f : kFamilies)
    if (get(env, f.rank)) {
      family = &f;
      break;
    }
  STRATA_CHECK(family, strataInvalidArgument,
               "no launcher found: set STRATA_RANK and STRATA_NRANKS (or RANK and WORLD_SIZE), or "
               "start the ranks with mpirun (Open MPI), mpiexec (MPICH) or srun (Slurm)");
  const char* sizeVar = family->size;
  const char* size = get(env, sizeVar);
  if (!size && family->altSize) size = get(env, sizeVar = family->altSize);
  if (family->size) {
    STRATA_CHECK(size, strataInvalidArgument, "{} is set but {} is not: set both", family->rank,
                 family->size);
    out.nranks = static_cast<int>(parseInt(sizeVar, size, 1, 1 << 24));
    out.rank = static_cast<int>(parseInt(family->rank, get(env, family->rank), 0, out.nranks - 1));
    out.rankVars = fmt::format("{}/{}", family->rank, sizeVar);
  } else {  // PMIx: the size comes from PMIx_Get(PMIX_JOB_SIZE) once PMIx is up
    out.rank = static_cast<int>(parseInt(family->rank, get(env, family->rank), 0, (1 << 24) - 1));
    out.rankVars = family->rank;
  }

  // The family's own local rank first: another launcher's variable may be stale (mpirun inside
  // an srun allocation inherits SLURM_LOCALID of the batch step).
  const char* local = get(env, family->localRank);
  const char* localVar = family->localRank;
  for (const RankFamily& f : kFamilies) {
    if (local) break;
    local = get(env, localVar = f.localRank);
  }
  if (local) {
    out.localRank = static_cast<int>(parseInt(localVar, local, 0, (1 << 24) - 1));
    out.localRankVar = localVar;
  }
}

// The Slurm step's first host and the root's port there; false when Slurm gave no node list.
bool readSlurmRoot(const EnvLookup& env, std::string* host, uint16_t* port, std::string* vars) {
  const char* listVar = nullptr;
  const char* list = nullptr;
  for (const char* v : {"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"})
    if ((list = get(env, v))) {
      listVar = v;
      break;
    }
  if (!list) return false;
  std::vector<std::string> first = expandSlurmHostlist(list, 1);
  STRATA_CHECK(!first.empty(), strataInvalidArgument, "{}='{}' names no host", listVar, list);
  *host = first[0];
  if (const char* p = get(env, "MASTER_PORT")) {
    *port = static_cast<uint16_t>(parseInt("MASTER_PORT", p, 1, 65535));
    *vars = fmt::format("{} (first host)/MASTER_PORT", listVar);
    return true;
  }
  const char* job = get(env, "SLURM_JOB_ID");
  if (!job) job = get(env, "SLURM_JOBID");
  STRATA_CHECK(job, strataInvalidArgument,
               "{} is set but SLURM_JOB_ID is not: set MASTER_PORT (or STRATA_ROOT_ADDR)", listVar);
  const char* step = get(env, "SLURM_STEP_ID");
  if (!step) step = get(env, "SLURM_STEPID");
  *port = slurmRootPort(parseId("SLURM_JOB_ID", job), step ? parseId("SLURM_STEP_ID", step) : 0);
  *vars = fmt::format("{} (first host)/SLURM_JOB_ID/SLURM_STEP_ID", listVar);
  return true;
}

void readRoot(const EnvLookup& env, LauncherEnv& out) {
  if (const char* root = get(env, "STRATA_ROOT_ADDR")) {
    std::string s = root;
    auto colon = s.rfind(':');
    STRATA_CHECK(colon != std::string::npos && colon > 0, strataInvalidArgument,
                 "STRATA_ROOT_ADDR='{}' is not host:port", s);
    out.rootHost = s.substr(0, colon);
    if (out.rootHost.size() > 2 && out.rootHost.front() == '[' && out.rootHost.back() == ']')
      out.rootHost = out.rootHost.substr(1, out.rootHost.size() - 2);
    out.rootPort = static_cast<uint16_t>(parseInt("STRATA_ROOT_ADDR port", s.c_str() + colon + 1, 1, 65535));
    out.root = RootSource::Address;
    out.rootVars = "STRATA_ROOT_ADDR";
    return;
  }
  const char* addr = get(env, "MASTER_ADDR");
  const char* port = get(env, "MASTER_PORT");
  if (addr) {
    STRATA_CHECK(port, strataInvalidArgument, "MASTER_ADDR is set but MASTER_PORT is not: set both");
    out.rootHost = addr;
    out.rootPort = static_cast<uint16_t>(parseInt("MASTER_PORT", port, 1, 65535));
    out.root = RootSource::Address;
    out.rootVars = "MASTER_ADDR/MASTER_PORT";
    return;
  }

  if (get(env, "PMIX_NAMESPACE") && get(env, "PMIX_RANK")) {
    out.root = RootSource::Pmix;
    out.pmixRank = static_cast<int>(parseInt("PMIX_RANK", get(env, "PMIX_RANK"), 0, (1 << 24) - 1));
    out.rootVars = "PMIX_NAMESPACE/PMIX_RANK";
    // srun --mpi=pmix: Slurm's host list is the way out if libpmix cannot be loaded here.
    std::string unused;
    try {
      if (!readSlurmRoot(env, &out.slurmHost, &out.slurmPort, &unused)) out.slurmHost.clear();
      if (const char* n = get(env, "SLURM_NTASKS")) out.slurmNranks = static_cast<int>(parseInt("SLURM_NTASKS", n, 1, 1 << 24));
    } catch (const Error&) {
      out.slurmHost.clear();
    }
    return;
  }
  if (const char* fd = get(env, "PMI_FD"); fd && get(env, "PMI_RANK")) {
    out.root = RootSource::Pmi1;
    out.pmiFd = static_cast<int>(parseInt("PMI_FD", fd, 0, 1 << 20));
    out.rootVars = "PMI_FD";
    return;
  }
  std::string slurmVars;
  const bool slurm = readSlurmRoot(env, &out.slurmHost, &out.slurmPort, &slurmVars);
  if (slurm) {
    out.root = RootSource::Slurm;
    out.rootHost = out.slurmHost;
    out.rootPort = out.slurmPort;
    out.rootVars = slurmVars;
    return;
  }
  STRATA_CHECK(!port, strataInvalidArgument,
               "MASTER_PORT is set but MASTER_ADDR is not: set MASTER_ADDR to rank 0's host");
  fail(strataInvalidArgument,
       "the root's address is unknown (rank {} from {}): set STRATA_ROOT_ADDR=host:port (or "
       "MASTER_ADDR and MASTER_PORT) to where rank 0 should listen; mpirun (PMIx), mpiexec (PMI-1) "
       "and srun pass it on their own",
       out.rank, out.rankVars);
}

// Appends the names of one comma-separated element ("node[01-04]x", no top-level commas).
void expandElement(const std::string& elem, size_t pos, const std::string& prefix,
                   std::vector<std::string>& out, size_t maxHosts, const std::string& whole) {
  if (out.size() >= maxHosts) return;
  size_t open = elem.find('[', pos);
  if (open == std::string::npos) {
    STRATA_CHECK(elem.find(']', pos) == std::string::npos, strataInvalidArgument,
                 "host list '{}': ']' without '['", whole);
    out.push_back(prefix + elem.substr(pos));
    return;
  }
  STRATA_CHECK(elem.find(']', pos) > open, strataInvalidArgument, "host list '{}': ']' without '['", whole);
  size_t close = elem.find(']', open);
  STRATA_CHECK(close != std::string::npos, strataInvalidArgument, "host list '{}': '[' without ']'", whole);
  const std::string head = prefix + elem.substr(pos, open - pos);
  const std::string ranges = elem.substr(open + 1, close - open - 1);
  STRATA_CHECK(ranges.find('[') == std::string::npos, strataInvalidArgument,
               "host list '{}': nested '['", whole);
  size_t start = 0;
  while (start <= ranges.size()) {
    size_t comma = ranges.find(',', start);
    if (comma == std::string::npos) comma = ranges.size();
    const std::string range = ranges.substr(start, comma - start);
    const size_t dash = range.find('-');
    const std::string loText = range.substr(0, dash);
    const std::string hiText = dash == std::string::npos ? loText : range.substr(dash + 1);
    auto digits = [](const std::string& s) {
      return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos;
    };
    STRATA_CHECK(digits(loText) && digits(hiText), strataInvalidArgument,
                 "host list '{}': '{}' is not a number or a range lo-hi", whole, range);
    const uint64_t lo = std::stoull(loText), hi = std::stoull(hiText);
    STRATA_CHECK(lo <= hi, strataInvalidArgument, "host list '{}': range '{}' runs backwards", whole, range);
    for (uint64_t i = lo; i <= hi && out.size() < maxHosts; ++i)
      expandElement(elem, close + 1, head + fmt::format("{:0{}}", i, loText.size()), out, maxHosts, whole);
    start = comma + 1;
  }
}

}  // namespace

const char* processEnv(const char* name) { return std::getenv(name); }

const char* rootSourceName(RootSource source) {
  switch (source) {
    case RootSource::Address: return "address";
    case RootSource::Pmix: return "PMIx";
    case RootSource::Pmi1: return "PMI-1";
    case RootSource::Slurm: return "Slurm host list";
  }
  return "?";
}

std::vector<std::string> expandSlurmHostlist(const std::string& list, size_t maxHosts) {
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= list.size() && out.size() < maxHosts; ++i) {
    if (i < list.size() && list[i] == '[') ++depth;
    if (i < list.size() && list[i] == ']') --depth;
    STRATA_CHECK(depth == 0 || depth == 1, strataInvalidArgument, "host list '{}': unbalanced brackets", list);
    if (i < list.size() && (list[i] != ',' || depth > 0)) continue;
    STRATA_CHECK(depth == 0, strataInvalidArgument, "host list '{}': '[' without ']'", list);
    const std::string elem = list.substr(start, i - start);
    STRATA_CHECK(!elem.empty(), strataInvalidArgument, "host list '{}': empty name", list);
    expandElement(elem, 0, "", out, maxHosts, list);
    start = i + 1;
  }
  return out;
}

uint16_t slurmRootPort(uint64_t jobId, uint64_t stepId) {
  return static_cast<uint16_t>(kSlurmPortBase + (jobId * 16 + stepId) % kSlurmPortSpan);
}

LauncherEnv readLauncherEnv(const EnvLookup& env) {
  LauncherEnv out;
  readRankAndSize(env, out);
  readRoot(env, out);
  STRATA_CHECK(out.nranks > 0 || out.root == RootSource::Pmix, strataInvalidArgument,
               "{} gives the rank but not the size, which only PMIx would give with the root's address "
               "from {}: set STRATA_RANK and STRATA_NRANKS",
               out.rankVars, out.rootVars);
  if (const char* secret = get(env, "STRATA_SECRET")) {
    STRATA_CHECK(std::strlen(secret) == 64, strataInvalidArgument,
                 "STRATA_SECRET must be 64 hexadecimal digits (32 bytes)");
    for (int i = 0; i < 32; ++i) {
      char byte[3] = {secret[2 * i], secret[2 * i + 1], 0};
      char* end = nullptr;
      out.secret[i] = static_cast<uint8_t>(std::strtoul(byte, &end, 16));
      STRATA_CHECK(end == byte + 2, strataInvalidArgument, "STRATA_SECRET is not hexadecimal");
    }
    out.haveSecret = true;
  }
  return out;
}

}  // namespace strata
