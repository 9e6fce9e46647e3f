# SPDX-License-Identifier: Apache-2.0
# weir_add_test(name SOURCES a_test.cc ... LIBS lib ... [LABELS l ...])
#   A GoogleTest binary beside the code; each TEST is its own CTest test (discovered at test time).
# weir_add_fuzzer(name SOURCE x_fuzz.cc LIBS lib ... [CORPUS dir ...])
#   The same source is a libFuzzer target under clang (-DWEIR_LIBFUZZER=ON) and, under g++, a
#   deterministic replay test: every corpus file, then seeded mutations of them (tests/fuzz/driver.cc).
include(GoogleTest)
option(WEIR_LIBFUZZER "Build fuzz targets as libFuzzer binaries (clang only)" OFF)
set(WEIR_FUZZ_RUNS 20000 CACHE STRING "Mutated inputs each fuzz replay test runs")

function(weir_add_test name)
  if(NOT WEIR_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  weir_warnings(${name})
  # Test names carry the binary's name ("amf_test.Amf0Reader.ReadsNumbers") so `ctest -R amf`
  # finds them. gtest_discover_tests() (CMake 3.25) keeps only the first item of a list given in
  # PROPERTIES, so the labels are set by a script that runs after discovery instead.
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60 TEST_PREFIX "${name}.")
  set(_script ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake)
  set(_labels unit ${ARG_LABELS})
  file(WRITE ${_script} "set_tests_properties(\${${name}_TESTS} PROPERTIES LABELS \"${_labels}\")\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${_script})
endfunction()

function(weir_add_fuzzer name)
  if(NOT WEIR_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "SOURCE" "LIBS;CORPUS" ${ARGN})
  if(WEIR_LIBFUZZER)
    add_executable(${name} ${ARG_SOURCE})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${name} ${ARG_SOURCE} ${PROJECT_SOURCE_DIR}/tests/fuzz/driver.cc)
    add_test(NAME ${name} COMMAND ${name} --runs=${WEIR_FUZZ_RUNS} ${ARG_CORPUS})
    set_tests_properties(${name} PROPERTIES LABELS "fuzz")
  endif()
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  weir_warnings(${name})
endfunction()
