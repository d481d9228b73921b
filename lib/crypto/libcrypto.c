#include "crypto/libcrypto.h"

#include "util/dl.h"

cairn_libcrypto_api cairn_libcrypto;
static cairn_dl_once loaded = CAIRN_DL_ONCE_INIT;

int cairn_libcrypto__load(cairn_libcrypto_api *out, const char *file)
{
	const cairn_dl_function functions[] = {
	    {"SHA256_Init", &out->sha256_init},
	    {"SHA256_Update", &out->sha256_update},
	    {"SHA256_Final", &out->sha256_final},
	    {"OpenSSL_version", &out->version},
	    {"EVP_CIPHER_fetch", &out->cipher_fetch},
	    {"EVP_CIPHER_free", &out->cipher_free},
	    {"EVP_CIPHER_CTX_new", &out->ctx_new},
	    {"EVP_CIPHER_CTX_free", &out->ctx_free},
	    {"EVP_CIPHER_CTX_ctrl", &out->ctx_ctrl},
	    {"EVP_EncryptInit_ex2", &out->encrypt_init},
	    {"EVP_EncryptUpdate", &out->encrypt_update},
	    {"EVP_EncryptFinal_ex", &out->encrypt_final},
	    {"EVP_DecryptInit_ex2", &out->decrypt_init},
	    {"EVP_DecryptUpdate", &out->decrypt_update},
	    {"EVP_DecryptFinal_ex", &out->decrypt_final},
	    {"ERR_get_error", &out->err_get},
	    {"ERR_error_string_n", &out->err_string},
	    {"ERR_clear_error", &out->err_clear},
	};
	_Static_assert(sizeof(functions) / sizeof(functions[0]) * sizeof(void *) == sizeof(*out),
	               "every member of cairn_libcrypto_api is looked up");
	return cairn_dl_load("libcrypto", file, functions,
	                     sizeof(functions) / sizeof(functions[0]));
}

static void load_default(void)
{
	cairn_dl_done(&loaded, cairn_libcrypto__load(&cairn_libcrypto, CAIRN_LIBCRYPTO));
}

int cairn_libcrypto_init(void)
{
	return cairn_dl_once_run(&loaded, load_default);
}
