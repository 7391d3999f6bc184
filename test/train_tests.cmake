# Pieces of the trainer.
cls_add_test(test_train ${CMAKE_CURRENT_SOURCE_DIR}/test_train.c)
cls_add_test(test_densify ${CMAKE_CURRENT_SOURCE_DIR}/test_densify.c)
cls_add_oclgrind_test(test_densify)
cls_add_test(test_knn ${CMAKE_CURRENT_SOURCE_DIR}/test_knn.c)
cls_add_oclgrind_test(test_knn)
