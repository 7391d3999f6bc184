# cls_strict_warnings(<target>): the project's warning set, as errors when CLS_WERROR is ON.
function(cls_strict_warnings target)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE
      -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
      -Wvla -Wformat=2 -Wundef -Wcast-align -Wpointer-arith)
    if(CLS_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()

