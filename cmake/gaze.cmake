# Small helpers in the spirit of Abseil's CMake/AbseilHelpers.cmake.
# Every include is repository-relative ("services/common/log.h"), so targets only
# export the source root (and the generated-code root for protos).

# gaze_cc_library(NAME n SRCS ... [HDRS ...] [DEPS ...] [PRIVATE_DEPS ...] [DEFINES ...])
# Creates target gaze_<n> (alias gaze::<n>). A library without SRCS is INTERFACE.
function(gaze_cc_library)
  cmake_parse_arguments(G "" "NAME" "SRCS;HDRS;DEPS;PRIVATE_DEPS;DEFINES" ${ARGN})
  set(target gaze_${G_NAME})
  if(G_SRCS)
    add_library(${target} STATIC ${G_SRCS} ${G_HDRS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} PUBLIC ${G_DEPS} PRIVATE ${G_PRIVATE_DEPS})
    target_compile_definitions(${target} PRIVATE ${G_DEFINES})
  else()
    add_library(${target} INTERFACE ${G_HDRS})
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} INTERFACE ${G_DEPS})
  endif()
  add_library(gaze::${G_NAME} ALIAS ${target})
endfunction()

# gaze_cc_binary(NAME n SRCS ... DEPS ...): an executable named n, built into build/bin.
function(gaze_cc_binary)
  cmake_parse_arguments(G "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${G_NAME} ${G_SRCS})
  target_link_libraries(${G_NAME} PRIVATE ${G_DEPS})
  set_target_properties(${G_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
endfunction()

# gaze_cc_test(NAME n SRCS ... DEPS ... [LABELS ...])
# One GoogleTest executable; every TEST becomes its own ctest test.
# LABELS: "unit" (default), "pg" (needs PostgreSQL: GAZE_TEST_PG_DSN), "amqp" (needs
# RabbitMQ: GAZE_TEST_AMQP_URL).
function(gaze_cc_test)
  cmake_parse_arguments(G "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT G_LABELS)
    set(G_LABELS unit)
  endif()
  add_executable(${G_NAME} ${G_SRCS})
  target_link_libraries(${G_NAME} PRIVATE ${G_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  set_target_properties(${G_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  gtest_discover_tests(${G_NAME} PROPERTIES LABELS "${G_LABELS}" DISCOVERY_TIMEOUT 30)
endfunction()
