#!/bin/sh
# Runs a daemon under Valgrind memcheck (tests/soak/soak.js does, with
# IFMON_WRAP=tests/valgrind/memcheck.sh): any memory error or definite or
# indirect leak makes the daemon exit 99, with the report in its log.
#
#   tests/valgrind/memcheck.sh collector/ifmon-collector --config F
here=$(cd "$(dirname "$0")" && pwd)
exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
    --suppressions="$here/memcheck.supp" --num-callers=30 "$@"
