/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/*
 * Switches for the test suite: code paths that this host would not take by
 * itself. They exist only in a build configured with --enable-test-switches
 * (contrib/check's), read from the environment once by test_switches_load()
 * in main(); in any other build, the Debian package's among them, they are
 * a constant of zeros that the compiler folds away, so neither ccsupd as
 * PID 1 nor anything else reads them.
 *
 *   CCSUP_TEST_NO_CLONE3        clone() + pidfd_open() instead of clone3()
 *   CCSUP_TEST_NO_PIDFD_INFO    no PIDFD_GET_INFO for re-adopted containers
 *   CCSUP_TEST_NO_PRELAUNCH     no launch held ahead of its dependencies
 *   CCSUP_TEST_OVERLAY_LEGACY   overlay mounted with mount(2), as before 6.8
 *   CCSUP_TEST_CGROUP_MODE=v1   --run on a hybrid host uses v1 alone
 *   CCSUP_LAYER_FAULT_AFTER=N   an extracting process SIGKILLs itself
 *                               after N entries
 */
typedef struct TestSwitches {
        bool no_clone3;
        bool no_pidfd_info;
        bool no_prelaunch;
        bool overlay_legacy;
        bool cgroup_v1;
        unsigned long layer_fault_after;
} TestSwitches;

#if CCSUP_TEST_SWITCHES
extern TestSwitches test_switches;
void test_switches_load(void);
#else
static const TestSwitches test_switches;
static inline void test_switches_load(void) {}
#endif
