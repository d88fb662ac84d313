# Turns profiles/<module>/<file> into a C table: {module, file, text}. Run by the build.
file(GLOB modules LIST_DIRECTORIES true "${SRC}/*")
list(SORT modules)
set(body "")
foreach(dir ${modules})
    if(NOT IS_DIRECTORY "${dir}")
        continue()
    endif()
    get_filename_component(module "${dir}" NAME)
    file(GLOB files "${dir}/*")
    list(SORT files)
    foreach(f ${files})
        get_filename_component(fname "${f}" NAME)
        file(READ "${f}" hex HEX)
        string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
        string(APPEND body "    {\"${module}\", \"${fname}\", (const char[]){${hex} 0}},\n")
    endforeach()
endforeach()
file(WRITE "${OUT}.tmp" "/* Generated from profiles/ by cmake/embed_profiles.cmake. Do not edit. */
#include \"core/fmt/profile.h\"

const atota_profile_file_t atota_profile_files[] = {
${body}    {0, 0, 0},
};
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
