# Finds every external dependency once, so subdirectories only link targets.

# libtorch: from the PyPI torch wheel in the project's .venv (scripts/setup.sh), or from
# whatever python3 is on PATH (the GPU host's own PyTorch). An explicit CMAKE_PREFIX_PATH wins.
if(NOT DEFINED DUO_PYTHON)
  if(EXISTS ${CMAKE_SOURCE_DIR}/.venv/bin/python)
    set(DUO_PYTHON ${CMAKE_SOURCE_DIR}/.venv/bin/python)
  else()
    find_program(DUO_PYTHON NAMES python3 REQUIRED)
  endif()
endif()
set(DUO_PYTHON ${DUO_PYTHON} CACHE FILEPATH "Python holding torch (for libtorch) and the test references")
execute_process(
  COMMAND ${DUO_PYTHON} -c "import torch; print(torch.utils.cmake_prefix_path)"
  OUTPUT_VARIABLE _duo_torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE _duo_torch_rc ERROR_QUIET)
if(_duo_torch_rc EQUAL 0)
  list(APPEND CMAKE_PREFIX_PATH ${_duo_torch_prefix})
endif()

# The CUDA libtorch wheel needs a CUDA toolkit to configure; CUDA 13's CMake config names
# no architecture for a machine without a GPU, so pick Hopper unless told otherwise.
if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(TORCH_CUDA_ARCH_LIST "9.0")
endif()
find_package(Torch REQUIRED)

find_package(HDF5 REQUIRED COMPONENTS C)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)

find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
# Plotting is optional: the GPU host has no PLplot, and only duo-analyze plot needs it.
pkg_check_modules(PLPLOT IMPORTED_TARGET plplot)

if(DUO_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# CUDA paths (kernels/, GPU memory statistics): when nvcc exists and libtorch was built with CUDA.
set(DUO_WITH_CUDA OFF)
if(NOT DUO_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER AND TARGET torch_cuda)
    set(DUO_WITH_CUDA ON)
  elseif(DUO_CUDA STREQUAL "ON")
    message(FATAL_ERROR "DUO_CUDA=ON but nvcc or a CUDA-enabled libtorch was not found")
  endif()
endif()
message(STATUS "duo: CUDA ${DUO_WITH_CUDA}; plotting ${PLPLOT_FOUND}; python ${DUO_PYTHON}")
