#!/usr/bin/env bats
@test "stub" { true; }
