# SPDX-License-Identifier: Apache-2.0
# One WEIR_SANITIZE option: "address,undefined" for the memory/UB build, "thread" for the race build.
# Applied to every target of the build (the runtime must be whole-program).
if(WEIR_SANITIZE)
  string(REPLACE "," ";" _weir_san_list "${WEIR_SANITIZE}")
  foreach(_san IN LISTS _weir_san_list)
    if(NOT _san MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "WEIR_SANITIZE: unknown sanitizer '${_san}' (address, undefined, thread)")
    endif()
  endforeach()
  # -fno-sanitize-recover: a UB report fails the test instead of scrolling past.
  add_compile_options(-fsanitize=${WEIR_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${WEIR_SANITIZE})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12's flow analysis under the sanitizers' instrumentation reports uninitialised reads
    # inside libstdc++ (std::function in std::regex) that are not there; the normal build keeps
    # the warning.
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
  if(WEIR_SANITIZE MATCHES "thread")
    # GCC 12 warns that TSan does not model std::atomic_thread_fence, which Boost.Asio's fenced
    # blocks use; TSan still sees the atomics around them. Not an error in our code.
    add_compile_options(-Wno-tsan)
  endif()
endif()
