# cmake -DINPUT=FILE -DOUTPUT=FILE.cpp -DHEADER=dir/name.hpp -DFUNCTION=name -P embed_file.cmake
# Writes a C++ source that defines, in namespace ag, `std::string_view FUNCTION() noexcept` (INPUT's bytes,
# exactly) and `std::string_view FUNCTION_sha256() noexcept` (their SHA-256 in hex), as declared in HEADER.
foreach(var INPUT OUTPUT HEADER FUNCTION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_file.cmake: ${var} is not set")
  endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/byte_array.cmake)
get_filename_component(name "${INPUT}" NAME) # not the path: the output must not differ between checkouts
file(READ "${INPUT}" hex HEX)
file(SHA256 "${INPUT}" digest)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
byte_array("${hex}" bytes)
write_if_changed("${OUTPUT}" "// Generated from ${name} by cmake/embed_file.cmake; do not edit.
#include \"${HEADER}\"

namespace ag {
namespace {
// One more than the file: an empty file still makes an array. The last byte is not part of the view.
constexpr unsigned char bytes[${size} + 1] = {
    ${bytes}0x00};
} // namespace

std::string_view ${FUNCTION}() noexcept {
    return {reinterpret_cast<const char*>(bytes), ${size}};
}

std::string_view ${FUNCTION}_sha256() noexcept {
    return \"${digest}\";
}

} // namespace ag
")
