// Every datatype and reduction op of the public API, for sweeps.
#pragma once

#include "strata/strata.h"

namespace strata::testing {

inline constexpr strataDataType_t kAllTypes[] = {
    strataInt8,    strataUint8,   strataInt32,   strataUint32,    strataInt64,     strataUint64,
    strataFloat16, strataFloat32, strataFloat64, strataBfloat16, strataFloat8e4m3, strataFloat8e5m2};
static_assert(sizeof(kAllTypes) / sizeof(kAllTypes[0]) == strataNumTypes);

inline constexpr strataRedOp_t kAllOps[] = {strataSum, strataProd, strataMax, strataMin, strataAvg};
static_assert(sizeof(kAllOps) / sizeof(kAllOps[0]) == strataNumOps);

}  // namespace strata::testing
