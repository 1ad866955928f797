/* estkit: what marks a declaration as API.
 *
 * The shared libraries are built with -fvisibility=hidden (docs/design.md,
 * "Exported symbols"): a function is exported only when its declaration in
 * include/estkit/ carries EST_API, so internal cross-file helpers stay out of
 * the ABI. tests/install/exported_symbols.sh checks that every exported name
 * is declared here, with a comment. */
#ifndef ESTKIT_API_H
#define ESTKIT_API_H

#if defined(__GNUC__) || defined(__clang__)
#define EST_API __attribute__((visibility("default")))
#else
#define EST_API
#endif

#endif
