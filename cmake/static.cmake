# -DSTATIC=ON (scripts/build-static): one fully static, stripped executable. Link-time optimisation, every
# function and object in its own section and --gc-sections drop what the daemon never calls. libgit2,
# prometheus-cpp, date-tz and OpenSSL come from STATIC_PREFIX (Debian's sources built static by scripts/build-static);
# the rest are Debian's own .a files. spdlog and fmt are used header-only: Debian ships them shared only.
set(STATIC_PREFIX "" CACHE PATH "where scripts/build-static installed the static libgit2, prometheus-cpp, date")
if(NOT STATIC_PREFIX)
  message(FATAL_ERROR "-DSTATIC=ON needs -DSTATIC_PREFIX (scripts/build-static builds it)")
endif()
list(PREPEND CMAKE_PREFIX_PATH ${STATIC_PREFIX})
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(OPENSSL_USE_STATIC_LIBS TRUE)
set(OPENSSL_ROOT_DIR ${STATIC_PREFIX}) # scripts/build-static's trimmed OpenSSL, not Debian's libcrypto.a
set(ZLIB_USE_STATIC_LIBS TRUE)
set(CMAKE_INTERPROCEDURAL_OPTIMIZATION ON)
add_compile_options(-ffunction-sections -fdata-sections)
add_link_options(-static -Wl,--gc-sections -s)
# The linker warns that getaddrinfo in a static program wants glibc's NSS modules at run time. Since glibc 2.34
# the "files" and "dns" modules are part of libc itself, the static one included: names resolve from
# /etc/hosts and resolv.conf without any shared library (tests/packaging/image.sh checks it in the image).

add_library(ag_static_fmt INTERFACE)
target_compile_definitions(ag_static_fmt INTERFACE FMT_HEADER_ONLY=1)
add_library(ag_static_spdlog INTERFACE)
target_compile_definitions(ag_static_spdlog INTERFACE SPDLOG_HEADER_ONLY SPDLOG_FMT_EXTERNAL)
target_link_libraries(ag_static_spdlog INTERFACE ag_static_fmt Threads::Threads)

find_library(AG_YAML_CPP_A libyaml-cpp.a REQUIRED)
add_library(ag_static_yaml INTERFACE)
target_link_libraries(ag_static_yaml INTERFACE ${AG_YAML_CPP_A})

# libgit2's pkg-config file names its private dependencies (http_parser, zlib, threads) for a static link.
set(ENV{PKG_CONFIG_PATH} "${STATIC_PREFIX}/lib/pkgconfig")
pkg_check_modules(AG_GIT2 REQUIRED libgit2)
add_library(ag_static_git2 INTERFACE)
target_include_directories(ag_static_git2 INTERFACE ${AG_GIT2_STATIC_INCLUDE_DIRS})
target_link_directories(ag_static_git2 INTERFACE ${AG_GIT2_STATIC_LIBRARY_DIRS})
target_link_libraries(ag_static_git2 INTERFACE ${AG_GIT2_STATIC_LIBRARIES})

set(AG_FMT ag_static_fmt)
set(AG_SPDLOG ag_static_spdlog)
set(AG_YAML_CPP ag_static_yaml)
set(AG_LIBGIT2 ag_static_git2)
