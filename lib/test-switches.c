/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "test-switches.h"
#include "util.h"

#if CCSUP_TEST_SWITCHES
TestSwitches test_switches;

void test_switches_load(void)
{
        const char *fault = getenv("CCSUP_LAYER_FAULT_AFTER");

        test_switches = (TestSwitches){
                .no_clone3 = getenv("CCSUP_TEST_NO_CLONE3") != NULL,
                .no_pidfd_info = getenv("CCSUP_TEST_NO_PIDFD_INFO") != NULL,
                .no_prelaunch = getenv("CCSUP_TEST_NO_PRELAUNCH") != NULL,
                .overlay_legacy = getenv("CCSUP_TEST_OVERLAY_LEGACY") != NULL,
                .cgroup_v1 = streq_ptr(getenv("CCSUP_TEST_CGROUP_MODE"), "v1"),
                .layer_fault_after = fault ? strtoul(fault, NULL, 10) : 0,
        };
}
#endif
