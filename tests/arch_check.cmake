# cmake -DSOURCE_DIR=<repo> -P tests/arch_check.cmake
# Fails when a module other than farm/ (or an app) includes an MPI header: the serial modules are
# built and tested without MPI, and the command line talks to the farm, never to MPI.
file(GLOB_RECURSE sources ${SOURCE_DIR}/src/* ${SOURCE_DIR}/apps/* ${SOURCE_DIR}/examples/*)
list(FILTER sources EXCLUDE REGEX "/src/taskfarm/farm/")
set(offenders "")
foreach(f IN LISTS sources)
  if(f MATCHES "\\.(hpp|cpp|h)$")
    file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](mpi\\.h|mpi/mpi\\.h|boost/mpi|taskfarm/farm/(farm|master|worker|group_master)\\.hpp)")
    if(lines)
      list(APPEND offenders "${f}: ${lines}")
    endif()
  endif()
endforeach()
if(offenders)
  list(JOIN offenders "\n  " text)
  message(FATAL_ERROR "MPI outside farm/:\n  ${text}")
endif()
message(STATUS "MPI only in farm/: ok")
