# The training dataset (pure C: no OpenCL device). Included from test/CMakeLists.txt.
cls_add_test(test_dataset ${CMAKE_CURRENT_SOURCE_DIR}/test_dataset.c)
