# Flags of the fuzz build (-DHPO_FUZZ=ON), included by the top-level
# CMakeLists.txt before the libraries: everything is compiled with
# AddressSanitizer, UndefinedBehaviorSanitizer and libFuzzer's coverage
# instrumentation; fuzz/CMakeLists.txt links libFuzzer into the targets.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR
    "HPO_FUZZ needs clang (libFuzzer); configure a separate build directory "
    "with CC=clang CXX=clang++, or run scripts/fuzz.sh")
endif()
# Any undefined behaviour stops the run, so that libFuzzer saves the input;
# assert()s stay on whatever the build type (nlohmann's catch misuse such as
# operator[] on a missing key of a const object); line tables for the stack
# traces.
add_compile_options(-fsanitize=address,undefined -fsanitize=fuzzer-no-link
                    -fno-sanitize-recover=all -fno-omit-frame-pointer
                    -gline-tables-only -UNDEBUG)
add_link_options(-fsanitize=address,undefined)
