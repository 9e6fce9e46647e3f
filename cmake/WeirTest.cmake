# SPDX-License-Identifier: Apache-2.0
# weir_add_test(name SOURCES a_test.cc ... LIBS lib ... [LABELS l ...])
#   A GoogleTest binary beside the code; each TEST is its own CTest test (discovered at test time).
# weir_add_fuzzer(name SOURCE x_fuzz.cc LIBS lib ... [CORPUS dir])
#   The same source is a libFuzzer target under clang (-DWEIR_LIBFUZZER=ON) and, under g++, a
#   deterministic replay test: every corpus file, then seeded mutations of them (tests/fuzz/driver.cc).
include(GoogleTest)
option(WEIR_LIBFUZZER "Build fuzz targets as libFuzzer binaries (clang only)" OFF)
set(WEIR_FUZZ_RUNS 20000 CACHE STRING "Mutated inputs each fuzz replay test runs")

function(weir_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  weir_warnings(${name})
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS "unit;${ARG_LABELS}")
endfunction()

function(weir_add_fuzzer name)
  cmake_parse_arguments(ARG "" "SOURCE;CORPUS" "LIBS" ${ARGN})
  if(WEIR_LIBFUZZER)
    add_executable(${name} ${ARG_SOURCE})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${name} ${ARG_SOURCE} ${PROJECT_SOURCE_DIR}/tests/fuzz/driver.cc)
    set(_corpus "")
    if(ARG_CORPUS)
      set(_corpus ${ARG_CORPUS})
    endif()
    add_test(NAME ${name} COMMAND ${name} --runs=${WEIR_FUZZ_RUNS} ${_corpus})
    set_tests_properties(${name} PROPERTIES LABELS "fuzz")
  endif()
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  weir_warnings(${name})
endfunction()
