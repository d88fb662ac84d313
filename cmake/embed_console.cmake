# Turns server/console/<file> into a C table: {path, data, len}, served by server/console.c at
# /console/<file>. Run by the build (CMakeLists.txt), so the server needs no files at run time.
file(GLOB files LIST_DIRECTORIES false "${SRC}/*")
list(SORT files)
set(body "")
foreach(f ${files})
    get_filename_component(fname "${f}" NAME)
    if(fname MATCHES "^\\." OR fname MATCHES "~$")
        continue() # editors' and hidden files are not part of the console
    endif()
    if(NOT fname MATCHES "^[A-Za-z0-9_.-]+$")
        message(FATAL_ERROR "embed_console: ${fname}: console file names are [A-Za-z0-9_.-]")
    endif()
    file(SIZE "${f}" len)
    file(READ "${f}" hex HEX)
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
    string(APPEND body "    {\"${fname}\", (const unsigned char[]){${hex} 0}, ${len}},\n")
endforeach()
file(WRITE "${OUT}.tmp" "/* Generated from server/console/ by cmake/embed_console.cmake. Do not edit. */
#include <stddef.h>

/* The same declaration as in server/console.c. */
struct atota_console_file {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct atota_console_file atota_console_files[];

const struct atota_console_file atota_console_files[] = {
${body}    {0, 0, 0},
};
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
