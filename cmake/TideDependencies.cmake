# The libraries Tide's layers link, found the same way twice: by Tide's own build, and by
# TideConfig.cmake for a project that links an installed Tide, where they give the imported
# targets (DNNL::dnnl, TurboJPEG::turbojpeg, PkgConfig::LAPACKE, ...) the exported layer
# targets name. Every one is a Debian package that scripts/setup installs.

# An imported target for a library that ships no CMake package Tide can use: its header and
# its library, found in the system's paths.
macro(tide_import_library target header library)
  if(NOT TARGET ${target})
    find_path(${library}_INCLUDE_DIR ${header} REQUIRED)
    find_library(${library}_LIBRARY ${library} REQUIRED)
    add_library(${target} UNKNOWN IMPORTED)
    set_target_properties(${target} PROPERTIES IMPORTED_LOCATION ${${library}_LIBRARY}
                          INTERFACE_INCLUDE_DIRECTORIES ${${library}_INCLUDE_DIR})
  endif()
endmacro()

find_package(OpenMP REQUIRED)
find_package(fmt REQUIRED)
# Debian's dnnl-config.cmake demands OpenCL (its build enables the GPU runtime), which Tide
# does not use; the CPU library is imported directly instead.
tide_import_library(DNNL::dnnl dnnl.hpp dnnl)
find_package(ZLIB REQUIRED)
find_package(PNG REQUIRED)
# libjpeg-turbo's TurboJPEG API ships no CMake package in Debian 12.
tide_import_library(TurboJPEG::turbojpeg turbojpeg.h turbojpeg)
find_package(nlohmann_json REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(Threads REQUIRED)
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(Protobuf REQUIRED)
find_package(PkgConfig REQUIRED)
# LAPACK's C interface (Debian liblapacke-dev) for closed-form least squares.
pkg_check_modules(LAPACKE REQUIRED IMPORTED_TARGET lapacke)
# PostgreSQL's C++ client (Debian libpqxx-dev): the time-series store of `tide timeseries`.
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
# and libpq itself, which libpqxx wraps: PQconninfoParse reads connection strings for
# `tide timeseries federate`
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)
