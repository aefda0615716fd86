# cmake -DLOCK=package-lock.json -DOUT=DIR [-DNPM_CACHE=DIR] -P fetch_npm.cmake
# Fetches every package a package-lock.json (lockfileVersion 3) names, at its locked version, from the npm
# registry, checks each tarball against the lock's sha512 integrity and unpacks it into OUT/<package name>/.
# No npm needed: the console page's libraries (ui/package-lock.json) are the only download of a build, and
# only the lock decides what arrives. Tarballs are kept in NPM_CACHE (default ~/.cache/agent-gateway/npm), so a
# second build, or one without a network, uses them after checking them again.
foreach(var LOCK OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "fetch_npm.cmake: ${var} is not set")
  endif()
endforeach()
if(NOT DEFINED NPM_CACHE)
  set(NPM_CACHE "$ENV{HOME}/.cache/agent-gateway/npm")
endif()
find_program(OPENSSL openssl REQUIRED)
file(READ "${LOCK}" lock)
string(JSON packages GET "${lock}" packages)
string(JSON count LENGTH "${packages}")
math(EXPR last "${count} - 1")
set(stamp "")
foreach(i RANGE ${last})
  string(JSON key MEMBER "${packages}" ${i})
  if(NOT key MATCHES "^node_modules/(.+)$")
    continue() # "" is the project itself
  endif()
  set(name "${CMAKE_MATCH_1}")
  string(JSON version GET "${packages}" "${key}" version)
  string(JSON integrity GET "${packages}" "${key}" integrity)
  if(NOT integrity MATCHES "^sha512-([A-Za-z0-9+/=]+)$")
    message(FATAL_ERROR "fetch_npm.cmake: ${name} has no sha512 integrity in ${LOCK}")
  endif()
  # The lock keeps the digest in base64, file(DOWNLOAD) wants hex.
  execute_process(COMMAND bash -c "printf %s \"$1\" | \"$2\" base64 -d -A | od -An -v -tx1 | tr -d ' \\n'"
                          _ "${CMAKE_MATCH_1}" "${OPENSSL}"
                  OUTPUT_VARIABLE sha512 RESULT_VARIABLE rc)
  string(LENGTH "${sha512}" length)
  if(NOT rc EQUAL 0 OR NOT length EQUAL 128)
    message(FATAL_ERROR "fetch_npm.cmake: cannot read the integrity of ${name}")
  endif()
  get_filename_component(base "${name}" NAME) # @scope/pkg → pkg
  string(REPLACE "/" "+" flat "${name}")
  set(tarball "${NPM_CACHE}/${flat}-${version}.tgz")
  file(DOWNLOAD "https://registry.npmjs.org/${name}/-/${base}-${version}.tgz" "${tarball}"
       EXPECTED_HASH SHA512=${sha512} TLS_VERIFY ON STATUS status)
  list(GET status 0 code)
  if(NOT code EQUAL 0)
    file(REMOVE "${tarball}")
    message(FATAL_ERROR "fetch_npm.cmake: fetching ${name} ${version} failed: ${status}")
  endif()
  file(REMOVE_RECURSE "${OUT}/${name}")
  file(ARCHIVE_EXTRACT INPUT "${tarball}" DESTINATION "${OUT}/${name}.tmp")
  file(RENAME "${OUT}/${name}.tmp/package" "${OUT}/${name}")
  file(REMOVE_RECURSE "${OUT}/${name}.tmp")
  string(APPEND stamp "${name} ${version} ${sha512}\n")
endforeach()
file(WRITE "${OUT}/.fetched" "${stamp}")
