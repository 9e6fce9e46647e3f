# SPDX-License-Identifier: Apache-2.0
# weir_add_module(mod_name SOURCES ...): a module library (.so). It links only weir::module_api
# and weir::formats (the build enforces the layering), hides every symbol but its entry point,
# and lands in lib/weir/modules of the build tree, the layout the server looks in by default.
function(weir_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE weir::module_api weir::formats)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib/weir/modules)
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  weir_warnings(${name})
  install(TARGETS ${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/weir/modules)
endfunction()
