cls_add_test(test_host ${CMAKE_CURRENT_SOURCE_DIR}/test_host.c)
