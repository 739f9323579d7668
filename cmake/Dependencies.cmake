# Finds the dependencies with CMake's own machinery (pkg-config for hwloc, UCX and ibverbs).
# Required: threads, fmt. Optional (AUTO/ON/OFF): hwloc, UCX, ibverbs, CUDA. Each optional one sets STRATA_HAVE_<NAME> and is listed in the summary.
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(pugixml REQUIRED)  # NCCL topology XML
find_package(PkgConfig)

function(strata_optional name option found)
  if(${option} STREQUAL "ON" AND NOT ${found})
    message(FATAL_ERROR "${option}=ON but ${name} was not found")
  endif()
endfunction()

set(STRATA_HAVE_HWLOC OFF)
if(NOT STRATA_WITH_HWLOC STREQUAL "OFF" AND PkgConfig_FOUND)
  pkg_check_modules(HWLOC IMPORTED_TARGET hwloc)
  if(HWLOC_FOUND)
    set(STRATA_HAVE_HWLOC ON)
  endif()
endif()
strata_optional(hwloc STRATA_WITH_HWLOC STRATA_HAVE_HWLOC)

set(STRATA_HAVE_UCX OFF)
if(NOT STRATA_WITH_UCX STREQUAL "OFF" AND PkgConfig_FOUND)
  pkg_check_modules(UCX IMPORTED_TARGET ucx)
  if(UCX_FOUND)
    set(STRATA_HAVE_UCX ON)
  endif()
endif()
strata_optional(UCX STRATA_WITH_UCX STRATA_HAVE_UCX)

set(STRATA_HAVE_VERBS OFF)
if(NOT STRATA_WITH_VERBS STREQUAL "OFF" AND PkgConfig_FOUND)
  pkg_check_modules(IBVERBS IMPORTED_TARGET libibverbs)
  if(IBVERBS_FOUND)
    set(STRATA_HAVE_VERBS ON)
  endif()
endif()
strata_optional(ibverbs STRATA_WITH_VERBS STRATA_HAVE_VERBS)

# PMIx: only its header, for the layouts of its structures; src/comm/launcher_pmix.cc loads
# libpmix.so.2 with dlopen when a PMIx launcher started the process, so neither building nor
# running Strata needs it.
set(STRATA_HAVE_PMIX OFF)
if(NOT STRATA_WITH_PMIX STREQUAL "OFF" AND PkgConfig_FOUND)
  pkg_check_modules(PMIX QUIET pmix)
  if(PMIX_FOUND)
    set(STRATA_HAVE_PMIX ON)
  endif()
endif()
strata_optional(PMIx STRATA_WITH_PMIX STRATA_HAVE_PMIX)

set(STRATA_HAVE_CUDA OFF)
if(NOT STRATA_WITH_CUDA STREQUAL "OFF")
  # nvcc is often not on PATH (CUDA's installer leaves it in /usr/local/cuda/bin): look there too,
  # through CUDACXX, which check_language() and enable_language() both read.
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(ENV{CUDACXX} /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # A100 and H100 machine code plus Hopper PTX for later GPUs; only these, since every
    # architecture multiplies the kernels' compile time (CI is near its limit).
    # Sanitizer builds (which CI makes twice more) take PTX only: device code is not instrumented,
    # and the normal build already compiled the machine code.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND STRATA_SANITIZE)
      set(CMAKE_CUDA_ARCHITECTURES "90-virtual")
    elseif(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES "80-real;90-real;90-virtual")
    endif()
    # The static runtime: libstrata.so loads on machines without a CUDA driver (discovery then
    # reports no GPU) and needs no libcudart.so beside it.
    set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
    enable_language(CUDA)
    # C++17 for the .cu files: CMake 3.25 has no C++20 flags for nvcc (nothing there needs them).
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit QUIET)
    if(CUDAToolkit_FOUND)
      set(STRATA_HAVE_CUDA ON)
    endif()
  endif()
endif()
strata_optional(CUDA STRATA_WITH_CUDA STRATA_HAVE_CUDA)

# strata-plan draws its PNG chart with cairo (the tool only, not the library).
set(STRATA_HAVE_CAIRO OFF)
if(PkgConfig_FOUND)
  pkg_check_modules(CAIRO IMPORTED_TARGET cairo)
  if(CAIRO_FOUND)
    set(STRATA_HAVE_CAIRO ON)
  endif()
endif()

# Header-only helpers of the tools (not of the library).
find_package(CLI11 CONFIG QUIET)
find_package(nlohmann_json CONFIG QUIET)

function(strata_link_optional_deps target)
  target_link_libraries(${target} PUBLIC pugixml::pugixml ${CMAKE_DL_LIBS})
  if(STRATA_HAVE_HWLOC)
    target_link_libraries(${target} PUBLIC PkgConfig::HWLOC)
    target_compile_definitions(${target} PUBLIC STRATA_HAVE_HWLOC=1)
  endif()
  if(STRATA_HAVE_UCX)
    target_link_libraries(${target} PUBLIC PkgConfig::UCX)
    target_compile_definitions(${target} PUBLIC STRATA_HAVE_UCX=1)
  endif()
  if(STRATA_HAVE_VERBS)
    target_link_libraries(${target} PUBLIC PkgConfig::IBVERBS)
    target_compile_definitions(${target} PUBLIC STRATA_HAVE_VERBS=1)
  endif()
  if(STRATA_HAVE_CUDA)
    target_link_libraries(${target} PUBLIC CUDA::cudart_static)
    target_compile_definitions(${target} PUBLIC STRATA_HAVE_CUDA=1)
  endif()
endfunction()
