cls_add_test(test_host ${CMAKE_CURRENT_SOURCE_DIR}/test_host.c)
cls_add_oclgrind_test(test_host)

if(TARGET clsplat_cli)
  add_test(NAME cli COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli-test.sh $<TARGET_FILE:clsplat_cli>
                            ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/cli ${CLS_SHARED_DATA_DIR})
  set_tests_properties(cli PROPERTIES ENVIRONMENT "${CLS_TEST_ENV}")
endif()
cls_add_test(test_params ${CMAKE_CURRENT_SOURCE_DIR}/test_params.c)
cls_add_oclgrind_test(test_params)
