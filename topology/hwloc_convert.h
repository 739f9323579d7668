// Private to topology/: the one conversion from a loaded hwloc topology to the model, shared by
// live discovery (discovery.cc) and hwloc XML files (formats_hwloc.cc) so that a machine and its
// exported XML give the same Topology.
#pragma once

#include <string>

#include "topology/model.h"

#ifdef STRATA_HAVE_HWLOC
#include <hwloc.h>

namespace strata::topo::detail {

// The I/O filters both paths use before hwloc_topology_load: bridges and OS devices as hwloc
// judges them important, every PCI device (NVSwitches are "other bridge" class 0x0680 devices
// that the important filter may drop); the conversion keeps only what the model needs.
void configureHwlocFilters(hwloc_topology_t topology);

// CPUs (NUMA domains), PCIe switches, GPUs, NICs and NVSwitches with their PCIe links, the CPU
// interconnect, and NVLinks from an "NVLinkBandwidth" distance matrix when hwloc has one.
// Leaves Topology::source and hwlocXml to the caller.
Topology fromHwloc(hwloc_topology_t topology);

// hwloc's XML 2.x export of a loaded topology; throws std::runtime_error when hwloc fails.
std::string exportHwlocXml(hwloc_topology_t topology);

// hwloc unloads its plugins when the last topology is destroyed; the PCI plugin's library keeps
// its PCI database in globals, which then become unreachable memory that LeakSanitizer reports
// on every run. Called before creating a topology: keeps one for the life of the process.
void keepHwlocPluginsLoaded();

}  // namespace strata::topo::detail
#endif

namespace strata::topo::detail {

// "0000:07:00.0": 4+ hex digits of domain, lower case, as hwloc and NCCL print bus ids; NVML
// prints 8 digits of domain. Returns the text unchanged when it is not a bus id.
std::string normalizeBusId(const std::string& busId);

}  // namespace strata::topo::detail
