# The I/O tests (pure C: they need no OpenCL device). Included from test/CMakeLists.txt.
foreach(t test_io_ply test_io_cameras test_io_image)
  cls_add_test(${t} ${CMAKE_CURRENT_SOURCE_DIR}/${t}.c ${CMAKE_CURRENT_SOURCE_DIR}/test_io_util.c)
endforeach()
# Mutation smoke test of every reader (also run by the sanitizer build of the suite).
cls_add_test(test_fuzz_readers ${CMAKE_CURRENT_SOURCE_DIR}/test_fuzz_readers.c)
