cls_add_test(test_sort ${CMAKE_CURRENT_SOURCE_DIR}/test_sort.c)
cls_add_oclgrind_test(test_sort)
