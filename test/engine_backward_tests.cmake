# The engine's backward pass against the reference backward, determinism, an optimisation.
cls_add_test(test_backward ${CMAKE_CURRENT_SOURCE_DIR}/test_backward.c ${CMAKE_CURRENT_SOURCE_DIR}/ref/ref_forward.c
             ${CMAKE_CURRENT_SOURCE_DIR}/ref/ref_backward.c)
# Under Oclgrind: the one-pixel-per-work-item (GPU) variant with every check (races, bounds,
# uninitialised values, API), and the default CPU variant (16 pixels as float16 lanes) with
# races, bounds and API checks. Oclgrind 21.10's uninitialised-value plugin cannot run the
# vector variant of rasterize_backward: LLVM emits `freeze` instructions there, which the
# plugin does not support (it reports "Unsupported instruction: freeze" for scalar code and
# crashes for the vector code).
if(NOT CLS_SANITIZE)
  add_test(NAME oclgrind_test_backward_gpu_shape
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/oclgrind-run.sh $<TARGET_FILE:test_backward>)
  set_tests_properties(oclgrind_test_backward_gpu_shape PROPERTIES
    ENVIRONMENT "${CLS_TEST_ENV};CLS_TEST_PIXELS_PER_ITEM=1" LABELS oclgrind)
  add_test(NAME oclgrind_test_backward
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/oclgrind-run.sh --races-only $<TARGET_FILE:test_backward>)
  set_tests_properties(oclgrind_test_backward PROPERTIES ENVIRONMENT "${CLS_TEST_ENV}" LABELS oclgrind)
  # Several rows per work-item (the CPU default's loop over rows) with scalar lanes: under
  # every check, which the vector variant cannot run.
  add_test(NAME oclgrind_test_backward_rows
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/oclgrind-run.sh $<TARGET_FILE:test_backward>)
  set_tests_properties(oclgrind_test_backward_rows PROPERTIES
    ENVIRONMENT "${CLS_TEST_ENV};CLS_TEST_PIXELS_PER_ITEM=1;CLS_TEST_BACKWARD_ROWS=4" LABELS oclgrind)
endif()
