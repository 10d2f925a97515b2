# The installable library (libvramfit.so with SONAME, libvramfit.a), headers, CLI, pkg-config file
# and CMake package (find_package(vramfit) -> vramfit::vramfit). The module libraries vf_common,
# vf_format, vf_checkpoint, vf_integrity, vf_tensors, vf_estimator and vf_report stay the in-tree
# build units that enforce the layering.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

file(GLOB VF_LIB_SOURCES CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/parser/*/*.c ${PROJECT_SOURCE_DIR}/tensors/*.c ${PROJECT_SOURCE_DIR}/estimator/*.c
     ${PROJECT_SOURCE_DIR}/report/*.c)

function(vf_public_library target kind)
  add_library(${target} ${kind} ${VF_LIB_SOURCES})
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR}/parser/common ${PROJECT_SOURCE_DIR}/parser/format
            ${PROJECT_SOURCE_DIR}/parser/checkpoint ${PROJECT_SOURCE_DIR}/parser/integrity ${PROJECT_SOURCE_DIR}/tensors ${PROJECT_SOURCE_DIR}/estimator
            ${PROJECT_SOURCE_DIR}/report)
  target_compile_options(${target} PRIVATE ${VF_WARNINGS})
  target_link_libraries(${target} PRIVATE PkgConfig::CJSON PkgConfig::XXHASH PkgConfig::ZLIB PkgConfig::PCRE2 Threads::Threads m
                        ${CMAKE_DL_LIBS}) # libcrypto: dlopen'd on first use (parser/integrity/vf_evp.h)
  target_include_directories(${target} PRIVATE $<TARGET_PROPERTY:PkgConfig::CRYPTO,INTERFACE_INCLUDE_DIRECTORIES>)
  set_target_properties(${target} PROPERTIES OUTPUT_NAME vramfit POSITION_INDEPENDENT_CODE ON
                        C_VISIBILITY_PRESET default)
endfunction()

vf_public_library(vramfit_shared SHARED)
set_target_properties(vramfit_shared PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
                      EXPORT_NAME vramfit)
vf_public_library(vramfit_static STATIC)

install(TARGETS vramfit RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS vramfit_shared EXPORT vramfitTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS vramfit_static ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/vramfit ${PROJECT_BINARY_DIR}/include/vramfit
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")

# Relocatable: the prefix is found relative to the .pc file, so `cmake --install --prefix` works.
file(RELATIVE_PATH VF_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" VF_PC_TO_PREFIX "${VF_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/vramfit.pc.in ${PROJECT_BINARY_DIR}/vramfit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/vramfit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(EXPORT vramfitTargets NAMESPACE vramfit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vramfit)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/vramfitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/vramfitConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vramfit)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/vramfitConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/vramfitConfig.cmake ${PROJECT_BINARY_DIR}/vramfitConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vramfit)

# The man page and the shell completions (bash-completion loads completions/NAME on demand; zsh
# finds _vramfit on $fpath, which includes share/zsh/site-functions for the usual prefixes).
install(FILES ${PROJECT_SOURCE_DIR}/docs/vramfit.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/completions/vramfit.bash
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions RENAME vramfit)
install(FILES ${PROJECT_SOURCE_DIR}/completions/_vramfit DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/zsh/site-functions)
