# make deb: a Debian package of everything `make install` installs (CPack
# DEB). Depends come from dpkg-shlibdeps (dpkg-dev) over the binaries, so
# they name exactly the libraries estd, est and the tiers link.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME estkit)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "estkit maintainers <estkit@invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "EST (RFC 7030) certificate enrollment server, client and library")
set(CPACK_PACKAGE_DESCRIPTION
    "estd serves Enrollment over Secure Transport with an embedded CA; est is the client; libestkit-core, -store and -client are the library's link tiers.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/dist/debian/postinst
                                       ${PROJECT_SOURCE_DIR}/dist/debian/postrm)
# The package installs where this tree was configured to (the units name
# the programs by their configured paths): `make deb` configures /usr.
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
include(CPack)
