// Typed errors inside Strata. Code throws strata::Error with the result code and the context of
// the failure; the C API boundary (src/api.cc) converts it once into strataResult_t and stores
// the text as the communicator's last error.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "strata/strata.h"

namespace strata {

class Error : public std::runtime_error {
 public:
  Error(strataResult_t code, std::string what) : std::runtime_error(std::move(what)), code_(code) {}
  strataResult_t code() const { return code_; }

 private:
  strataResult_t code_;
};

template <typename... Args>
[[noreturn]] void fail(strataResult_t code, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(code, fmt::format(f, std::forward<Args>(args)...));
}

// A failed system call: the message names the call and errno's text.
template <typename... Args>
[[noreturn]] void failErrno(fmt::format_string<Args...> f, Args&&... args) {
  int e = errno;
  throw Error(strataSystemError,
              fmt::format("{}: {}", fmt::format(f, std::forward<Args>(args)...), std::strerror(e)));
}

}  // namespace strata

// Checks an argument or state; on failure throws with the condition's context.
#define STRATA_CHECK(cond, code, ...)              \
  do {                                             \
    if (!(cond)) ::strata::fail((code), __VA_ARGS__); \
  } while (0)
