// Presets of real machines, built from published facts (../shared/facts/FABRICS.md): a
// Topology of one server each.
#pragma once

#include <string>
#include <vector>

#include "topology/model.h"

namespace strata::topo {

struct PresetInfo {
  std::string name;         // "dgx-h100"
  std::string description;  // one line
};

const std::vector<PresetInfo>& machinePresets();  // dgx-h100, hgx-h200, dgx-a100 at least
// Throws std::invalid_argument listing the known names.
Topology machinePreset(const std::string& name);

}  // namespace strata::topo
