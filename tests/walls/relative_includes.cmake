# cmake -DSOURCE_DIR=<source tree> -P relative_includes.cmake: fails naming every #include "../..."
# in the sources but the one allowed (tests/walls/CMakeLists.txt says why).
set(allowed "core/model/streaming_window.h: #include \"../../kernels/streaming_window.h\"")
file(GLOB_RECURSE files RELATIVE ${SOURCE_DIR}
  ${SOURCE_DIR}/core/*.h ${SOURCE_DIR}/core/*.cpp ${SOURCE_DIR}/data/*.h ${SOURCE_DIR}/data/*.cpp
  ${SOURCE_DIR}/kernels/*.h ${SOURCE_DIR}/kernels/*.cpp ${SOURCE_DIR}/kernels/*.cu ${SOURCE_DIR}/kernels/*.cuh
  ${SOURCE_DIR}/train/*.h ${SOURCE_DIR}/train/*.cpp ${SOURCE_DIR}/analysis/*.h ${SOURCE_DIR}/analysis/*.cpp
  ${SOURCE_DIR}/pretrain/*.h ${SOURCE_DIR}/pretrain/*.cpp ${SOURCE_DIR}/tools/*.h ${SOURCE_DIR}/tools/*.cpp)
set(found "")
foreach(f ${files})
  file(STRINGS ${SOURCE_DIR}/${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"\\.\\./")
  foreach(line ${lines})
    string(STRIP "${line}" line)
    if(NOT "${f}: ${line}" STREQUAL allowed)
      string(APPEND found "\n  ${f}: ${line}")
    endif()
  endforeach()
endforeach()
if(found)
  message(FATAL_ERROR "includes that climb out of their folder, past the walls between libraries:${found}")
endif()
list(LENGTH files count)
message(STATUS "no include climbs out of its folder (${count} files)")
