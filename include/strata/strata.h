/*
 * Strata: collective communication for very large GPU fabrics.
 *
 * The C API. It is shaped like NCCL's so that training code feels at home: a unique id created
 * on one rank and shared out of band, a communicator per (nranks, id, rank), collectives that
 * take a stream. With a null stream and host buffers a collective is a blocking host
 * collective that returns when the result is in recvbuff.
 *
 * Every function returns a strataResult_t. strataGetErrorString() names a code;
 * strataGetLastError() gives the text of the last failure on that communicator (or, for calls
 * without one, on the calling thread).
 */
#ifndef STRATA_STRATA_H_
#define STRATA_STRATA_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_MAJOR 0
#define STRATA_MINOR 1
#define STRATA_PATCH 0
#define STRATA_VERSION_CODE (STRATA_MAJOR * 10000 + STRATA_MINOR * 100 + STRATA_PATCH)

typedef enum {
  strataSuccess = 0,
  strataUnhandledCudaError = 1,
  strataSystemError = 2,      /* a system call failed (socket, shm, mmap, fork) */
  strataInternalError = 3,    /* a bug in Strata */
  strataInvalidArgument = 4,  /* a bad value: null pointer, count overflow, unknown type or op */
  strataInvalidUsage = 5,     /* a call out of order: use after destroy, mismatched init */
  strataRemoteError = 6,      /* a peer failed or went away */
  strataInProgress = 7,       /* a non-blocking operation has not finished yet */
  strataTimeout = 8,          /* a wait passed the communicator's deadline */
  strataAborted = 9,          /* strataCommAbort was called */
  strataNumResults = 10
} strataResult_t;

typedef enum {
  strataInt8 = 0,
  strataUint8 = 1,
  strataInt32 = 2,
  strataUint32 = 3,
  strataInt64 = 4,
  strataUint64 = 5,
  strataFloat16 = 6,
  strataFloat32 = 7,
  strataFloat64 = 8,
  strataBfloat16 = 9,
  strataFloat8e4m3 = 10,
  strataFloat8e5m2 = 11,
  strataNumTypes = 12,
  strataDataTypeMaxEnum_ = 0x7fffffff /* keeps the type int-sized; not a type */
} strataDataType_t;

/* NCCL-style aliases. */
#define strataChar strataInt8
#define strataInt strataInt32
#define strataHalf strataFloat16
#define strataFloat strataFloat32
#define strataDouble strataFloat64

typedef enum {
  strataSum = 0,
  strataProd = 1,
  strataMax = 2,
  strataMin = 3,
  strataAvg = 4, /* sum, then one division by nranks (integer division for integer types) */
  strataNumOps = 5,
  strataRedOpMaxEnum_ = 0x7fffffff /* keeps the type int-sized; not an op */
} strataRedOp_t;

/* An opaque token created by strataGetUniqueId on one rank and given to all others. It carries
 * the root's bootstrap address and a random secret that every bootstrap connection presents. */
#define STRATA_UNIQUE_ID_BYTES 128
typedef struct {
  char internal[STRATA_UNIQUE_ID_BYTES];
} strataUniqueId;

typedef struct strataComm* strataComm_t;

/* A stream handle: a cudaStream_t for collectives on device buffers (NULL is CUDA's default
 * stream), which are enqueued on it and complete in its order; NULL for host buffers, on which a
 * collective blocks until the result is in recvbuff. */
typedef void* strataStream_t;

/* Communicator configuration. Initialise with STRATA_CONFIG_INITIALIZER, then set fields; a
 * negative number or NULL string means "use the default" (which STRATA_* variables may set).
 * Versioning: new fields are only ever added at the end, and `size` tells the library which
 * fields a program knows; fields beyond a program's size take their defaults. So a program built
 * against an older header keeps working with a newer library. */
typedef struct {
  size_t size;          /* sizeof(strataConfig_t), set by the initializer */
  unsigned int magic;   /* set by the initializer */
  unsigned int version; /* STRATA_VERSION_CODE, set by the initializer */
  int blocking;         /* 1: init (and shrink) return once connected; 0: they return
                           strataInProgress at once and connect in the background, and
                           strataCommGetAsyncError says strataInProgress until the communicator is
                           ready (then strataSuccess, or the error); default STRATA_COMM_BLOCKING
                           or 1 */
  double timeoutSec;    /* deadline for every wait; default STRATA_TIMEOUT or 300 s */
  long long chunkBytes; /* pipeline chunk (a transport slot); 0: automatic; default STRATA_CHUNK_BYTES */
  int fifoDepth;        /* chunks in flight per connection; default STRATA_FIFO_DEPTH */
  const char* algorithm; /* force an algorithm by name ("ring", "oneshot", "chain", "tree"...) for
                           every collective that has one; default STRATA_ALGO or auto */
  long long oneShotMaxBytes; /* largest message for the one-shot path; default STRATA_ONESHOT_MAX_BYTES */
  const char* slotStores; /* "cached", "streaming" or "auto" (measured); default STRATA_SLOT_STORES */
  int spinCount;        /* polls before a waiting rank yields; default STRATA_SPIN_COUNT */
  /* Added after 0.1.0's fields: plan as if every ranksPerHost consecutive ranks formed a host,
   * to exercise the hierarchical algorithms on one machine (the transport stays shared memory).
   * nranks must be a multiple of it. 0: the real hosts; default STRATA_RANKS_PER_HOST. */
  int ranksPerHost;
  /* Added after ranksPerHost. How ranks reach each other: "auto" (shared memory inside a host;
   * between hosts UCX where every rank has an RDMA device and the build has UCX, else TCP),
   * "shm" (one host only), "tcp" or "ucx" (that
   * transport to every pair, even on one host), "shm+tcp" or "shm+ucx" (shared memory inside a
   * host, that transport between hosts); default STRATA_TRANSPORT. tcpStreams: TCP connections
   * per pair of ranks; default STRATA_TCP_STREAMS. */
  const char* transport;
  int tcpStreams;
  /* Added after tcpStreams. All-reduce on device buffers when every rank is on one host (at most
   * 8 ranks): 1 through CUDA IPC, GPU to GPU (every rank must then pass device buffers); 0 staged
   * through pinned host memory as the other collectives are; default STRATA_CUDA_IPC. */
  int cudaIpc;
} strataConfig_t;

#define STRATA_CONFIG_MAGIC 0x5354524bu
#define STRATA_CONFIG_INITIALIZER \
  { sizeof(strataConfig_t), STRATA_CONFIG_MAGIC, STRATA_VERSION_CODE, -1, -1.0, -1, -1, NULL, -1, NULL, -1, -1, NULL, -1, -1 }

/* Version of the library that is linked (STRATA_VERSION_CODE at its build). */
strataResult_t strataGetVersion(int* version);

/* Creates a unique id on the root rank: opens the bootstrap listener there. Call once per
 * communicator; the id cannot be reused for a second communicator. */
strataResult_t strataGetUniqueId(strataUniqueId* uniqueId);

/* Creates a communicator of nranks ranks; every rank calls it with the same id. With
 * config->blocking == 0 it returns strataInProgress and a handle at once, and connects in the
 * background: poll strataCommGetAsyncError until it is no longer strataInProgress before using
 * the communicator (collectives return strataInProgress until then). strataCommAbort stops the
 * connecting; strataCommDestroy waits for it to end. */
strataResult_t strataCommInitRank(strataComm_t* comm, int nranks, strataUniqueId commId, int rank);
strataResult_t strataCommInitRankConfig(strataComm_t* comm, int nranks, strataUniqueId commId,
                                        int rank, const strataConfig_t* config);

/* Creates a communicator from launcher variables: STRATA_RANK/STRATA_NRANKS/STRATA_ROOT_ADDR
 * (host:port), or torchrun's RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT. Rank 0 listens on that
 * address; config may be NULL. */
strataResult_t strataCommInitFromEnv(strataComm_t* comm, const strataConfig_t* config);

/* Frees a communicator after every operation on it finished. */
strataResult_t strataCommDestroy(strataComm_t comm);
/* Stops every operation of the communicator (they return strataAborted) and frees it. Safe to
 * call from another thread while a collective is waiting. */
strataResult_t strataCommAbort(strataComm_t comm);

/* Makes a new communicator of the ranks of comm that are not in excludeRanks (nExclude of them),
 * numbered in their old order, as NCCL's ncclCommShrink does. Every rank that is not excluded
 * calls it with the same list; excluded ranks must not call it (they may be dead). It works after
 * a peer died or hung, even rank 0: the lowest surviving rank starts a new bootstrap root and
 * sends its address to the other survivors over comm's bootstrap connections (docs/reliability.md).
 * The survivors wait for each other up to twice comm's timeout: one may learn of a death at once
 * (a broken connection), another only when its own collective times out. config NULL: comm's configuration. Ranks that pass different lists fail with
 * strataInvalidUsage. comm stays valid until destroyed (after a failure, destroy it with
 * strataCommAbort or strataCommDestroy). With config->blocking == 0 the new communicator connects
 * in the background and the call returns strataInProgress, as strataCommInitRankConfig does. */
strataResult_t strataCommShrink(strataComm_t comm, const int* excludeRanks, int nExclude,
                                strataComm_t* newcomm, const strataConfig_t* config);

strataResult_t strataCommCount(const strataComm_t comm, int* count);
strataResult_t strataCommUserRank(const strataComm_t comm, int* rank);
/* The last asynchronous error of the communicator: strataInProgress while a non-blocking init or
 * shrink connects, then strataSuccess while healthy, or the error that broke it. */
strataResult_t strataCommGetAsyncError(strataComm_t comm, strataResult_t* asyncError);

/* recvbuff[i] = op over ranks of sendbuff[i], for i < count, on every rank. In place when
 * sendbuff == recvbuff. stream must be NULL for host buffers. */
strataResult_t strataAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                               strataDataType_t datatype, strataRedOp_t op, strataComm_t comm,
                               strataStream_t stream);

/* recvbuff[i] = op over ranks of sendbuff[rank * recvcount + i], for i < recvcount: rank r gets
 * block r of the reduction of the ranks' sendbuff of nranks * recvcount elements. In place when
 * recvbuff == sendbuff + rank * recvcount (sendbuff then holds the whole input). */
strataResult_t strataReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                                   strataDataType_t datatype, strataRedOp_t op, strataComm_t comm,
                                   strataStream_t stream);

/* recvbuff[r * sendcount + i] = sendbuff of rank r [i], for every rank r and i < sendcount, on
 * every rank. In place when sendbuff == recvbuff + rank * sendcount. */
strataResult_t strataAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                               strataDataType_t datatype, strataComm_t comm, strataStream_t stream);

/* recvbuff[i] = root's sendbuff[i], for i < count, on every rank. sendbuff is read on the root
 * only (it may be NULL elsewhere); in place when sendbuff == recvbuff on the root. */
strataResult_t strataBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                               strataDataType_t datatype, int root, strataComm_t comm,
                               strataStream_t stream);

/* root's recvbuff[i] = op over ranks of sendbuff[i], for i < count. recvbuff is written on the
 * root only (it may be NULL elsewhere); in place when sendbuff == recvbuff. */
strataResult_t strataReduce(const void* sendbuff, void* recvbuff, size_t count,
                            strataDataType_t datatype, strataRedOp_t op, int root,
                            strataComm_t comm, strataStream_t stream);

/* Name of the algorithm and transport the last collective on comm used ("ring/shm"). */
const char* strataCommLastAlgorithm(const strataComm_t comm);

const char* strataGetErrorString(strataResult_t result);
/* Text of the last failure on comm; comm may be NULL for failures without a communicator. */
const char* strataGetLastError(strataComm_t comm);

/* Size in bytes of one element of datatype, or 0 for an unknown type. */
size_t strataTypeSize(strataDataType_t datatype);
const char* strataTypeName(strataDataType_t datatype);
const char* strataOpName(strataRedOp_t op);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_STRATA_H_ */
