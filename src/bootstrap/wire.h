// The bootstrap's messages and their parsers, apart from the sockets: every byte a root or a
// rank reads from a connection goes through one of these pure functions first, so they can be
// tested and fuzzed alone (tests/fuzz/fuzz_bootstrap_wire.cc). Nothing a peer sends is trusted:
// each parser bounds every length and range before anything is allocated or copied.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"
#include "strata/strata.h"

namespace strata::wire {

constexpr uint32_t kWireMagic = 0x53544257;  // "STBW": every bootstrap frame starts with it

// Every message on a bootstrap connection is a header followed by bodyBytes bytes. Ranks of one
// communicator run the same build, so structs travel in host layout (as NCCL's bootstrap does).
enum FrameType : uint32_t {
  kRootHello = 1,  // rank -> root: RootHello
  kRootTable = 2,  // root -> rank: nranks listen addresses
  kRootError = 3,  // root -> rank: int32 result code, then the text
  kPeerHello = 4,  // rank -> rank, first frame on a ring or point-to-point connection: PeerHello
  kP2pData = 5,    // send() payload
  kAllGather = 6,  // allGather: announces bytesPerRank before the ring steps
};

struct FrameHeader {
  uint32_t magic;
  uint32_t type;
  uint64_t bodyBytes;
};

struct RootHello {
  uint8_t secret[kSecretBytes];
  int32_t rank;
  int32_t nranks;
  sockaddr_storage listenAddr;
};

enum Channel : uint32_t { kRingChannel = 0, kP2pChannel = 1 };

struct PeerHello {
  uint8_t secret[kSecretBytes];
  int32_t rank;
  uint32_t channel;
};

// Longest error text the root sends, and that a rank accepts.
constexpr size_t kMaxErrorBytes = 4096;

inline FrameHeader makeHeader(FrameType type, uint64_t bodyBytes) {
  return FrameHeader{kWireMagic, type, bodyBytes};
}

// Collects the first frame of an accepted connection, which must be a hello of one type and size,
// from the pieces in which it arrives. Never asks for a byte past the hello: what follows it
// belongs to the connection's user.
class HelloReader {
 public:
  enum class State { NeedMore, Complete, Malformed };

  HelloReader(FrameType type, size_t helloBytes);
  // Where the next bytes go, and at most how many.
  uint8_t* room() { return frame_.data() + got_; }
  size_t roomBytes() const { return frame_.size() - got_; }
  // `n` (<= roomBytes()) bytes were written at room(). Malformed as soon as the header is not a
  // hello of our type and size: garbage, a foreign protocol or an absurd length.
  State add(size_t n);
  State state() const { return state_; }
  // The hello's body, once Complete.
  const uint8_t* body() const { return frame_.data() + sizeof(FrameHeader); }
  size_t bodyBytes() const { return helloBytes_; }

 private:
  FrameType type_;
  size_t helloBytes_;
  std::vector<uint8_t> frame_;  // header + body
  size_t got_ = 0;
  State state_ = State::NeedMore;
};

// What the root does with a complete hello body.
enum class RootHelloVerdict {
  Accept,    // a rank of ours with a plausible rank, nranks and listening address
  Intruder,  // without the secret, or with no usable address: close silently, tell it nothing
  BadRank,   // ours, but rank or nranks out of range: refuse with strataInvalidArgument
};
RootHelloVerdict checkRootHello(const uint8_t* body, size_t bytes,
                                const uint8_t secret[kSecretBytes], RootHello* hello);

// A rank admits a hello only with the secret, from another rank of the communicator, on a known
// channel. False: close the connection.
bool checkPeerHello(const uint8_t* body, size_t bytes, const uint8_t secret[kSecretBytes],
                    int selfRank, int nranks, PeerHello* hello);

// What the root's reply header announces to a rank of `nranks`.
struct RootReply {
  enum Kind { Table, Error, Malformed } kind;
  uint64_t bodyBytes;  // to read next (Table, Error)
  std::string problem;  // Malformed: why
};
RootReply parseRootReplyHeader(const FrameHeader& header, int nranks);

// The body of a kRootError frame (bytes within [4, kMaxErrorBytes], else Malformed above): the
// code the rank should fail with (strataRemoteError for any code the root may not send) and text.
struct RootError {
  strataResult_t code;
  std::string text;
};
RootError parseRootError(const uint8_t* body, size_t bytes);

// The first entry of the root's address table that is not an IPv4/IPv6 address with a port, or
// -1 when all are.
int firstBadTableEntry(const sockaddr_storage* table, int nranks);

}  // namespace strata::wire
