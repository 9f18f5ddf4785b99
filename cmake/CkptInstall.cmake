# Installation of libckpt (docs/TOOL.md, "Installing"):
#
#   <prefix>/include/ckpt/ckpt.h, ckpt.hpp      public headers (component ckpt_development)
#   <prefix>/<libdir>/libckpt.so.*               the library    (component ckpt_runtime)
#   <prefix>/<libdir>/libckpt.so                 link name      (component ckpt_development)
#   <prefix>/<libdir>/libckpt_fortran.a          Fortran module ckpt_mod (component ckpt_development)
#   <prefix>/include/ckpt/fortran/ckpt_mod.mod   (when CKPT_ENABLE_FORTRAN)
#   <prefix>/bin/ckpt                            the tool       (component ckpt_tool)
#   <prefix>/<libdir>/cmake/ckpt/                find_package(ckpt) -> ckpt::ckpt, ckpt::fortran
#   <prefix>/<libdir>/pkgconfig/ckpt.pc          pkg-config --cflags --libs ckpt
#
# Include it at the end of the top-level CMakeLists.txt, once every target
# exists. Both package files are relocatable: `cmake --install <build>
# --prefix <anywhere>` works without reconfiguring.
include(CMakePackageConfigHelpers)

set(CKPT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ckpt
    CACHE STRING "Where the CMake package files of libckpt are installed (relative to the prefix)")
set(CKPT_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig
    CACHE STRING "Where ckpt.pc is installed (relative to the prefix)")

# Installed programs and libraries find libckpt in <prefix>/<libdir> without
# LD_LIBRARY_PATH (unless the project or the user chose an RPATH already).
file(RELATIVE_PATH _ckpt_bin_to_lib ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}
     ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR})
foreach(_ckpt_target IN ITEMS heat ckpt_pmpi)
  if(TARGET ${_ckpt_target})
    get_target_property(_ckpt_rpath ${_ckpt_target} INSTALL_RPATH)
    get_target_property(_ckpt_type ${_ckpt_target} TYPE)
    if(NOT _ckpt_rpath)
      if(_ckpt_type STREQUAL "EXECUTABLE")
        set_target_properties(${_ckpt_target} PROPERTIES INSTALL_RPATH "$ORIGIN/${_ckpt_bin_to_lib}")
      else()
        set_target_properties(${_ckpt_target} PROPERTIES INSTALL_RPATH "$ORIGIN")
      endif()
    endif()
  endif()
endforeach()

# --- the library and its headers --------------------------------------------
install(TARGETS ckpt EXPORT ckptTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ckpt_runtime
          NAMELINK_COMPONENT ckpt_development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ckpt_development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ckpt_runtime)
# Only the public API: everything in libckpt/src is ckpt::detail and stays out.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/libckpt/include/ckpt
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT ckpt_development
        FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp" PATTERN "*.mod" PATTERN "*.f90")

# --- the Fortran module --------------------------------------------------------
# The .mod file is compiler-specific: consumers use the Fortran compiler this
# build used.
if(TARGET ckpt_fortran)
  set(CKPT_INSTALL_FORTRAN_MODDIR ${CMAKE_INSTALL_INCLUDEDIR}/ckpt/fortran)
  get_target_property(_ckpt_moddir ckpt_fortran Fortran_MODULE_DIRECTORY)
  # Installed as ckpt::fortran; the build tree's module directory is a
  # BUILD_INTERFACE, the installed one is added here.
  set_target_properties(ckpt_fortran PROPERTIES EXPORT_NAME fortran)
  target_include_directories(ckpt_fortran
    PUBLIC $<INSTALL_INTERFACE:${CKPT_INSTALL_FORTRAN_MODDIR}>)
  install(TARGETS ckpt_fortran EXPORT ckptTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ckpt_development)
  install(DIRECTORY ${_ckpt_moddir}/ DESTINATION ${CKPT_INSTALL_FORTRAN_MODDIR}
          COMPONENT ckpt_development FILES_MATCHING PATTERN "*.mod")
endif()

# --- the tool ----------------------------------------------------------------
if(TARGET ckpt_tool)
  install(TARGETS ckpt_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ckpt_tool)
endif()

# --- CMake package: find_package(ckpt) -> ckpt::ckpt ---------------------------
# The MPI components the installed target's link interface names (ckpt.h
# includes mpi.h, so consumers get MPI through ckpt::ckpt).
get_target_property(_ckpt_interface ckpt INTERFACE_LINK_LIBRARIES)
set(CKPT_MPI_COMPONENTS)
foreach(_ckpt_item IN LISTS _ckpt_interface)
  if(_ckpt_item MATCHES "^MPI::MPI_(C|CXX|Fortran)$")
    list(APPEND CKPT_MPI_COMPONENTS ${CMAKE_MATCH_1})
  endif()
endforeach()
if(NOT CKPT_MPI_COMPONENTS)
  set(CKPT_MPI_COMPONENTS C)
endif()
list(REMOVE_DUPLICATES CKPT_MPI_COMPONENTS)
list(JOIN CKPT_MPI_COMPONENTS " " CKPT_MPI_COMPONENTS)

install(EXPORT ckptTargets NAMESPACE ckpt:: FILE ckptTargets.cmake
        DESTINATION ${CKPT_INSTALL_CMAKEDIR} COMPONENT ckpt_development)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/ckptConfig.cmake.in
  ${PROJECT_BINARY_DIR}/package/ckptConfig.cmake
  INSTALL_DESTINATION ${CKPT_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR)
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/ckptConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/ckptConfig.cmake
              ${PROJECT_BINARY_DIR}/package/ckptConfigVersion.cmake
        DESTINATION ${CKPT_INSTALL_CMAKEDIR} COMPONENT ckpt_development)

# --- pkg-config: ckpt.pc ---------------------------------------------------------
# Relocatable: the prefix is found from the .pc file's own directory.
if(IS_ABSOLUTE "${CKPT_INSTALL_PKGCONFIGDIR}")
  message(FATAL_ERROR "CKPT_INSTALL_PKGCONFIGDIR must be relative to the prefix")
endif()
file(RELATIVE_PATH _ckpt_pc_to_prefix /prefix/${CKPT_INSTALL_PKGCONFIGDIR} /prefix)
string(REGEX REPLACE "/$" "" _ckpt_pc_to_prefix "${_ckpt_pc_to_prefix}")
set(CKPT_PC_PREFIX "\${pcfiledir}/${_ckpt_pc_to_prefix}")
foreach(_ckpt_dir IN ITEMS LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_ckpt_dir}}")
    set(CKPT_PC_${_ckpt_dir} "${CMAKE_INSTALL_${_ckpt_dir}}")
  else()
    set(CKPT_PC_${_ckpt_dir} "\${prefix}/${CMAKE_INSTALL_${_ckpt_dir}}")
  endif()
endforeach()
# mpi.h: through the MPI library's own pkg-config module when it has one,
# otherwise with the include directories and libraries CMake found.
set(CKPT_PC_REQUIRES "")
set(CKPT_PC_MPI_CFLAGS "")
set(CKPT_PC_MPI_LIBS "")
# The module must describe the MPI that CMake found (same include directory).
set(_ckpt_mpi_module)
foreach(_ckpt_candidate IN ITEMS ompi-c mpich mpi-c)
  string(MAKE_C_IDENTIFIER "_CKPT_PC_${_ckpt_candidate}" _ckpt_prefix)
  pkg_check_modules(${_ckpt_prefix} QUIET ${_ckpt_candidate})
  foreach(_ckpt_inc IN LISTS ${_ckpt_prefix}_INCLUDE_DIRS)
    if(_ckpt_inc IN_LIST MPI_C_INCLUDE_DIRS)
      set(_ckpt_mpi_module ${_ckpt_candidate})
    endif()
  endforeach()
  if(_ckpt_mpi_module)
    break()
  endif()
endforeach()
if(_ckpt_mpi_module)
  set(CKPT_PC_REQUIRES "Requires: ${_ckpt_mpi_module}")
else()
  foreach(_ckpt_inc IN LISTS MPI_C_INCLUDE_DIRS)
    string(APPEND CKPT_PC_MPI_CFLAGS " -I${_ckpt_inc}")
  endforeach()
  foreach(_ckpt_lib IN LISTS MPI_C_LIBRARIES)
    string(APPEND CKPT_PC_MPI_LIBS " ${_ckpt_lib}")
  endforeach()
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/ckpt.pc.in ${PROJECT_BINARY_DIR}/package/ckpt.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/package/ckpt.pc
        DESTINATION ${CKPT_INSTALL_PKGCONFIGDIR} COMPONENT ckpt_development)
