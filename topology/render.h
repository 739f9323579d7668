// Views of a topology for people and tools: the nvidia-smi-style matrices, JSON, Graphviz DOT,
// and an SVG picture drawn by Strata itself (no external renderer needed).
#pragma once

#include <string>

#include "topology/fabric.h"
#include "topology/model.h"

namespace strata::topo {

std::string summaryText(const Topology& topology);  // counts, models, notes
std::string treeText(const Topology& topology);     // CPU > PCIe switches > devices, indented
// GPU x GPU and GPU x NIC matrix as `nvidia-smi topo -m` prints it, with a legend, plus CPU/NUMA
// affinity columns and each NIC's rail.
std::string matrixText(const Topology& topology);
std::string toJson(const Topology& topology);
std::string toDot(const Topology& topology);
std::string toSvg(const Topology& topology);
std::string fabricSummaryText(const Fabric& fabric, const FabricSummary& summary);
std::string fabricToJson(const Fabric& fabric, const FabricSummary& summary);
std::string fabricToSvg(const Fabric& fabric, const FabricSummary& summary);

}  // namespace strata::topo
