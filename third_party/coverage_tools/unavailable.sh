#!/bin/sh
echo "bazel coverage is not available in this offline workspace; use gcov/lcov" >&2
exit 1
