# cmake -DSOURCE_DIR=<repo> -P tests/arch_check.cmake
# Fails when a module other than farm/ (or an app) includes an MPI header: the serial modules are
# built and tested without MPI, and the command line talks to the farm, never to MPI.
file(GLOB_RECURSE sources
  ${SOURCE_DIR}/src/taskfarm/core/* ${SOURCE_DIR}/src/taskfarm/schedule/* ${SOURCE_DIR}/src/taskfarm/job/*
  ${SOURCE_DIR}/src/taskfarm/io/* ${SOURCE_DIR}/src/taskfarm/app/* ${SOURCE_DIR}/src/taskfarm/cli/*
  ${SOURCE_DIR}/apps/*)
set(offenders "")
foreach(f IN LISTS sources)
  if(f MATCHES "\\.(hpp|cpp|h)$")
    file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](mpi\\.h|boost/mpi|taskfarm/farm/(farm|master|worker|group_master)\\.hpp)")
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
