# estkit_tier(NAME SOURCES BELOW DEPS): one link tier of libestkit.
#   estkit-NAME          shared, libestkit-NAME.so.<major> (SONAME), DEPS private
#   estkit-NAME-static   static, libestkit-NAME.a, DEPS public (a static
#                        archive carries no dependencies of its own)
# BELOW is the tier it builds on ("core"), or empty. Both are made from one
# set of position-independent objects, compiled once.
function(estkit_tier name sources below deps)
  set(objects estkit-${name}-objects)
  add_library(${objects} OBJECT ${sources})
  # Hidden by default: only declarations marked EST_API (include/estkit/api.h)
  # leave the shared object; internal cross-file helpers stay inside it.
  set_target_properties(${objects} PROPERTIES POSITION_INDEPENDENT_CODE ON
    C_VISIBILITY_PRESET hidden)
  target_include_directories(${objects} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR}/src/lib)
  target_link_libraries(${objects} PUBLIC ${deps})

  add_library(estkit-${name} SHARED $<TARGET_OBJECTS:${objects}>)
  add_library(estkit-${name}-static STATIC $<TARGET_OBJECTS:${objects}>)
  set_target_properties(estkit-${name} PROPERTIES
    OUTPUT_NAME estkit-${name}
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
  set_target_properties(estkit-${name}-static PROPERTIES OUTPUT_NAME estkit-${name})
  foreach(lib estkit-${name} estkit-${name}-static)
    target_include_directories(${lib} PUBLIC
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  endforeach()
  # OpenSSL types appear in the public headers: every tier's users need them.
  target_link_libraries(estkit-${name} PUBLIC OpenSSL::SSL OpenSSL::Crypto PRIVATE ${deps})
  target_link_libraries(estkit-${name}-static PUBLIC ${deps})
  if(below)
    target_link_libraries(estkit-${name} PUBLIC estkit-${below})
    target_link_libraries(estkit-${name}-static PUBLIC estkit-${below}-static)
  endif()
  # A tier may call only itself and the tiers below it: an undefined symbol
  # fails the link here (sanitizer runtimes live in the program, so only
  # without them).
  if(NOT ESTKIT_SANITIZE AND NOT ESTKIT_FUZZ)
    target_link_options(estkit-${name} PRIVATE -Wl,--no-undefined)
  endif()
endfunction()
