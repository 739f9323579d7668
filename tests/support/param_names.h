// Names for value-parameterized tests: gtest allows only letters, digits and '_' in them.
#pragma once

#include <cctype>
#include <string>

namespace strata::testing {

// `text` with every character gtest does not allow in a test name replaced by '_'
// ("hier-radix-hd" -> "hier_radix_hd").
inline std::string testNameOf(std::string text) {
  for (char& c : text)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return text;
}

}  // namespace strata::testing
