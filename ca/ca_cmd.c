/*
 * ca_cmd: helpers shared by the verbs (see ca_cmd.h).
 */
#include "ca_cmd.h"

#include <stdarg.h>
#include <stdio.h>

#include "ca_util.h"

int
ca_cmd_usage_error(const char *usage, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ca_util_err("%s", msg);
	fputs(usage, stderr);
	return (CA_CMD_USAGE);
}

int
ca_cmd_bad_option(const char *usage, char **argv, int optind_, int opt)
{
	const char *arg = optind_ > 0 ? argv[optind_ - 1] : "?";

	(void)opt; /* argv names the option, long or short, better */
	return (ca_cmd_usage_error(
	    usage, "unknown option or missing argument: %s", arg));
}

void
ca_cmd_json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}
