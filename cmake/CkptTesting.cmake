# The one way to register tests in libckpt.
#
#   ckpt_add_unit_test(NAME name SOURCES ... [LIBS ...])
#       A GoogleTest executable that needs no MPI launcher.
#   ckpt_add_mpi_test(NAME name TARGET exe NP n [ARGS ...] [TIMEOUT s] [LABELS ...]
#                     [WORKING_DIRECTORY dir])
#       Runs `exe` under MPIEXEC_EXECUTABLE with n ranks.
#   ckpt_add_script_test(NAME name COMMAND script ... [TIMEOUT s] [LABELS ...] [PROCESSORS n])
#       Runs an integration script; the script gets the launcher in CKPT_MPIEXEC.
#   ckpt_add_fuzzer(NAME name SOURCES ... [LIBS ...] [SECONDS s])
#       A libFuzzer harness fuzz_<name> (clang, CKPT_BUILD_FUZZERS=ON), run for
#       CKPT_FUZZ_SECONDS (or s) from its seed corpus tests/fuzz/corpus/<name>/
#       as the test fuzz_<name> (label `fuzz`).
#
# Every MPI and script test runs through cmake/ckpt_test_session.sh: its own
# Open MPI session directory and shared-memory backing directory under
# <build>/ts/<test>, removed when the test ends; the fixture `ckpt_sessions`
# removes what a test killed by its ctest timeout left behind. Every test
# fails when its output contains `HDF5-DIAG` (HDF5's automatic error printing:
# the library and the tool must silence it and report errors themselves).
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

find_program(CKPT_BASH bash REQUIRED)
# Short: Open MPI puts Unix sockets in there (at most 107 bytes per path).
set(CKPT_TEST_SESSION_ROOT ${PROJECT_BINARY_DIR}/ts)
set(CKPT_TEST_SESSION ${CKPT_BASH} ${PROJECT_SOURCE_DIR}/cmake/ckpt_test_session.sh)
set(CKPT_TEST_FAIL_REGEX "HDF5-DIAG")
add_test(NAME ckpt_test_sessions_cleanup
         COMMAND ${CMAKE_COMMAND} -E rm -rf ${CKPT_TEST_SESSION_ROOT})
set_tests_properties(ckpt_test_sessions_cleanup PROPERTIES
  FIXTURES_CLEANUP ckpt_sessions LABELS "unit;mpi;integration;cleanup")

# ckpt_isolate_test(name): properties every MPI and script test shares. Add
# fixtures of your own with set_property(TEST name APPEND PROPERTY ...), not
# set_tests_properties, which would replace `ckpt_sessions`.
function(ckpt_isolate_test name)
  set_property(TEST ${name} APPEND PROPERTY FIXTURES_REQUIRED ckpt_sessions)
  set_property(TEST ${name} APPEND PROPERTY FAIL_REGULAR_EXPRESSION "${CKPT_TEST_FAIL_REGEX}")
endfunction()

# Sanitizer build: UBSan findings print a stack and fail the test; leaks
# are reported for programs without MPI (suppressions in
# cmake/sanitizers.supp), not for MPI ranks (Open MPI's own leaks, see there).
set(CKPT_UNIT_TEST_ENV)
if(CKPT_SANITIZE)
  set(_ubsan "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  list(APPEND CKPT_TEST_ENV "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0" ${_ubsan})
  set(CKPT_UNIT_TEST_ENV
      "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/cmake/sanitizers.supp:print_suppressions=0"
      ${_ubsan})
endif()

function(ckpt_add_unit_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main ckpt::warnings)
  gtest_discover_tests(${T_NAME} PROPERTIES LABELS unit
                       FAIL_REGULAR_EXPRESSION "${CKPT_TEST_FAIL_REGEX}"
                       ENVIRONMENT "${CKPT_UNIT_TEST_ENV}" DISCOVERY_TIMEOUT 60)
endfunction()

function(ckpt_add_mpi_test)
  cmake_parse_arguments(T "" "NAME;TARGET;NP;TIMEOUT;WORKING_DIRECTORY" "ARGS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(NOT T_WORKING_DIRECTORY)
    set(T_WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  add_test(NAME ${T_NAME}
           COMMAND ${CKPT_TEST_SESSION} ${CKPT_TEST_SESSION_ROOT}/${T_NAME}
                   ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${T_NP} ${CKPT_MPIEXEC_PREFLAGS}
                   $<TARGET_FILE:${T_TARGET}> ${T_ARGS}
           WORKING_DIRECTORY ${T_WORKING_DIRECTORY})
  set_tests_properties(${T_NAME} PROPERTIES
    PROCESSORS ${T_NP} TIMEOUT ${T_TIMEOUT} LABELS "mpi;${T_LABELS}"
    ENVIRONMENT "${CKPT_TEST_ENV}")
  ckpt_isolate_test(${T_NAME})
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
  add_test(NAME ${T_NAME}
           COMMAND ${CKPT_TEST_SESSION} ${CKPT_TEST_SESSION_ROOT}/${T_NAME} ${T_COMMAND}
           WORKING_DIRECTORY ${_dir})
  set_tests_properties(${T_NAME} PROPERTIES
    PROCESSORS ${T_PROCESSORS} TIMEOUT ${T_TIMEOUT} LABELS "integration;${T_LABELS}"
    ENVIRONMENT "${CKPT_TEST_ENV};CKPT_BUILD_DIR=${PROJECT_BINARY_DIR};${T_ENVIRONMENT}")
  ckpt_isolate_test(${T_NAME})
endfunction()

set(CKPT_FUZZ_SECONDS 30 CACHE STRING "Seconds each fuzzer runs as a ctest test")
function(ckpt_add_fuzzer)
  cmake_parse_arguments(F "" "NAME;SECONDS" "SOURCES;LIBS" ${ARGN})
  if(NOT CKPT_BUILD_FUZZERS)
    return()
  endif()
  if(NOT F_SECONDS)
    set(F_SECONDS ${CKPT_FUZZ_SECONDS})
  endif()
  add_executable(fuzz_${F_NAME} ${F_SOURCES})
  target_link_libraries(fuzz_${F_NAME} PRIVATE ${F_LIBS} ckpt::warnings)
  target_link_options(fuzz_${F_NAME} PRIVATE -fsanitize=fuzzer)
  # New inputs go to the build tree (first directory); the committed seeds
  # are only read. Crash reproducers land in the same directory.
  set(_work ${CMAKE_CURRENT_BINARY_DIR}/work/${F_NAME})
  file(MAKE_DIRECTORY ${_work}/corpus)
  math(EXPR _timeout "${F_SECONDS} + 120")
  add_test(NAME fuzz_${F_NAME}
           COMMAND fuzz_${F_NAME} -max_total_time=${F_SECONDS} -timeout=10 -rss_limit_mb=2048
                   -print_final_stats=1 -artifact_prefix=${_work}/
                   ${_work}/corpus ${CMAKE_CURRENT_SOURCE_DIR}/corpus/${F_NAME}
           WORKING_DIRECTORY ${_work})
  set_tests_properties(fuzz_${F_NAME} PROPERTIES LABELS fuzz TIMEOUT ${_timeout} PROCESSORS 1)
endfunction()
