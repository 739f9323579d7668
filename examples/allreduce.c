/*
 * The smallest complete use of Strata: fork NRANKS processes on this host, build a communicator
 * and sum a vector across them. Usage: strata-example-allreduce [NRANKS=4] [COUNT=1000000]
 *
 * Under a launcher, replace the fork and the unique id with strataCommInitFromEnv().
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

static int runRank(int rank, int nranks, size_t count, strataUniqueId id) {
  strataComm_t comm;
  CHECK(strataCommInitRank(&comm, nranks, id, rank));
  float* data = malloc(count * sizeof(float));
  for (size_t i = 0; i < count; i++) data[i] = (float)(rank + 1);
  CHECK(strataAllReduce(data, data, count, strataFloat32, strataSum, comm, NULL)); /* in place */
  const float expect = (float)nranks * (nranks + 1) / 2;
  size_t wrong = 0;
  for (size_t i = 0; i < count; i++) wrong += data[i] != expect;
  if (rank == 0)
    printf("all-reduce of %zu floats over %d ranks with %s: %s\n", count, nranks,
           strataCommLastAlgorithm(comm), wrong ? "WRONG" : "correct");
  free(data);
  CHECK(strataCommDestroy(comm));
  return wrong != 0;
}

int main(int argc, char** argv) {
  int nranks = argc > 1 ? atoi(argv[1]) : 4;
  size_t count = argc > 2 ? strtoull(argv[2], NULL, 0) : 1000000;
  if (nranks < 1) return 2;
  /* The id is created before forking so that every rank inherits it; the bootstrap root thread
   * it starts lives in this parent process. */
  strataUniqueId id;
  CHECK(strataGetUniqueId(&id));
  for (int r = 0; r < nranks; r++)
    if (fork() == 0) _exit(runRank(r, nranks, count, id));
  int failed = 0, status;
  while (wait(&status) > 0) failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  return failed;
}
