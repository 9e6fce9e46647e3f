# SPDX-License-Identifier: Apache-2.0
# Warnings are per target (no global flags): weir_warnings(target).
# -Werror in our own builds only (tools/dev test, CI): a user's or a packager's build, with any
# build type and compiler, must not fail on a new compiler's false positive.
option(WEIR_WERROR "Treat warnings as errors" OFF)
function(weir_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                         $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>  # clang spells it differently
                         $<$<BOOL:${WEIR_WERROR}>:-Werror>)
endfunction()
