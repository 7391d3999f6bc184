# cls_embed_kernels(<output.c> <file>...)
# Generates one C file holding every kernel source as a byte array plus a table
# `clh_embedded_sources[]` of {name, bytes, size}. The name is the file name without ".cl"
# (a header "common.h" keeps its name). Runs at build time and re-runs when a .cl changes.
function(cls_embed_kernels output)
  set(files ${ARGN})
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} "-DFILES=${files}"
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_kernels_script.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/embed_kernels_script.cmake
    COMMENT "Embedding OpenCL kernels"
    VERBATIM)
endfunction()
