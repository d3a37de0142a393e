# Test registration helpers (after KaMPIng's KaTestrophe): one ctest per rank count for MPI tests.
include(GoogleTest)

set(TASKFARM_MPI_ENV
  "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1"
  "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")

# taskfarm_add_unit_test(NAME FILES f...) : serial GoogleTest binary, no MPI.
function(taskfarm_add_unit_test NAME)
  cmake_parse_arguments(ARG "" "" "FILES;LIBRARIES" ${ARGN})
  add_executable(${NAME} ${ARG_FILES})
  target_link_libraries(${NAME} PRIVATE taskfarm::taskfarm taskfarm_apps GTest::gtest_main taskfarm_warnings
                                        ${ARG_LIBRARIES})
  target_compile_definitions(${NAME} PRIVATE TASKFARM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(${NAME} DISCOVERY_MODE PRE_TEST PROPERTIES LABELS unit ENVIRONMENT "${TASKFARM_MPI_ENV}")
endfunction()

# taskfarm_add_mpi_test(NAME FILES f... RANKS 1 2 3 4 [TIMEOUT s]) : runs under mpiexec once per rank count.
function(taskfarm_add_mpi_test NAME)
  cmake_parse_arguments(ARG "" "TIMEOUT" "FILES;RANKS;LIBRARIES" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${NAME} ${ARG_FILES})
  target_link_libraries(${NAME} PRIVATE taskfarm::taskfarm taskfarm_apps taskfarm_mpi_gtest_main taskfarm_warnings
                                        Boost::mpi Boost::serialization MPI::MPI_CXX ${ARG_LIBRARIES})
  target_compile_definitions(${NAME} PRIVATE TASKFARM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  foreach(n IN LISTS ARG_RANKS)
    set(dir ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.np${n})
    file(MAKE_DIRECTORY ${dir})
    add_test(NAME ${NAME}.np${n}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} --oversubscribe ${MPIEXEC_PREFLAGS}
                     $<TARGET_FILE:${NAME}> ${MPIEXEC_POSTFLAGS}
             WORKING_DIRECTORY ${dir})
    # Timeout is the deadlock guard; PROCESSORS keeps ctest -j from stacking MPI jobs on 2 cores.
    set_tests_properties(${NAME}.np${n} PROPERTIES TIMEOUT ${ARG_TIMEOUT} PROCESSORS ${n} LABELS mpi
                         ENVIRONMENT "${TASKFARM_MPI_ENV}")
  endforeach()
endfunction()
