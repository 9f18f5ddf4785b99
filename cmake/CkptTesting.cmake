# The one way to register tests in libckpt.
#
#   ckpt_add_unit_test(NAME name SOURCES ... [LIBS ...])
#       A GoogleTest executable that needs no MPI launcher.
#   ckpt_add_mpi_test(NAME name TARGET exe NP n [ARGS ...] [TIMEOUT s] [LABELS ...])
#       Runs `exe` under MPIEXEC_EXECUTABLE with n ranks.
#   ckpt_add_script_test(NAME name COMMAND script ... [TIMEOUT s] [LABELS ...] [PROCESSORS n])
#       Runs an integration script; the script gets the launcher in CKPT_MPIEXEC.
find_package(GTest REQUIRED)
include(GoogleTest)

# Launcher flags: oversubscribe so 4 ranks run on the 2-core machines, and let
# CI run as root. Users can add their own with MPIEXEC_PREFLAGS.
set(CKPT_MPIEXEC_PREFLAGS ${MPIEXEC_PREFLAGS})
execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _ckpt_mpiexec_version
                ERROR_QUIET)
if(_ckpt_mpiexec_version MATCHES "Open MPI|OpenRTE")
  list(APPEND CKPT_MPIEXEC_PREFLAGS --oversubscribe)
endif()
string(JOIN " " CKPT_MPIEXEC_LINE ${MPIEXEC_EXECUTABLE} ${CKPT_MPIEXEC_PREFLAGS})

set(CKPT_TEST_ENV
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  OMPI_MCA_rmaps_base_oversubscribe=1
  # No network here: keep Open MPI on shared memory and loopback.
  OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
  "CKPT_MPIEXEC=${CKPT_MPIEXEC_LINE}"
  "CKPT_MPIEXEC_NUMPROC_FLAG=${MPIEXEC_NUMPROC_FLAG}")

function(ckpt_add_unit_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main ckpt::warnings)
  gtest_discover_tests(${T_NAME} PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
endfunction()

function(ckpt_add_mpi_test)
  cmake_parse_arguments(T "" "NAME;TARGET;NP;TIMEOUT" "ARGS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${T_NAME}
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${T_NP} ${CKPT_MPIEXEC_PREFLAGS}
                   $<TARGET_FILE:${T_TARGET}> ${T_ARGS})
  set_tests_properties(${T_NAME} PROPERTIES
    PROCESSORS ${T_NP} TIMEOUT ${T_TIMEOUT} LABELS "mpi;${T_LABELS}"
    ENVIRONMENT "${CKPT_TEST_ENV}")
endfunction()

function(ckpt_add_script_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT;PROCESSORS" "COMMAND;LABELS;ENVIRONMENT" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(NOT T_PROCESSORS)
    set(T_PROCESSORS 2)
  endif()
  set(_dir ${CMAKE_CURRENT_BINARY_DIR}/work/${T_NAME})
  file(MAKE_DIRECTORY ${_dir})
  add_test(NAME ${T_NAME} COMMAND ${T_COMMAND} WORKING_DIRECTORY ${_dir})
  set_tests_properties(${T_NAME} PROPERTIES
    PROCESSORS ${T_PROCESSORS} TIMEOUT ${T_TIMEOUT} LABELS "integration;${T_LABELS}"
    ENVIRONMENT "${CKPT_TEST_ENV};CKPT_BUILD_DIR=${PROJECT_BINARY_DIR};${T_ENVIRONMENT}")
endfunction()
