# make install / cmake --install (GNUInstallDirs; DESTDIR honoured) and the
# Debian package (make deb, CPack). What goes where:
#   bin/estd, bin/est                       the programs
#   lib/libestkit-{core,store,client}.so.*  the link tiers, shared + static
#   include/estkit.h, include/estkit/       the public headers
#   lib/pkgconfig/estkit*.pc                one per tier + the estkit umbrella
#   share/man/man{1,5,8}                    est(1), estd.conf(5), estd(8)
#   lib/systemd/system                      estd.service, est-renew@.{service,timer}
#   libexec/estkit                          estd-first-start, est-renew (run by the units)
#   share/bash-completion/completions       est, estd
#   share/doc/estkit/estd.conf.example      `estd example-config`
# Installing (and CPack) does not build first: `make install` and
# `make deb` build explicitly, and the install/packaging tests must not
# relink binaries other tests are running.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
install(TARGETS estd est RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS estkit-core estkit-store estkit-client
                estkit-core-static estkit-store-static estkit-client-static
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Unspecified
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES include/estkit.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/estkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# pkg-config files: prefix relative to the .pc file's own directory, so an
# installed tree works wherever it lands (DESTDIR, a package, --prefix).
set(ESTKIT_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH ESTKIT_PC_PREFIX /root/${ESTKIT_PC_DIR} /root)
string(REGEX REPLACE "/$" "" ESTKIT_PC_PREFIX "${ESTKIT_PC_PREFIX}")
foreach(pc estkit-core estkit-store estkit-client estkit)
  configure_file(dist/pkgconfig/${pc}.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc DESTINATION ${ESTKIT_PC_DIR})
endforeach()

install(FILES man/est.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES man/estd.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES man/estd.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# systemd units: under the prefix's lib/systemd/system (/usr/lib/systemd/system
# for the package), with the installed binary paths filled in.
set(ESTKIT_SYSTEMD_UNIT_DIR lib/systemd/system CACHE STRING
    "where the systemd units go, relative to the prefix")
foreach(unit estd.service est-renew@.service est-renew@.timer)
  configure_file(dist/systemd/${unit}.in ${PROJECT_BINARY_DIR}/systemd/${unit} @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/systemd/${unit} DESTINATION ${ESTKIT_SYSTEMD_UNIT_DIR})
endforeach()
# What the units run besides the programs.
foreach(script estd-first-start est-renew)
  configure_file(dist/systemd/${script}.in ${PROJECT_BINARY_DIR}/systemd/${script} @ONLY)
  install(PROGRAMS ${PROJECT_BINARY_DIR}/systemd/${script}
          DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/estkit)
endforeach()
install(FILES dist/systemd/est-renew.example
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES dist/bash-completion/est dist/bash-completion/estd
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

if(NOT CMAKE_CROSSCOMPILING)
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/estd.conf.example
    COMMAND estd example-config > ${PROJECT_BINARY_DIR}/estd.conf.example
    DEPENDS estd VERBATIM)
  add_custom_target(estd-conf-example ALL DEPENDS ${PROJECT_BINARY_DIR}/estd.conf.example)
  install(FILES ${PROJECT_BINARY_DIR}/estd.conf.example DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()

include(cmake/package.cmake)
