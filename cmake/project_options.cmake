# Shared compile settings as INTERFACE targets, linked by every component.
add_library(meshproof_options INTERFACE)
target_compile_features(meshproof_options INTERFACE cxx_std_20)
target_include_directories(meshproof_options INTERFACE ${PROJECT_SOURCE_DIR})

add_library(meshproof_warnings INTERFACE)
target_compile_options(meshproof_warnings INTERFACE -Wall -Wextra -Wconversion -Wshadow -Wno-sign-conversion)
if(MESHPROOF_WERROR)
  target_compile_options(meshproof_warnings INTERFACE -Werror)
endif()

if(MESHPROOF_SANITIZE)
  # ASan + UBSan for the whole build (tests included).
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# meshproof_component(NAME DIR [DEPS ...]): a static library from every .cpp in DIR.
# Globbing keeps parallel work on separate components from colliding in CMake files.
function(meshproof_component name dir)
  file(GLOB _srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${dir}/*.cpp)
  list(FILTER _srcs EXCLUDE REGEX ".*/main\\.cpp$")
  if(_srcs)
    add_library(${name} STATIC ${_srcs})
    target_link_libraries(${name} PUBLIC meshproof_options ${ARGN} PRIVATE meshproof_warnings)
  else()
    add_library(${name} INTERFACE)
    target_link_libraries(${name} INTERFACE meshproof_options ${ARGN})
  endif()
endfunction()

# meshproof_unit_tests(COMPONENT DEPS...): one doctest binary per tests/unit/COMPONENT folder.
function(meshproof_unit_tests comp)
  file(GLOB _tsrcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/unit/${comp}/*.cpp)
  if(NOT _tsrcs)
    return()
  endif()
  add_executable(test_${comp} ${_tsrcs} ${PROJECT_SOURCE_DIR}/tests/unit/doctest_main.cpp)
  target_link_libraries(test_${comp} PRIVATE ${ARGN} doctest::doctest meshproof_warnings)
  target_compile_definitions(test_${comp} PRIVATE
    MESHPROOF_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    MESHPROOF_SHARED_TESTDATA="${MESHPROOF_SHARED_TESTDATA}")
  doctest_discover_tests(test_${comp} TEST_PREFIX "${comp}: " WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
endfunction()
