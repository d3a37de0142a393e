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

# An app is written against the public API alone, as a user's kernel is: its sources include no
# taskfarm header but the installed public ones (taskfarm/taskfarm.hpp and the core/error.hpp it includes), except the synthetic workloads' cost model (shared with
# `taskfarm simulate`). Tools beside an app (apps/*/*_png.cpp) read output files and may use io/.
file(GLOB app_sources ${SOURCE_DIR}/apps/*/*.cpp ${SOURCE_DIR}/apps/*/*.hpp ${SOURCE_DIR}/apps/*.cpp
     ${SOURCE_DIR}/examples/*/*.cpp)
list(FILTER app_sources EXCLUDE REGEX "_png\\.cpp$")
set(offenders "")
foreach(f IN LISTS app_sources)
  file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]taskfarm/")
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "taskfarm/taskfarm\\.hpp|taskfarm/core/error\\.hpp|taskfarm/app/cost_model\\.hpp")
      list(APPEND offenders "${f}: ${line}")
    endif()
  endforeach()
endforeach()
if(offenders)
  list(JOIN offenders "\n  " text)
  message(FATAL_ERROR "an app reaches past the public API (taskfarm/taskfarm.hpp):\n  ${text}")
endif()
message(STATUS "apps use the public API only: ok")
