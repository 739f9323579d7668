// The PMIx client of the id exchange (Open MPI's mpirun, srun --mpi=pmix, PRRTE's prun).
//
// Why PMIx's header at build time but libpmix.so.2 only through dlopen at run time: the header
// gives the exact layouts of pmix_info_t and pmix_value_t (a union we must not re-declare by
// hand), while a link-time dependency would make libstrata.so need libpmix (and through it
// libevent and hwloc's PMIx plugins) on every machine, torchrun-only ones included, and would
// run PMIx's constructors in every process. Built without the header (libpmix-dev absent), this
// file only reports that PMIx support was left out, and the other launchers still work.
#include <dlfcn.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "comm/launcher.h"
#include "core/error.h"

#if STRATA_HAVE_PMIX
#include <pmix.h>
#endif

namespace strata {

#if STRATA_HAVE_PMIX
namespace {

// Tried in order: the ABI this file was compiled against, then any libpmix the linker finds.
constexpr const char* kPmixLibraries[] = {"libpmix.so.2", "libpmix.so"};

struct PmixApi {
  decltype(&PMIx_Init) init = nullptr;
  decltype(&PMIx_Finalize) finalize = nullptr;
  decltype(&PMIx_Put) put = nullptr;
  decltype(&PMIx_Commit) commit = nullptr;
  decltype(&PMIx_Fence_nb) fenceNb = nullptr;
  decltype(&PMIx_Get) get = nullptr;
  decltype(&PMIx_Error_string) errorString = nullptr;
  decltype(&PMIx_Value_destruct) valueDestruct = nullptr;

  // Loads the library once per process; it is never unloaded (its progress thread and the
  // server connection outlive any one communicator, and PMIx_Init counts references).
  static const PmixApi& load() {
    std::string failure;
    const PmixApi& api = tryLoad(&failure);
    STRATA_CHECK(failure.empty(), strataSystemError, "PMIx: {}", failure);
    return api;
  }
  static const PmixApi& tryLoad(std::string* why) {
    static std::string failure;
    static const PmixApi api = [] {
      PmixApi a;
      void* handle = nullptr;
      std::string tried;
      for (const char* lib : kPmixLibraries) {
        // RTLD_GLOBAL: PMIx's own plugins, which it dlopens, resolve its symbols against it.
        if ((handle = dlopen(lib, RTLD_NOW | RTLD_GLOBAL))) break;
        tried += fmt::format("{}{}", tried.empty() ? "" : "; ", dlerror());
      }
      if (!handle) {
        failure = "cannot load libpmix (" + tried + ")";
        return a;
      }
      auto sym = [&](auto& fn, const char* name) {
        fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
        if (!fn && failure.empty()) failure = fmt::format("libpmix has no {}", name);
      };
      sym(a.init, "PMIx_Init");
      sym(a.finalize, "PMIx_Finalize");
      sym(a.put, "PMIx_Put");
      sym(a.commit, "PMIx_Commit");
      sym(a.fenceNb, "PMIx_Fence_nb");
      sym(a.get, "PMIx_Get");
      sym(a.errorString, "PMIx_Error_string");
      sym(a.valueDestruct, "PMIx_Value_destruct");
      return a;
    }();
    *why = failure;
    return api;
  }

  std::string error(pmix_status_t status) const {
    return fmt::format("{} ({})", errorString(status), static_cast<int>(status));
  }
};

// pmix_info_t by hand: PMIX_INFO_LOAD and friends are macros over library functions, which this
// file does not link.
void setInfo(pmix_info_t& info, const char* key, bool flag) {
  std::memset(&info, 0, sizeof(info));
  std::strncpy(info.key, key, PMIX_MAX_KEYLEN);
  info.value.type = PMIX_BOOL;
  info.value.data.flag = flag;
}
void setInfo(pmix_info_t& info, const char* key, int value) {
  std::memset(&info, 0, sizeof(info));
  std::strncpy(info.key, key, PMIX_MAX_KEYLEN);
  info.value.type = PMIX_INT;
  info.value.data.integer = value;
}

// A fence's completion, shared with PMIx's callback: if we stop waiting (timeout), the callback
// may still come, so it holds its own reference.
struct FenceWait {
  std::mutex mutex;
  std::condition_variable done;
  bool finished = false;
  pmix_status_t status = PMIX_SUCCESS;
  pmix_info_t info[2];  // must live until PMIx is done with the request
};

void fenceDone(pmix_status_t status, void* cbdata) {
  auto* holder = static_cast<std::shared_ptr<FenceWait>*>(cbdata);
  {
    std::lock_guard<std::mutex> lock((*holder)->mutex);
    (*holder)->finished = true;
    (*holder)->status = status;
  }
  (*holder)->done.notify_all();
  delete holder;
}

class PmixKvs final : public LauncherKvs {
 public:
  explicit PmixKvs(double timeoutSec) : api_(PmixApi::load()), timeoutSec_(timeoutSec) {
    std::memset(&self_, 0, sizeof(self_));
    pmix_status_t rc = api_.init(&self_, nullptr, 0);
    STRATA_CHECK(rc == PMIX_SUCCESS, strataSystemError, "PMIx_Init failed: {}", api_.error(rc));
    initialised_ = true;
    pmix_proc_t job = self_;
    job.rank = PMIX_RANK_WILDCARD;
    size_ = static_cast<int>(getUint(job, PMIX_JOB_SIZE, -1));
    localRank_ = static_cast<int>(getUint(self_, PMIX_LOCAL_RANK, -1));
  }
  ~PmixKvs() override { finalize(); }

  const char* name() const override { return "PMIx"; }
  int rank() const override { return static_cast<int>(self_.rank); }
  int size() const override {
    STRATA_CHECK(size_ > 0, strataSystemError, "PMIx gave no job size ({})", PMIX_JOB_SIZE);
    return size_;
  }
  int localRank() const override { return localRank_; }

  void put(const std::string& key, const std::string& value) override {
    pmix_value_t v;
    std::memset(&v, 0, sizeof(v));
    v.type = PMIX_STRING;
    v.data.string = const_cast<char*>(value.c_str());  // PMIx_Put copies it
    pmix_status_t rc = api_.put(PMIX_GLOBAL, key.c_str(), &v);
    STRATA_CHECK(rc == PMIX_SUCCESS, strataSystemError, "PMIx_Put({}) failed: {}", key, api_.error(rc));
    rc = api_.commit();
    STRATA_CHECK(rc == PMIX_SUCCESS, strataSystemError, "PMIx_Commit failed: {}", api_.error(rc));
  }

  // PMIx_Fence_nb, so that our deadline holds even where the server ignores PMIX_TIMEOUT.
  void fence() override {
    auto wait = std::make_shared<FenceWait>();
    setInfo(wait->info[0], PMIX_COLLECT_DATA, true);
    setInfo(wait->info[1], PMIX_TIMEOUT, timeoutSec_ > 0 ? std::max(1, static_cast<int>(timeoutSec_)) : 0);
    pmix_proc_t all = self_;
    all.rank = PMIX_RANK_WILDCARD;
    auto* holder = new std::shared_ptr<FenceWait>(wait);
    pmix_status_t rc = api_.fenceNb(&all, 1, wait->info, 2, fenceDone, holder);
    if (rc != PMIX_SUCCESS) {
      delete holder;
      fail(strataSystemError, "PMIx_Fence_nb failed: {}", api_.error(rc));
    }
    std::unique_lock<std::mutex> lock(wait->mutex);
    auto finished = [&] { return wait->finished; };
    if (timeoutSec_ > 0) {
      // A bit longer than the server's own PMIX_TIMEOUT, so that its answer (naming the
      // missing processes, where it can) usually comes first.
      if (!wait->done.wait_for(lock, std::chrono::duration<double>(timeoutSec_ + 1), finished)) {
        fenceAbandoned_ = true;
        fail(strataTimeout, "PMIx fence: not every one of the {} processes arrived within {:.3g} s (are "
             "they all calling strataCommInitFromEnv?)", size_, timeoutSec_);
      }
    } else {
      wait->done.wait(lock, finished);
    }
    if (wait->status == PMIX_ERR_TIMEOUT)
      fail(strataTimeout, "PMIx fence: not every one of the {} processes arrived within {:.3g} s ({}; are "
           "they all calling strataCommInitFromEnv?)", size_, timeoutSec_, api_.error(wait->status));
    STRATA_CHECK(wait->status == PMIX_SUCCESS, strataSystemError, "PMIx fence failed: {}", api_.error(wait->status));
  }

  std::string get(int rank, const std::string& key) override {
    pmix_proc_t proc = self_;
    proc.rank = static_cast<pmix_rank_t>(rank);
    pmix_info_t info[1];
    setInfo(info[0], PMIX_TIMEOUT, timeoutSec_ > 0 ? std::max(1, static_cast<int>(timeoutSec_)) : 0);
    pmix_value_t* v = nullptr;
    pmix_status_t rc = api_.get(&proc, key.c_str(), info, 1, &v);
    STRATA_CHECK(rc == PMIX_SUCCESS && v, rc == PMIX_ERR_TIMEOUT ? strataTimeout : strataSystemError,
                 "PMIx_Get({} of rank {}) failed: {}", key, rank, api_.error(rc));
    std::string value;
    const bool isString = v->type == PMIX_STRING && v->data.string;
    if (isString) value = v->data.string;
    const int type = v->type;
    release(v);
    STRATA_CHECK(isString, strataSystemError, "PMIx_Get({} of rank {}): type {}, not a string", key, rank, type);
    return value;
  }

  void finalize() override {
    // After an abandoned fence PMIx still owns a request of ours; finalizing under it could
    // block, and the process is about to report the timeout and exit anyway.
    if (!initialised_ || fenceAbandoned_) return;
    initialised_ = false;
    api_.finalize(nullptr, 0);
  }

 private:
  // PMIX_VALUE_RELEASE without the macro: destruct, then free the malloc'ed holder.
  void release(pmix_value_t* v) const {
    api_.valueDestruct(v);
    std::free(v);
  }

  // An unsigned number that PMIx holds about `proc`; `fallback` when it has none.
  long getUint(const pmix_proc_t& proc, const char* key, long fallback) const {
    pmix_value_t* v = nullptr;
    if (api_.get(&proc, key, nullptr, 0, &v) != PMIX_SUCCESS || !v) return fallback;
    long out = fallback;
    switch (v->type) {
      case PMIX_UINT32: out = v->data.uint32; break;
      case PMIX_UINT16: out = v->data.uint16; break;
      case PMIX_UINT64: out = static_cast<long>(v->data.uint64); break;
      case PMIX_INT: out = v->data.integer; break;
      case PMIX_PROC_RANK: out = v->data.rank; break;
      default: break;
    }
    release(v);
    return out;
  }

  const PmixApi& api_;
  double timeoutSec_;
  pmix_proc_t self_;
  bool initialised_ = false;
  bool fenceAbandoned_ = false;
  int size_ = -1, localRank_ = -1;
};

}  // namespace

bool pmixLoads(std::string* why) {
  PmixApi::tryLoad(why);
  return why->empty();
}

std::unique_ptr<LauncherKvs> openPmix(double timeoutSec) { return std::make_unique<PmixKvs>(timeoutSec); }

#else  // !STRATA_HAVE_PMIX

constexpr const char* kNoPmix =
    "this Strata was built without PMIx's header (libpmix-dev); set STRATA_ROOT_ADDR (or MASTER_ADDR "
    "and MASTER_PORT)";

bool pmixLoads(std::string* why) {
  *why = kNoPmix;
  return false;
}

std::unique_ptr<LauncherKvs> openPmix(double) { fail(strataSystemError, "PMIx: {}", kNoPmix); }

#endif

}  // namespace strata
