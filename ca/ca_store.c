/*
 * ca_store: see ca_store.h.
 */
#include "ca_store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca_util.h"

#define CA_STORE_READ_MAX (16 * 1024 * 1024)

struct ca_store {
	char *dir;
	int lock_fd;
};

int
ca_store_check_private(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		ca_util_err("%s: %s", path, strerror(errno));
		return (-1);
	}
	if (S_ISLNK(st.st_mode)) {
		ca_util_err("%s is a symlink; refusing to use it", path);
		return (-1);
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		ca_util_err("%s is not a regular file or directory", path);
		return (-1);
	}
	if (st.st_uid != geteuid()) {
		ca_util_err("%s is owned by uid %u, not by us", path,
		    (unsigned)st.st_uid);
		return (-1);
	}
	if ((st.st_mode & 077) != 0) {
		ca_util_err("%s is accessible by group or others (mode %04o); "
			    "chmod %s it",
		    path, (unsigned)(st.st_mode & 07777),
		    S_ISDIR(st.st_mode) ? "700" : "600");
		return (-1);
	}
	return (0);
}

int
ca_store_exists(const char *path)
{
	struct stat st;

	return (lstat(path, &st) == 0);
}

struct ca_store *
ca_store_open(const char *dir, int flags)
{
	struct ca_store *s = NULL;

	if ((flags & CA_STORE_CREATE) && !ca_store_exists(dir) &&
	    mkdir(dir, 0700) == -1) {
		ca_util_err("mkdir %s: %s", dir, strerror(errno));
		goto err;
	}
	if (ca_store_check_private(dir) != 0)
		goto err;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->dir = strdup(dir)) == NULL) {
		ca_util_err("out of memory");
		goto err;
	}
	s->lock_fd = -1;
	if ((flags & CA_STORE_LOCK) && ca_store_lock(s) != 0)
		goto err;
	return (s);
err:
	ca_store_free(s);
	return (NULL);
}

int
ca_store_lock(struct ca_store *s)
{
	char lock[PATH_MAX];

	if (s->lock_fd != -1)
		return (0);
	if (ca_store_path(s, "lock", lock, sizeof(lock)) != 0)
		return (-1);
	if ((s->lock_fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		 0600)) == -1) {
		ca_util_err("open %s: %s", lock, strerror(errno));
		return (-1);
	}
	while (flock(s->lock_fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			ca_util_err("lock %s: %s", lock, strerror(errno));
			ca_store_unlock(s);
			return (-1);
		}
	}
	return (0);
}

void
ca_store_unlock(struct ca_store *s)
{
	if (s->lock_fd != -1)
		close(s->lock_fd);
	s->lock_fd = -1;
}

void
ca_store_free(struct ca_store *s)
{
	if (s == NULL)
		return;
	if (s->lock_fd != -1)
		close(s->lock_fd);
	free(s->dir);
	free(s);
}

const char *
ca_store_dir(const struct ca_store *s)
{
	return (s->dir);
}

int
ca_store_path(const struct ca_store *s, const char *file, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", s->dir, file);

	if (n < 0 || (size_t)n >= len) {
		ca_util_err("path too long: %s/%s", s->dir, file);
		return (-1);
	}
	return (0);
}

BIO *
ca_store_read_bio(const char *path, int nofollow)
{
	BIO *b = NULL;
	char buf[8192];
	ssize_t n;
	size_t total = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	if (fd == -1) {
		ca_util_err("open %s: %s", path, strerror(errno));
		return (NULL);
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL) {
		ca_util_err_ssl("BIO_new");
		goto err;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			ca_util_err("read %s: %s", path, strerror(errno));
			goto err;
		}
		if ((total += (size_t)n) > CA_STORE_READ_MAX) {
			ca_util_err("%s: file too large", path);
			goto err;
		}
		if (BIO_write(b, buf, (int)n) != (int)n) {
			ca_util_err_ssl("BIO_write");
			goto err;
		}
	}
	close(fd);
	return (b);
err:
	close(fd);
	BIO_free(b);
	return (NULL);
}

/* Write all of BUF to FD; returns 0 or -1 with errno set. */
static int
ca_store_write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return (-1);
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}

/* fsync the directory holding PATH so a rename in it is durable. */
static int
ca_store_sync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc;

	snprintf(copy, sizeof(copy), "%s", path);
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return (-1);
	rc = fsync(fd);
	close(fd);
	return (rc);
}

int
ca_store_write_atomic(
    const char *path, const void *buf, size_t len, mode_t mode)
{
	char copy[PATH_MAX], tmp[PATH_MAX];
	const char *dir;
	int fd = -1, n;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir,
	    strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		ca_util_err("path too long: %s", path);
		return (-1);
	}
	if ((fd = mkstemp(tmp)) == -1) {
		ca_util_err(
		    "create temporary file in %s: %s", dir, strerror(errno));
		return (-1);
	}
	if (fchmod(fd, mode) == -1 || ca_store_write_all(fd, buf, len) != 0 ||
	    fsync(fd) == -1) {
		ca_util_err("write %s: %s", tmp, strerror(errno));
		goto err;
	}
	if (close(fd) == -1) {
		fd = -1;
		ca_util_err("close %s: %s", tmp, strerror(errno));
		goto err;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		ca_util_err("rename %s to %s: %s", tmp, path, strerror(errno));
		goto err;
	}
	if (ca_store_sync_dir(path) == -1) {
		ca_util_err("fsync directory of %s: %s", path, strerror(errno));
		return (-1);
	}
	return (0);
err:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return (-1);
}

int
ca_store_write_bio(const char *path, BIO *b, mode_t mode)
{
	char *data = NULL;
	long len = BIO_get_mem_data(b, &data);

	if (len < 0) {
		ca_util_err("write %s: no data", path);
		return (-1);
	}
	return (ca_store_write_atomic(path, data, (size_t)len, mode));
}

int
ca_store_mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len;
	int n;

	n = snprintf(buf, sizeof(buf), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(buf) || n == 0) {
		ca_util_err("bad directory: %s", path);
		return (-1);
	}
	len = (size_t)n;
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) == -1 && errno != EEXIST) {
			ca_util_err("mkdir %s: %s", buf, strerror(errno));
			return (-1);
		}
		if (i < len)
			buf[i] = '/';
	}
	return (0);
}
