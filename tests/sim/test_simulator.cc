#include <gtest/gtest.h>
TEST(SimulatorPlaceholder, Builds) { SUCCEED(); }
