/* crl: see crl.h. */
#include "crl.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "log.h"

int
crl_load(X509_STORE *store, const char *file)
{
	X509_CRL *crl;
	BIO *bio = NULL;
	int n = 0, ret = -1;

	if ((bio = BIO_new_file(file, "r")) == NULL) {
		log_ssl("cannot open CRL %s", file);
		goto out;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		int added = X509_STORE_add_crl(store, crl);

		X509_CRL_free(crl);
		if (!added) {
			log_ssl("cannot add CRL from %s", file);
			goto out;
		}
		n++;
	}
	ERR_clear_error(); /* the end of the file */
	if (n == 0) {
		log_error("no CRL in %s", file);
		goto out;
	}
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	ret = 0;
out:
	BIO_free(bio);
	return (ret);
}
