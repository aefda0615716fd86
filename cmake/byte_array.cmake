# byte_array(HEX OUT): the bytes of a hex string (file(READ … HEX)) as C++ array elements, "0x1f,0x8b,…",
# sixteen a line. Arrays, not string literals: no delimiter, escape or length limit to get wrong.
function(byte_array hex out)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REPEAT "0x[0-9a-f][0-9a-f]," 16 line)
  string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")
  set(${out} "${bytes}" PARENT_SCOPE)
endfunction()

# write_if_changed(FILE TEXT): replaces FILE only when TEXT differs, so an unchanged input compiles nothing again.
function(write_if_changed path text)
  file(WRITE "${path}.tmp" "${text}")
  file(COPY_FILE "${path}.tmp" "${path}" ONLY_IF_DIFFERENT)
  file(REMOVE "${path}.tmp")
endfunction()
