# The autotuner: every configuration of every tunable kernel against the default, the results
# file, the budget (test/test_tune.c).
cls_add_test(test_tune ${CMAKE_CURRENT_SOURCE_DIR}/test_tune.c)
# Under Oclgrind, one test per tunable kernel (they run in parallel), each checking every
# configuration the simulated device allows for races and out-of-bounds accesses (the scan
# with the uninitialised-value checks too; the loss's band heights get those in
# oclgrind_test_loss, whose buffers avoid the shadow problem below). --races-only elsewhere: Oclgrind 21.10's
# uninitialised-value plugin cannot run the vector (pixels_per_item > 1) variant of
# rasterize_backward (see engine_backward_tests.cmake), and it gives a new buffer the
# "uninitialised" shadow of a released one in the same slot (see test/test_sort.c), which the
# sort's histogram table, released and recreated with each configuration, runs into.
if(NOT CLS_SANITIZE)
  foreach(kernel raster_shape rasterize rasterize_backward per_gaussian scan radix_sort loss)
    set(checks "")
    if(NOT kernel MATCHES "^scan$")
      set(checks "--races-only")
    endif()
    add_test(NAME oclgrind_test_tune_${kernel}
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/oclgrind-run.sh ${checks} $<TARGET_FILE:test_tune>)
    set_tests_properties(oclgrind_test_tune_${kernel} PROPERTIES
      ENVIRONMENT "${CLS_TEST_ENV};CLS_TUNE_TEST_KERNEL=${kernel}" LABELS oclgrind)
  endforeach()
endif()
