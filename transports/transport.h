// The seam between algorithms and the wires. The executor sees each link to a peer as a pair of
// one-way channels that carry messages of up to maxMessageBytes() through transport-owned slots:
// the sender asks for a free slot, writes into it and posts it; the receiver looks at the next
// arrived message in place and releases it. Writing into and reducing straight out of the slots
// is what lets fused steps (recv-reduce-send) touch each byte once. Every call is non-blocking;
// waiting, deadlines and abort belong to the executor.
//
// Only transports/<name>/ knows how the slots are moved (shared memory today; TCP, UCX, verbs
// and CUDA IPC implement the same interface).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace strata {

struct TransportCaps {
  bool zeroCopy = false;      // the receiver reads the sender's memory with no copy in between
  bool oneSided = false;      // a write plus a signal without the peer posting a receive
  bool deviceMemory = false;  // slots may live in GPU memory
};

class SendChannel {
 public:
  virtual ~SendChannel() = default;
  // Where to write the next message of `bytes` (<= maxMessageBytes()), or nullptr while every
  // slot is in flight. Knowing the size lets a transport place small messages beside its own
  // signal, so that they travel as one cache line.
  virtual void* trySlot(size_t bytes) = 0;
  // Publishes the slot last returned by trySlot(), holding the `bytes` given there.
  virtual void post(size_t bytes) = 0;
  // True if postFrom() sends from the caller's memory. Over sockets that saves a copy of every
  // byte into the slot (the kernel copies from wherever the bytes are); over shared memory the
  // slot is the only way across, so there is nothing to save.
  virtual bool canPostFrom() const { return false; }
  // Like post(), for the slot last returned by trySlot(), but the message is the `bytes` at
  // `data`, left where they are: they must not change until progress() has returned false
  // (the executor's flush at the end of every collective) or releaseCallerMemory() has moved
  // them. Only if canPostFrom().
  virtual void postFrom(const void* data, size_t bytes) {
    (void)data;
    (void)bytes;
  }
  virtual size_t maxMessageBytes() const = 0;
};

class RecvChannel {
 public:
  virtual ~RecvChannel() = default;
  // The next message in arrival order, or nullptr if it has not arrived; *bytes gets its size.
  // The same message is returned until release().
  virtual const void* tryPeek(size_t* bytes) = 0;
  // Frees the slot of the message last returned by tryPeek(), for the sender to reuse.
  virtual void release() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;
  virtual TransportCaps caps() const = 0;
  // Channels to / from a peer rank (a communicator rank). The transport owns them.
  virtual SendChannel& sendChannel(int peer) = 0;
  virtual RecvChannel& recvChannel(int peer) = 0;
  // Moves posted data that has not left yet, without waiting; true while some remains. A
  // transport that hands data over inside post() (shared memory) has nothing to do. For one that
  // queues bytes (TCP), a rank whose last step was a post must call this until false before its
  // collective completes, or its peer may wait for bytes that never leave.
  virtual bool progress() { return false; }
  // Blocks until this transport may have news for a waiting rank (bytes arrived, room to send)
  // or `micros` pass; false at once if it has nothing to wait on (the caller naps instead). A rank
  // waiting on the network must leave the CPU: with more ranks than cores, a spinning rank takes
  // the cycles the kernel needs to deliver the very bytes it waits for.
  // Copies into their slots the bytes of the messages posted with postFrom() that have not yet
  // left and overlap [from, from + bytes) (from == nullptr: all of them), so that nothing still
  // refers to that memory: before the caller writes there, or frees it (a collective that ends
  // with an error before its flush).
  virtual void releaseCallerMemory(const void* from = nullptr, size_t bytes = SIZE_MAX) {
    (void)from;
    (void)bytes;
  }
  virtual bool waitForEvents(int micros) {
    (void)micros;
    return false;
  }
  // True if data from `peer` and room to send to it show up as events waitForEvents() wakes on.
  virtual bool eventDriven(int peer) const {
    (void)peer;
    return false;
  }
};

}  // namespace strata
