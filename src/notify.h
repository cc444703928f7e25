/*
 * notify: readiness and stopping notices to systemd (sd_notify), sent only
 * when the host runs under systemd ($NOTIFY_SOCKET is set).
 */
#ifndef WEBJOBS_NOTIFY_H
#define WEBJOBS_NOTIFY_H

/* Sends a state string such as "READY=1". Returns 1 when sent, 0 when not
 * under systemd, or a negative errno. */
int notify_systemd(const char *state);

#endif
