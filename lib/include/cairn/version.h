/* cairn's version, and the versions of the libraries it runs with. */
#ifndef CAIRN_VERSION_H
#define CAIRN_VERSION_H

#define CAIRN_VERSION "0.1.0"

/* The libraries libcairn depends on. libsodium, zstd and SQLite are
 * linked; libcrypto and libcurl are loaded the first time something
 * needs them. */
enum cairn_dependency {
	CAIRN_DEP_LIBSODIUM,
	CAIRN_DEP_ZSTD,
	CAIRN_DEP_SQLITE,
	CAIRN_DEP_LIBCRYPTO,
	CAIRN_DEP_LIBCURL,
	CAIRN_DEP_COUNT
};

/* *out: the version of dep this process runs with, e.g. "1.0.18" (the
 * library's storage). Loads libcrypto or libcurl as their first use does:
 * CAIRN_ERROR naming the file and the loader's reason if it cannot be
 * loaded, the same on every call. CAIRN_EINVAL for an unknown dep. */
int cairn_version_dependency(const char **out, enum cairn_dependency dep);

#endif
