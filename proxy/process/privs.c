/*
 * privs: see privs.h.
 */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

int
privs_drop(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		if (user != NULL)
			log_warn("not root: staying uid %ld, ignoring user %s",
			    (long)getuid(), user);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
			log_errno("PR_SET_NO_NEW_PRIVS");
			return (-1);
		}
		return (0);
	}
	if (user == NULL) {
		log_error(
		    "refusing to run as root: set \"user:\" in the config");
		return (-1);
	}
	if ((pw = getpwnam(user)) == NULL) {
		log_error("unknown user %s", user);
		return (-1);
	}
	if (pw->pw_uid == 0) {
		log_error("user %s is root", user);
		return (-1);
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_errno("cannot switch to user %s", user);
		return (-1);
	}
	if (setuid(0) == 0) {
		log_error("could regain root after dropping it");
		return (-1);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_errno("PR_SET_NO_NEW_PRIVS");
		return (-1);
	}
	return (0);
}
