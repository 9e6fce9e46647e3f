# SPDX-License-Identifier: Apache-2.0
# Warnings are per target (no global flags): weir_warnings(target).
option(WEIR_WERROR "Treat warnings as errors" ON)
function(weir_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                         $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>  # clang spells it differently
                         $<$<BOOL:${WEIR_WERROR}>:-Werror>)
endfunction()
