/*
 * fuzz_spool: the audit spool file (proxy/audit/spool.c) as the proxy finds it
 * at start-up: any bytes, e.g. a file cut by a crash or edited by hand.
 *
 * Checks (spool.h): spool_scan() stays inside the image, its head and end
 * are record boundaries with SPOOL_HDR <= head <= end <= len, and scanning
 * the valid part again gives the same answer with nothing cut. Then the
 * image is written to a file and opened: spool_open() refuses exactly the
 * images without a header; spool_next() returns exactly the records the
 * scan counted, each within SPOOL_REC_MAX, and the file ends at the scan's
 * end; acknowledging them all leaves the 16-byte header, which opens again
 * empty.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "spool.h"

static char path[64];
static char tmpdir[64];

static void
cleanup(void)
{
	unlink(path);
	rmdir(tmpdir);
}

static void
setup(void)
{
	char dir[] = "/tmp/fuzz_spool.XXXXXX";

	if (path[0] != '\0')
		return;
	log_setup("fuzz_spool", LOG_L_ERROR, LOG_F_TEXT);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(tmpdir, sizeof(tmpdir), "%s", dir);
	snprintf(path, sizeof(path), "%s/spool", dir);
	atexit(cleanup);
}

static void
check_scan(const uint8_t *data, size_t size, struct spool_scan *sc)
{
	struct spool_scan again;
	uint8_t *copy;
	int rc = spool_scan(data, size, sc);

	if (rc != 0) {
		CHECK(sc->bad_header && size > 0);
		return;
	}
	CHECK(!sc->bad_header);
	CHECK(sc->head >= SPOOL_HDR && sc->head <= sc->end);
	CHECK(size == 0 || sc->end <= size);
	CHECK(sc->cut == (size > 0 && sc->end < size));
	/* The valid part alone scans the same, nothing cut. */
	if (size == 0)
		return;
	CHECK((copy = malloc(sc->end)) != NULL);
	memcpy(copy, data, sc->end);
	CHECK(spool_scan(copy, sc->end, &again) == 0);
	CHECK(again.end == sc->end && !again.cut);
	CHECK(again.records == sc->records);
	CHECK(again.head == sc->head && again.bad_head == sc->bad_head);
	free(copy);
}

static void
check_file(
    const uint8_t *data, size_t size, const struct spool_scan *sc, bool bad)
{
	struct spool *sp;
	struct stat st;
	char *buf = malloc(SPOOL_REC_MAX);
	uint64_t next = 0;
	size_t len, n = 0;
	int fd, rc;

	CHECK(buf != NULL);
	unlink(path);
	CHECK((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	close(fd);
	sp = spool_open(path, 1u << 20);
	if (bad || size > (1u << 20) + SPOOL_REC_MAX + SPOOL_REC_HDR) {
		CHECK(sp == NULL || !bad);
		spool_free(sp);
		free(buf);
		return;
	}
	CHECK(sp != NULL);
	CHECK(spool_pending(sp) == sc->records);
	CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == sc->end);
	while ((rc = spool_next(sp, buf, &len, &next)) == 1) {
		CHECK(len > 0 && len <= SPOOL_REC_MAX);
		n++;
	}
	CHECK(rc == 0 && n == sc->records);
	if (n > 0)
		CHECK(spool_ack(sp, next, n) == 0);
	CHECK(spool_pending(sp) == 0 && !spool_unread(sp));
	spool_free(sp);
	CHECK(stat(path, &st) == 0 &&
	    (st.st_size == SPOOL_HDR ||
		(n == 0 && st.st_size == (off_t)sc->end)));
	CHECK((sp = spool_open(path, 1u << 20)) != NULL);
	CHECK(spool_pending(sp) == 0);
	spool_free(sp);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_scan sc;
	uint8_t *copy = malloc(size + 1);

	setup();
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	check_scan(copy, size, &sc);
	check_file(copy, size, &sc, sc.bad_header);
	free(copy);
	return (0);
}
