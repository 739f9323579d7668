// Machine presets: one server each, built from published facts (shared/facts/FABRICS.md and the
// vendors' system descriptions), for planning and simulation without the hardware.
//
// The PCIe tree of these 8-GPU servers is modelled alike: four PCIe switch chips, two per CPU
// socket, each carrying two GPUs and two NICs (DGX H100 and DGX A100 both do so). Each chip is
// an upstream switch node with two downstream switch nodes, and GPU i shares its downstream
// switch with NIC i: that is the pairing the vendors cable (NIC i is GPU i's rail) and what
// NCCL picks, so the nearest NIC of GPU i is NIC i at PIX and the chip's other NIC is at PXB.
// NVSwitch chips hang off NVLink only: their PCIe management link carries no data, so it is
// left out. Bus ids are left empty rather than invented.
#include "topology/presets.h"

#include <functional>
#include <stdexcept>

#include <fmt/format.h>

namespace strata::topo {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

struct MachineSpec {
  std::string gpuModel;
  int gpuSm = 0;
  uint64_t gpuMemory = 0;
  int gpus = 8;
  std::vector<int> lanesPerSwitch;  // NVLink lanes from each GPU to each NVSwitch chip
  std::string nvswitchModel;
  std::string cpuModel;
  uint64_t memoryPerSocket = 0;
  double cpuInterconnectGBps = 0;   // NCCL's figure for the CPU family (src/graph/topo.h)
  int pciGen = 0;
  std::string nicModel;
  double nicGbps = 0;
  std::string linkLayer;
  int extraNics = 0;                // NICs beside the rails (front-end, storage), under CPU 0
  std::string extraNicModel;
};

Link pciLink(NodeId a, NodeId b, int gen) {
  Link link;
  link.a = a;
  link.b = b;
  link.kind = LinkKind::Pci;
  link.pciGen = gen;
  link.pciWidth = 16;
  link.bandwidthGBps = pciBandwidthGBps(gen, 16);
  return link;
}

// A NIC with its one port, cabled to `rail` (-1: not on a rail).
NodeId addNic(Topology& t, const MachineSpec& spec, int index, int rail, const std::string& model) {
  Node nic;
  nic.kind = NodeKind::Nic;
  nic.index = index;
  nic.name = fmt::format("mlx5_{}", index);
  nic.model = model;
  nic.speedGbps = spec.nicGbps;
  nic.linkLayer = spec.linkLayer;
  nic.rail = rail;
  nic.gpuDirect = true;
  const NodeId id = t.addNode(nic);
  Node port;
  port.kind = NodeKind::NicPort;
  port.index = 1;
  port.name = nic.name + ":1";
  port.speedGbps = spec.nicGbps;
  port.linkLayer = spec.linkLayer;
  port.rail = rail;
  const NodeId portId = t.addNode(port);
  Link wire;
  wire.a = id;
  wire.b = portId;
  wire.kind = LinkKind::Net;
  wire.bandwidthGBps = spec.nicGbps / 8;
  t.addLink(wire);
  return id;
}

Topology build(const std::string& name, const MachineSpec& spec) {
  Topology t;
  t.source = "preset " + name;

  NodeId cpus[2];
  for (int s = 0; s < 2; ++s) {
    Node cpu;
    cpu.kind = NodeKind::Cpu;
    cpu.index = s;
    cpu.name = fmt::format("NUMA{}", s);
    cpu.model = spec.cpuModel;
    cpu.memoryBytes = spec.memoryPerSocket;
    cpus[s] = t.addNode(cpu);
  }
  Link upi;
  upi.a = cpus[0];
  upi.b = cpus[1];
  upi.kind = LinkKind::CpuInterconnect;
  upi.bandwidthGBps = spec.cpuInterconnectGBps;
  t.addLink(upi);

  std::vector<NodeId> nvswitches;
  for (size_t k = 0; k < spec.lanesPerSwitch.size(); ++k) {
    Node sw;
    sw.kind = NodeKind::NvSwitch;
    sw.index = static_cast<int32_t>(k);
    sw.name = fmt::format("NVSwitch{}", k);
    sw.model = spec.nvswitchModel;
    nvswitches.push_back(t.addNode(sw));
  }

  // Four switch chips, two per socket; each has two downstream switches of one GPU + one NIC.
  const int pairsPerChip = 2;
  for (int chip = 0; chip < spec.gpus / pairsPerChip; ++chip) {
    Node upstream;
    upstream.kind = NodeKind::PciSwitch;
    upstream.index = chip;
    upstream.name = fmt::format("PCIeSwitch{}", chip);
    const NodeId up = t.addNode(upstream);
    t.addLink(pciLink(cpus[chip * 2 / (spec.gpus / pairsPerChip)], up, spec.pciGen));
    for (int j = 0; j < pairsPerChip; ++j) {
      const int i = chip * pairsPerChip + j;  // GPU i, NIC i, rail i
      Node downstream;
      downstream.kind = NodeKind::PciSwitch;
      downstream.index = spec.gpus / pairsPerChip + i;
      downstream.name = fmt::format("PCIeSwitch{}.{}", chip, j);
      const NodeId down = t.addNode(downstream);
      t.addLink(pciLink(up, down, spec.pciGen));

      Node gpu;
      gpu.kind = NodeKind::Gpu;
      gpu.index = i;
      gpu.name = fmt::format("GPU{}", i);
      gpu.model = spec.gpuModel;
      gpu.gpuSm = spec.gpuSm;
      gpu.memoryBytes = spec.gpuMemory;
      const NodeId g = t.addNode(gpu);
      t.addLink(pciLink(down, g, spec.pciGen));
      for (size_t k = 0; k < nvswitches.size(); ++k) {
        Link nv;
        nv.a = g;
        nv.b = nvswitches[k];
        nv.kind = LinkKind::NvLink;
        nv.lanes = spec.lanesPerSwitch[k];
        nv.bandwidthGBps = nvlinkBandwidthGBps(spec.gpuSm, nv.lanes);
        t.addLink(nv);
      }
      t.addLink(pciLink(down, addNic(t, spec, i, i, spec.nicModel), spec.pciGen));
    }
  }
  for (int e = 0; e < spec.extraNics; ++e)
    t.addLink(pciLink(cpus[0], addNic(t, spec, spec.gpus + e, -1, spec.extraNicModel), spec.pciGen));
  return t;
}

MachineSpec hopperSpec() {
  MachineSpec spec;
  spec.gpuModel = "H100 SXM5 80GB";
  spec.gpuSm = 90;
  spec.gpuMemory = 80 * kGiB;
  // 18 NVLink4 links per GPU over 4 NVSwitch chips, as NVIDIA wires the HGX H100 baseboard.
  spec.lanesPerSwitch = {5, 4, 4, 5};
  spec.nvswitchModel = "NVSwitch (NVLink4)";
  spec.cpuModel = "Intel Xeon Platinum 8480C";
  spec.memoryPerSocket = 1024 * kGiB;  // DGX H100: 2 TB
  // Sapphire Rapids: family 6, model 0x8F.
  spec.cpuInterconnectGBps = cpuInterconnectBandwidthGBps("x86_64", "GenuineIntel", 6, 0x8F);
  spec.pciGen = 5;
  spec.nicModel = "ConnectX-7";
  spec.nicGbps = 400;
  spec.linkLayer = "InfiniBand";
  return spec;
}

struct PresetEntry {
  PresetInfo info;
  std::function<MachineSpec()> spec;
};

const std::vector<PresetEntry>& entries() {
  static const std::vector<PresetEntry> list = {
      {{"dgx-h100", "NVIDIA DGX H100: 8x H100 SXM5 80GB (NV18 over 4 NVSwitches), 2x Xeon 8480C, "
                    "8x ConnectX-7 400G InfiniBand, PCIe Gen5"},
       hopperSpec},
      {{"hgx-h200", "HGX H200 in the DGX layout: 8x H200 141GB (NV18 over 4 NVSwitches), 2x Xeon "
                    "8480C, 8x ConnectX-7 400G InfiniBand, PCIe Gen5"},
       [] {
         MachineSpec spec = hopperSpec();
         spec.gpuModel = "H200 SXM 141GB";
         spec.gpuMemory = 141 * kGiB;  // nominal; the HBM3e stacks hold 144 GiB
         return spec;
       }},
      {{"dgx-a100", "NVIDIA DGX A100: 8x A100 SXM4 40GB (NV12 over 6 NVSwitches), 2x EPYC 7742, "
                    "8x ConnectX-6 HDR 200G InfiniBand, PCIe Gen4"},
       [] {
         MachineSpec spec;
         spec.gpuModel = "A100 SXM4 40GB";
         spec.gpuSm = 80;
         spec.gpuMemory = 40 * kGiB;
         spec.lanesPerSwitch = {2, 2, 2, 2, 2, 2};  // 12 NVLink3 links, 2 to each of 6 switches
         spec.nvswitchModel = "NVSwitch (NVLink3)";
         spec.cpuModel = "AMD EPYC 7742";
         spec.memoryPerSocket = 512 * kGiB;  // DGX A100 320GB: 1 TB
         spec.cpuInterconnectGBps = cpuInterconnectBandwidthGBps("x86_64", "AuthenticAMD", 0, 0);
         spec.pciGen = 4;
         spec.nicModel = "ConnectX-6";
         spec.nicGbps = 200;
         spec.linkLayer = "InfiniBand";
         return spec;
       }},
      {{"hgx-h100-colossus", "Colossus server (Supermicro HGX H100): 8x H100, 8x BlueField-3 400GbE "
                             "on the rails plus a 9th for the front end (3.6 Tb/s), Spectrum-X"},
       [] {
         MachineSpec spec = hopperSpec();
         spec.nicModel = "BlueField-3 SuperNIC";
         spec.linkLayer = "Ethernet";
         spec.extraNics = 1;
         spec.extraNicModel = "BlueField-3";
         return spec;
       }},
  };
  return list;
}

}  // namespace

const std::vector<PresetInfo>& machinePresets() {
  static const std::vector<PresetInfo> infos = [] {
    std::vector<PresetInfo> out;
    for (const PresetEntry& e : entries()) out.push_back(e.info);
    return out;
  }();
  return infos;
}

Topology machinePreset(const std::string& name) {
  std::string known;
  for (const PresetEntry& e : entries()) {
    if (e.info.name == name) return build(name, e.spec());
    known += (known.empty() ? "" : ", ") + e.info.name;
  }
  throw std::invalid_argument(fmt::format("unknown machine preset '{}' (known: {})", name, known));
}

}  // namespace strata::topo
