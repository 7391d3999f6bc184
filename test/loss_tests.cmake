# The training loss (cl/loss.cl, engine/loss.c): the double reference against finite
# differences, the kernels against the reference, and the same under Oclgrind on tiny images.
cls_add_test(test_loss ${CMAKE_CURRENT_SOURCE_DIR}/test_loss.c ${CMAKE_CURRENT_SOURCE_DIR}/ref/ref_loss.c)
cls_add_oclgrind_test(test_loss)
