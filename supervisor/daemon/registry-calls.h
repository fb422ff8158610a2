/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The registry methods of the control bus (CLI.md, the control API):
 *
 *   PullImage(s ref, s platform) -> (s digest)
 *       pulls REF into ccsupd's store with ccsupd's --registry-auth,
 *       --registry-certs and --insecure-registry; platform "" is the host's.
 *   AutoUpdate(as units, b dry_run) -> (a(ssss) results, as messages)
 *       what `ccsupctl auto-update` does, for the named units (none: every
 *       AutoUpdate=registry unit): one (UNIT, OLD-DIGEST, NEW-DIGEST,
 *       updated|rolled-back|unchanged|failed) per unit, the reasons in
 *       messages.
 *
 * Each call runs in a helper process forked from ccsupd (the loop never
 * waits: it reads the helper's pipe and watches its pidfd); the auto-update
 * helper drives the units over the daemon's own control socket, as
 * `ccsupctl auto-update` would. The reply is sent when the helper ends.
 * When the caller's connection closes first, its helper is killed (a cut
 * pull is resumed by the next one).
 */

#include <ev.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

typedef struct RegistryCall RegistryCall;

/* 1: the call is taken and answered later; -errno with error set: refused. */
int registry_call_pull(RegistryCall **list, struct ev_loop *loop, const char *state_dir, const char *ref,
                       const char *platform, sd_bus_message *call, sd_bus_error *error);
int registry_call_auto_update(RegistryCall **list, struct ev_loop *loop, const char *socket_path,
                              const char *state_dir, char *const *units, bool dry_run, sd_bus_message *call,
                              sd_bus_error *error);

/* bus (a client's connection) is closing: its helpers are killed and reaped. */
void registry_calls_disconnected(RegistryCall **list, sd_bus *bus);
/* ccsupd goes away: every helper is killed and reaped, its call answered with an error. */
void registry_calls_abort(RegistryCall **list);
