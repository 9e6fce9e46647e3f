# SPDX-License-Identifier: Apache-2.0
# The SDK: module_api headers and a CMake package, so that find_package(Weir) gives a third party
# weir::module_api and weir_add_module() to build a module out of tree.
include(CMakePackageConfigHelpers)
if(CMAKE_BUILD_TYPE MATCHES "^(Release|RelWithDebInfo|MinSizeRel)$")
  set(WEIR_NDEBUG ON)
else()
  set(WEIR_NDEBUG OFF)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/module_api/include/weir DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS weir_module_api EXPORT WeirTargets)
install(EXPORT WeirTargets NAMESPACE weir:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Weir)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/WeirConfig.cmake.in
  ${PROJECT_BINARY_DIR}/WeirConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Weir)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/WeirConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/WeirConfig.cmake ${PROJECT_BINARY_DIR}/WeirConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Weir)
install(FILES ${PROJECT_SOURCE_DIR}/etc/weir.conf DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/weir)
