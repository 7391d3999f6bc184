# The backward pass: the double-precision reference backward checked against finite differences
# of the forward reference (no OpenCL).
cls_add_test(test_ref_backward ${CMAKE_CURRENT_SOURCE_DIR}/test_ref_backward.c ${CMAKE_CURRENT_SOURCE_DIR}/ref/ref_forward.c ${CMAKE_CURRENT_SOURCE_DIR}/ref/ref_backward.c)
