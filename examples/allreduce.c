/*
 * The smallest complete use of Strata: fork NRANKS processes on this host, build a communicator
 * and sum a vector across them. Usage: strata-example-allreduce [NRANKS=4] [COUNT=1000000]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strata/strata.h"

#define CHECK(call)                                                                         \
  do {                                                                                      \
    strataResult_t r_ = (call);                                                             \
    if (r_ != strataSuccess) {                                                              \
      fprintf(stderr, "%s failed: %s: %s\n", #call, strataGetErrorString(r_),               \
              strataGetLastError(NULL));                                                    \
      exit(1);                                                                              \
    }                                                                                       \
  } while (0)

/* Shared between the forked ranks: rank 0 creates the id, the others wait for it. */
struct SharedId {
  volatile int ready;
  strataUniqueId id;
};

static int runRank(int rank, int nranks, size_t count, struct SharedId* shared) {
  if (rank == 0) {
    /* Starts the bootstrap root (a thread) in this process. */
    CHECK(strataGetUniqueId(&shared->id));
    __atomic_store_n(&shared->ready, 1, __ATOMIC_RELEASE);
  }
  for (int i = 0; !__atomic_load_n(&shared->ready, __ATOMIC_ACQUIRE); i++) {
    if (i > 30000) return 1; /* 30 s */
    usleep(1000);
  }
  strataComm_t comm;
  CHECK(strataCommInitRank(&comm, nranks, shared->id, rank));
  float* data = malloc(count * sizeof(float));
  for (size_t i = 0; i < count; i++) data[i] = (float)(rank + 1);
  CHECK(strataAllReduce(data, data, count, strataFloat32, strataSum, comm, NULL)); /* in place */
  const float expect = (float)nranks * (nranks + 1) / 2;
  size_t wrong = 0;
  for (size_t i = 0; i < count; i++) wrong += data[i] != expect;
  if (rank == 0)
    printf("all-reduce of %zu floats over %d ranks with %s: %s\n", count, nranks,
           strataCommLastAlgorithm(comm), wrong ? "WRONG" : "correct");
  fflush(stdout); /* the caller leaves with _exit, which does not flush */
  free(data);
  CHECK(strataCommDestroy(comm));
  return wrong != 0;
}

int main(int argc, char** argv) {
  int nranks = argc > 1 ? atoi(argv[1]) : 4;
  size_t count = argc > 2 ? strtoull(argv[2], NULL, 0) : 1000000;
  if (nranks < 1) return 2;
  /* Forked before any thread exists; under a launcher this is strataCommInitFromEnv instead. */
  struct SharedId* shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return 2;
  shared->ready = 0;
  for (int r = 0; r < nranks; r++)
    if (fork() == 0) _exit(runRank(r, nranks, count, shared));
  int failed = 0, status;
  while (wait(&status) > 0) failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  return failed;
}
