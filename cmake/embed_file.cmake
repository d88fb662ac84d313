# Turns one file into a C array and its length: cmake -DSRC=FILE -DOUT=FILE.c -DNAME=symbol
# [-DHEADER=path/declaring.h] -P embed_file.cmake defines
#   const unsigned char NAME[];  (the bytes, then a 0 that NAME_len does not count)
#   const size_t NAME_len;
# Run by the build (CMakeLists.txt): core/cmd/web/index.html becomes atota_web_page, the page
# AT+WEBSERVER serves (declared in core/cmd/webserver.h).
if(NOT NAME MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "embed_file: NAME '${NAME}' is not a C identifier")
endif()
file(SIZE "${SRC}" len)
file(READ "${SRC}" hex HEX)
# 16 bytes a line (CMake's regular expressions have no {n}: the 32 hex digits are spelled out).
string(REPEAT "[0-9a-f]" 32 line)
string(REGEX REPLACE "(${line})" "\\1\n    " hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
get_filename_component(fname "${SRC}" NAME)
if(HEADER)
    set(decl "#include \"${HEADER}\"")
else()
    set(decl "extern const unsigned char ${NAME}[];\nextern const size_t ${NAME}_len;")
endif()
file(WRITE "${OUT}.tmp" "/* Generated from ${fname} by cmake/embed_file.cmake. Do not edit. */
#include <stddef.h>

${decl}

const unsigned char ${NAME}[] = {
    ${hex}0};
const size_t ${NAME}_len = ${len};
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
