# One interface target carrying the project's warning flags; every target of ours links it.
add_library(taskfarm_warnings INTERFACE)
target_compile_options(taskfarm_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wconversion -Wno-sign-conversion>)
if(TASKFARM_WERROR)
  target_compile_options(taskfarm_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
