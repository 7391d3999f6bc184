# The forward pass: the double-precision reference's self-tests (no OpenCL), and the engine
# compared with that reference on random and real scenes (also under Oclgrind, small set).
cls_add_test(test_reference ${CMAKE_CURRENT_SOURCE_DIR}/test_reference.c ${CMAKE_CURRENT_SOURCE_DIR}/ref/ref_forward.c)
cls_add_test(test_forward ${CMAKE_CURRENT_SOURCE_DIR}/test_forward.c ${CMAKE_CURRENT_SOURCE_DIR}/ref/ref_forward.c)
cls_add_oclgrind_test(test_forward)
