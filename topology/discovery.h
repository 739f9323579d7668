// The live machine: hwloc for the CPU/NUMA and PCIe tree with GPUs and NICs by class and
// vendor, NVML (loaded at run time with dlopen, when present) for NVLink peers and counts, and
// libibverbs (when built with it and devices exist) for NIC ports. Whatever is missing degrades
// with a note in Topology::notes, never an error. STRATA_TOPO_FILE, when set, replaces
// discovery with that file, as NCCL_TOPO_FILE does.
#pragma once

#include "gpu/inventory.h"
#include "topology/model.h"

namespace strata::topo {

Topology discoverLocal();

// CUDA's view of the GPUs into the model: compute capability, memory and name for the GPUs
// found by PCI bus id, a loose GPU node (with a note) for one the PCIe tree lacks, and a note with
// CUDA's reason when it lists none. NVLinks come from NVML (discoverLocal).
void mergeCudaInventory(Topology& topology, const gpu::Inventory& inventory);

}  // namespace strata::topo
